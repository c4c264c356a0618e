// The training loop: epochs of AdamW steps over a dataset with warmup + cosine learning rate,
// evaluation after every epoch, atomic checkpoints and exact resume.
//
// RUN_DIR holds
//   last.safetensors   model + AdamW moments + progress (written every epoch and on stop), loadable
//                      by load_checkpoint like any model
//   best.safetensors   the model with the best test accuracy so far
//   ema.safetensors    with model_ema_decay: the exponential moving average of the weights
//   metrics.csv        one row per epoch
// Resuming restores the parameters, the optimizer state and the position in the schedule; the data
// order and augmentation are pure functions of (seed, epoch, batch), so a resumed run ends with the
// same weights as an uninterrupted one.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "vit/data/dataset.hpp"
#include "vit/distributed/communicator.hpp"
#include "vit/model/model.hpp"
#include "vit/train/trainer.hpp"

namespace vit {

struct FitConfig {
    int epochs = 30;
    int batch = 128;
    float lr = 1e-3f;
    float min_lr = 0.0f;
    int warmup_epochs = -1;  // -1: max(1, epochs / 10), as the reference recipe
    OptimConfig optim;       // weight decay, label smoothing, clipping, decay exclusions
    Augment augment;
    // timm's --model-ema-decay: after every step ema = decay * ema + (1 - decay) * w (0: no EMA). The
    // average is evaluated with the live weights and kept in last.safetensors' training state for resume.
    float model_ema_decay = 0.0f;
    uint64_t seed = 0;
    int aug_repeats = 1;     // timm's --aug-repeats (LoaderOptions::repeats); 1: off
    int workers = 2;         // data loader threads
    // The evaluation's batch; 0: the training batch (timm's validation batch default), which keeps the
    // memory of evaluating 224-pixel photos near that of training on them.
    int eval_batch = 0;
    // Evaluate on the test split after every eval_every-th epoch and after the last (1: every epoch).
    // Evaluation does not touch the training state, so this changes what is measured, not the run;
    // it saves the time of the skipped evaluations (a fifth of a bf16 cifar-t epoch with an EMA).
    int eval_every = 1;
    std::string run_dir;
    bool resume = false;
    // The recipe these settings came from (empty: none): its name, written in metrics.csv's last
    // column (so no commas, quotes or line breaks), and its settings as a JSON object, kept with the
    // name in the training state.
    std::string recipe, recipe_settings;

    // Throws FieldError for the first field out of range: epochs, batch and lr positive,
    // optim.label_smoothing and model_ema_decay in [0, 1), workers and eval_every at least 1,
    // aug_repeats in [1, 64]. fit() calls it first.
    void validate() const;
};

struct StepProgress {
    int epoch = 0, epochs = 0;
    size_t step = 0, steps = 0;  // within the epoch, 1-based step just done
    float loss = 0, lr = 0;
    double images_per_s = 0, eta_s = 0;
};

struct EpochMetrics {
    int epoch = 0;  // 1-based
    double train_loss = 0, train_acc = 0, test_loss = 0, test_acc = 0, lr = 0;
    double seconds = 0, images_per_s = 0, data_wait_s = 0;
    double data_busy_s = 0;  // the loader threads' time building the epoch's batches, summed over threads
    // Data-parallel runs, summed over the epoch's steps (StepResult): waiting for the slowest process,
    // and the allreduce of the gradients.
    double sync_wait_s = 0, allreduce_s = 0;
    double ema_test_loss = 0, ema_test_acc = 0;  // with an EMA
    // Training images of a streamed dataset replaced because their file could not be read (all
    // processes together).
    size_t skipped_images = 0;
    bool evaluated = false;  // the test figures above were measured this epoch (FitConfig::eval_every)
};

struct FitCallbacks {
    std::function<void(const StepProgress&)> on_step;
    std::function<void(const EpochMetrics&)> on_epoch;
    std::function<void(const std::string& path)> on_checkpoint;
    std::function<bool()> stop_requested;  // polled after every step (SIGINT / SIGTERM)
    // A training image skipped (LoaderOptions::warn): called from the loader's threads, one at a time.
    std::function<void(const std::string&)> on_warning;
};

enum class FitOutcome { Completed, Stopped };

// Throws IoError (run dir not writable), ConfigError (resume without a checkpoint, or with one from a
// different batch size, seed or EMA decay), ShapeError (checkpoint shapes do not match the model).
FitOutcome fit(Model& model, const DataSplit& data, const FitConfig& cfg, const FitCallbacks& cb = {});

// Data-parallel training: every process of comm calls fit with the same model, data and settings.
// Each computes its slice (batch_slice) of every global batch of cfg.batch images, the gradients are
// averaged over the processes, and all take the same AdamW step, so the run ends with the weights one
// process would reach (up to the order of float sums). Rank 0 alone reads and writes the run folder and
// calls on_step, on_epoch and on_checkpoint; it also evaluates, while the others go on. stop_requested
// is polled on every process, and all stop at the same step when any of them asks. A resumed run may
// use another number of processes: the state counts global batches.
FitOutcome fit(Model& model, const DataSplit& data, const FitConfig& cfg, const FitCallbacks& cb, Communicator& comm);

}  // namespace vit
