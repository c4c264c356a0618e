// Saliency maps: one value per patch saying how much it matters to a class, by every method `vit
// explain` offers, computed batch by batch with the networks built once.
//
// Methods (cost per image, F = one forward pass, B = one backward pass, P = patches):
//   Rollout              attention rollout (attention_maps.hpp)                                       F
//   GradRollout          gradient rollout (attention_maps.hpp)                                    F + B
//   Chefer2021           Chefer et al. ICCV 2021's relevance rule (attention_maps.hpp)            F + B
//   Chefer2021Lrp        Chefer et al. CVPR 2021: the LRP relevance of every attention map (their
//                        code's rules, src/explain/chefer_lrp.hpp) times its gradient, positive part, mean
//                        of the heads, rolled out as Chefer2021 (R <- R + Ā R)  F + B + LRP pass (~2F)
//   AttnLrp              Achtibat et al. ICML 2024: AttnLRP's rules in one modified backward pass,
//                        the relevance summed per patch token at the input embeddings     F + B
//   LastAttention        the last block's class-token attention, mean of heads or one (DINO)  F
//   Occlusion            p(c | x) - p(c | x with patch j replaced by the baseline), per j  P·F + F
//   Rise                 Petsiuk et al. 2018: Σ_k p(c | x ⊙ M_k + b ⊙ (1 - M_k)) M_k / (S·p) over S
//                        random masks M_k (a coarse grid of cells kept with probability p,
//                        bilinearly upsampled and shifted by a random fraction of a cell), each
//                        averaged over every patch                                          S·F
//   GradRolloutOcclusion gradient rollout x occlusion, each scaled to [0, 1] per image
//                        (min-max) before the product: a patch must matter to both      (P+2)·F + B
// The product keeps the spatial sharpness of occlusion (one patch at a time, exact for that patch)
// while gradient rollout suppresses patches whose removal only changes the prediction through
// off-manifold artefacts of the replacement colour, which attention never routed to the class.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "vit/explain/attention_maps.hpp"
#include "vit/model/model.hpp"
#include "vit/explain/patch_baseline.hpp"
#include "vit/util/tensor.hpp"

namespace vit {

enum class SaliencyMethod {
    Rollout,
    GradRollout,
    Chefer2021,
    Chefer2021Lrp,
    AttnLrp,
    LastAttention,
    Occlusion,
    GradRolloutOcclusion,
    Rise
};

struct RiseOptions {
    int samples = 500;   // masks per image (the paper used 4000 for ResNet-50; 500 keeps most of the map)
    int cells = 0;       // mask grid cells per side; 0: half the patch grid's side, rounded up (7 at 224/16)
    float keep = 0.5f;   // probability that a cell is kept
    uint64_t seed = 0;   // of the masks, the same for every image
};

// One map: the method and, for the rollouts and RISE, their options (gradient rollout's also in the
// product).
struct SaliencySpec {
    SaliencyMethod method = SaliencyMethod::Rollout;
    RolloutOptions rollout;
    RiseOptions rise;
    int head = -1;  // LastAttention: one head's map; -1: the mean of the heads
};

// The method's name on the command line and in files: rollout, grad-rollout, chefer2021,
// chefer2021-lrp, attnlrp, last-attention, occlusion, grad-rollout-x-occlusion, rise.
const char* to_string(SaliencyMethod method);
// Those names, in that order.
std::vector<std::string> saliency_method_names();
SaliencyMethod parse_saliency_method(const std::string& name);  // ConfigError listing the names

// Whether the method's map is built block by block (Rollout, GradRollout, Chefer2021), so that the
// map after each block exists (per_block_maps).
bool builds_per_block(SaliencyMethod method);
// The cumulative maps after blocks 1..depth, (N, patches) each, of spec's method over a capture (with
// its gradients for GradRollout and Chefer2021). ConfigError unless builds_per_block(spec.method).
std::vector<Tensor> per_block_maps(const AttentionCapture& capture, const SaliencySpec& spec,
                                   const PrefixTokens& prefix);

// Whether the method explains a given class (and so needs a classifier): all but Rollout and
// LastAttention.
bool needs_class(SaliencyMethod method);
// Whether it needs a backward pass (f32 only): GradRollout, Chefer2021, Chefer2021Lrp, AttnLrp and
// GradRolloutOcclusion. The LRP methods are not defined for attention-pool models (ConfigError).
bool uses_gradients(SaliencyMethod method);

// A short name for tables and panels: "rollout mean d0", "gradient rollout d0.9", "chefer2021", ...
std::string describe(const SaliencySpec& spec);

class SaliencyMaps {
public:
    // Every spec is computed for each batch, sharing one attention capture (with gradients when a
    // method needs them) and one occlusion pass. baseline: what an occluded patch becomes. dtype: of
    // the forward passes; methods with gradients need F32 (ConfigError otherwise).
    SaliencyMaps(const Model& model, int batch, std::vector<SaliencySpec> specs, Baseline baseline = Baseline::Zero,
                 Dtype dtype = Dtype::F32);
    ~SaliencyMaps();
    SaliencyMaps(const SaliencyMaps&) = delete;
    SaliencyMaps& operator=(const SaliencyMaps&) = delete;

    // x (n, C, H, W) normalised, n <= batch; classes: the class to explain per image (ignored by the
    // class-free methods; may then be empty). One (n, P) map per spec, in the specs' order.
    std::vector<Tensor> compute(const float* x, int n, const std::vector<int>& classes);
    // The attention (and gradients) of the last compute(); empty when no spec needed them.
    const AttentionCapture& capture() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// RISE's masks (samples, H, W) at the model's input size, values in [0, 1], from the options' seed.
// Throws ConfigError for samples < 1 or keep outside (0, 1).
Tensor rise_masks(const ViTConfig& cfg, const RiseOptions& opts);

// Each row of maps (N, P) scaled to [0, 1] by its minimum and maximum (a constant row becomes 0).
Tensor minmax_rows(const Tensor& maps);

}  // namespace vit
