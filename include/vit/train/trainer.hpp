// Training: loss, optimizer, learning-rate schedule and the Trainer that runs one step
// (forward, loss, backward, gradient clipping, AdamW) on a batch.
//
//   vit::Model model(cfg, pre, labels, seed);
//   vit::Trainer trainer(model, 128, vit::OptimConfig{});
//   vit::Schedule sched{warmup, total, 1e-3f};
//   for (step...) { auto r = trainer.step(x, y, n, sched.lr(step)); }
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "vit/util/dtype.hpp"
#include "vit/distributed/communicator.hpp"
#include "vit/model/model.hpp"
#include "vit/model/regularization.hpp"
#include "vit/model/trainable.hpp"

namespace vit {

struct OptimConfig {
    float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
    float weight_decay = 0.05f;
    // timm's no_weight_decay: 1-D parameters (biases, LayerNorm), cls_token and pos_embed are not decayed.
    bool exclude_from_decay = false;
    float clip_grad_norm = 0.0f;  // 0: no clipping
    float label_smoothing = 0.0f;
    Regularization regularization;
    // The number format of the blocks' matrix products: BF16 is mixed precision (NetworkOptions::dtype);
    // the parameters, gradients and this optimizer's state stay f32 either way.
    Dtype dtype = Dtype::F32;
    // timm's layer-wise lr decay (param_groups_layer_decay): a parameter of layer id l (ParamView::
    // decay_layer) of a model whose largest id is L learns at lr * layer_decay^(L - l), its weight decay
    // scaled alike (AdamW decays by lr * weight_decay). In (0, 1]; 1: off.
    float layer_decay = 1.0f;
    Trainable trainable;  // what learns: all, the head alone, or all but the first blocks
};

// Linear warmup from 0 (step 0) to base_lr over warmup_steps, then cosine decay to min_lr at total_steps,
// evaluated per step.
struct Schedule {
    int64_t warmup_steps = 0;
    int64_t total_steps = 1;
    float base_lr = 1e-3f;
    float min_lr = 0.0f;
    float lr(int64_t step) const;
};

// Softmax cross-entropy against (1 - s) one-hot + s / K targets, averaged over n rows:
// loss = -(1/n) Σ_i Σ_k q_ik log p_ik, dlogits = (p - q) / n. Throws ConfigError for a label out of range.
float cross_entropy(const float* logits, const int* labels, int n, int classes, float smoothing, float* dlogits);

// Softmax cross-entropy against soft targets t (n, classes), e.g. mixup's (timm's
// SoftTargetCrossEntropy): loss = -(1/n) Σ_i Σ_k t_ik log p_ik, dlogits = (p - t) / n, which holds
// whenever each row of t sums to 1.
float soft_cross_entropy(const float* logits, const float* targets, int n, int classes, float* dlogits);

// Scales grads so that their global L2 norm is at most max_norm; returns the norm before clipping.
float clip_grad_norm(Parameters& grads, float max_norm);

// AdamW with PyTorch's semantics: p -= lr * wd * p (decoupled), then the bias-corrected Adam update
// p -= (lr / (1 - β1^t)) * m / (sqrt(v) / sqrt(1 - β2^t) + eps).
// One parameter tensor as the optimizer treats it (timm's param group of it).
struct ParamGroup {
    bool trainable = true;
    float lr_scale = 1.0f;      // layer-wise decay
    float weight_decay = 0.0f;  // the group's decay rate (0: exempt)
};

// AdamW (PyTorch's, decoupled weight decay) over the trainable parameters only: frozen ones have no
// moments and are never touched.
class AdamW {
public:
    // Throws FieldError for layer_decay outside (0, 1] or a Trainable that does not fit the model.
    AdamW(const Parameters& params, const OptimConfig& cfg);
    void step(Parameters& params, const Parameters& grads, float lr);

    int64_t steps() const { return t_; }
    ParamGroup group(const ParamView& v) const;
    // State for checkpoints: the step count and the two moment buffers, which hold the trainable
    // parameters one after the other; exp_avg(v) / exp_avg_sq(v) point at parameter v's (null if frozen).
    std::vector<float>& m() { return m_; }
    std::vector<float>& v() { return v_; }
    float* exp_avg(const ParamView& p);
    float* exp_avg_sq(const ParamView& p);
    void set_steps(int64_t t) { t_ = t; }

private:
    // A run of at most kChunk consecutive elements of one trainable tensor: where it lies in the
    // parameters and in the moments, and its group's factors. Chunks let the update spread over the
    // threads evenly whatever the tensors' sizes.
    struct Chunk {
        size_t param = 0, state = 0, n = 0;
        float lr_scale = 1.0f, decay = 0.0f;  // decay: 1 when weight decay applies
    };
    OptimConfig cfg_;
    std::vector<Chunk> chunks_;
    std::vector<size_t> state_of_;  // per view (in views() order): offset in m_/v_, or kNoParam when frozen
    std::vector<ParamView> views_;
    int top_layer_ = 0;  // the largest ParamView::decay_layer: the head's, at lr_scale 1
    std::vector<float> m_, v_;
    int64_t t_ = 0;
};

struct StepResult {
    float loss = 0;
    float grad_norm = 0;
    int correct = 0;  // arg-max predictions equal to the label
    // Data-parallel steps: seconds spent waiting for the slowest process to finish its gradients, then
    // in the allreduce of the gradients itself.
    double wait_s = 0, reduce_s = 0;
};

// Data-parallel training: the processes that share every step, and which images of the global batch
// this one computes. Each process computes the gradient of its images' share of the global mean loss,
// (n / N) * (its own mean), the allreduce sums them into the gradient of the mean over all N images,
// and every process then takes the same clipped AdamW step from the same gradient.
struct DataParallel {
    Communicator* comm = nullptr;  // null: this process alone
    BatchSlice slice;              // total 0: the whole batch
};

class Trainer {
public:
    // batch: the images this process computes per step (dp.slice.count when the batch is shared).
    Trainer(Model& model, int batch, const OptimConfig& cfg, const DataParallel& dp = {});
    ~Trainer();

    // Forward and backward on n <= batch images: gradients of the mean loss in grads().
    StepResult compute_gradients(const float* x, const int* labels, int n);
    // The same against soft targets (n, classes) when targets is not null (soft_cross_entropy, and no
    // further label smoothing: the targets carry it); labels then only count the correct predictions.
    StepResult compute_gradients(const float* x, const int* labels, const float* targets, int n);
    // compute_gradients, clipping, then one AdamW step at learning rate lr. Data-parallel: n must be
    // the slice's count; the gradients are averaged over the global batch before clipping, and the
    // result's loss and correct count are those of the global batch.
    StepResult step(const float* x, const int* labels, int n, float lr);
    StepResult step(const float* x, const int* labels, const float* targets, int n, float lr);

    // Seeds the random choices (dropout and drop-path masks) of the next step; fit derives it from (seed, step)
    // so that a resumed run repeats them.
    void set_noise_seed(uint64_t seed);

    const Parameters& grads() const;
    AdamW& optimizer();
    int batch() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace vit
