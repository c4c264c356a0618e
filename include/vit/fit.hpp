// The training loop: epochs of AdamW steps over a dataset with warmup + cosine learning rate,
// evaluation after every epoch, atomic checkpoints and exact resume.
//
// RUN_DIR holds
//   last.safetensors   model + AdamW moments + progress (written every epoch and on stop), loadable
//                      by load_checkpoint like any model
//   best.safetensors   the model with the best test accuracy so far
//   metrics.csv        one row per epoch
// Resuming restores the parameters, the optimizer state and the position in the schedule; the data
// order and augmentation are pure functions of (seed, epoch, batch), so a resumed run ends with the
// same weights as an uninterrupted one.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "vit/data.hpp"
#include "vit/model.hpp"
#include "vit/train.hpp"

namespace vit {

struct FitConfig {
    int epochs = 30;
    int batch = 128;
    float lr = 1e-3f;
    float min_lr = 0.0f;
    int warmup_epochs = -1;  // -1: max(1, epochs / 10), as the reference recipe
    OptimConfig optim;       // weight decay, label smoothing, clipping, decay exclusions
    Augment augment;
    uint64_t seed = 0;
    int workers = 2;         // data loader threads
    int eval_batch = 256;
    std::string run_dir;
    bool resume = false;
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
};

struct FitCallbacks {
    std::function<void(const StepProgress&)> on_step;
    std::function<void(const EpochMetrics&)> on_epoch;
    std::function<void(const std::string& path)> on_checkpoint;
    std::function<bool()> stop_requested;  // polled after every step (SIGINT / SIGTERM)
};

enum class FitOutcome { Completed, Stopped };

// Throws IoError (run dir not writable), ConfigError (resume without a checkpoint, or with one from a
// different batch size or seed), ShapeError (checkpoint shapes do not match the model).
FitOutcome fit(Model& model, const DataSplit& data, const FitConfig& cfg, const FitCallbacks& cb = {});

}  // namespace vit
