#include "model/network/network.hpp"

#include "model/network/buffers.hpp"
#include "vit/util/error.hpp"

namespace vit {

// As the f32 block, with the four Linear layers in int8: their inputs quantised per token (norm1 and
// norm2 by the LayerNorm, the attention output here, the hidden layer by fc1), the attention itself
// in bf16 as in a bf16 network (qkv and its output bf16, softmax in f32) where this CPU has bf16
// products, else in f32 (cpu_support.hpp).
void Network::int8_block(const Parameters& p, int i, float* x_in, float* x_mid, float* x_out, float* att) {
    // Inference only: one residual slot (x_in, x_mid and x_out are the same rows) and no dropout; with
    // LayerScale the branches go through branch_ and add_branch.
    const BlockParams& o = off_.blocks[size_t(i)];
    const Int8Block& w = int8_weights_[size_t(i)];
    ln_to_u8_.forward(x_in, at(p, o.norm1_w), at(p, o.norm1_b), xq_);
    if (modes_.precision.attention == Dtype::BF16) {
        qkv8_.forward(xq_, w.qkv, acc_.data(), qkv16_.data());
        attn_.forward(qkv16_.data(), att, ctx16_.data());
        layers::quantize_rows(ctx16_.data(), M_, D_, xq_);
    } else {
        qkv8_.forward(xq_, w.qkv, acc_.data(), qkv_.data());
        attn_.forward(qkv_.data(), att, ctx_.data());
        layers::quantize_rows(ctx_.data(), M_, D_, xq_);
    }
    if (modes_.branched) {
        proj8_.forward(xq_, w.proj, acc_.data(), branch(0));
        add_branch(x_in, nullptr, at(p, o.ls1), branch(0), x_mid);
    } else {
        proj8_.forward(xq_, w.proj, acc_.data(), x_mid);
    }
    ln_to_u8_.forward(x_mid, at(p, o.norm2_w), at(p, o.norm2_b), xq_);
    fc1_8_.forward(xq_, w.fc1, acc_.data(), hq_);
    if (modes_.branched) {
        fc2_8_.forward(hq_, w.fc2, acc_.data(), branch(0));
        add_branch(x_mid, nullptr, at(p, o.ls2), branch(0), x_out);
    } else {
        fc2_8_.forward(hq_, w.fc2, acc_.data(), x_out);
    }
}

}  // namespace vit
