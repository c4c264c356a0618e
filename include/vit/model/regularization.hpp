#pragma once

namespace vit {

// Training-time noise, each off at 0 and named after timm's VisionTransformer arguments. Masks are a
// function of the seed given to Trainer::set_noise_seed, so a resumed run repeats them; evaluation and
// inference never apply them.
struct Regularization {
    // Stochastic depth (drop_path_rate): the last block drops each image's attention and MLP branches
    // with this probability, earlier blocks linearly less, block 0 never.
    float drop_path = 0.0f;
    // The ViT paper's dropout (timm's pos_drop_rate and proj_drop_rate together): on the tokens after
    // the position embedding, after the attention's output projection, after the MLP's GELU and after
    // its second layer.
    float dropout = 0.0f;
    float attn_drop = 0.0f;  // attn_drop_rate: on the attention probabilities
    float head_drop = 0.0f;  // drop_rate: on the pooled features before the classifier head
    // Throws ConfigError unless every rate is in [0, 1).
    void validate() const;
};

}  // namespace vit
