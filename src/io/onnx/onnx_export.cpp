// The ViT as an ONNX graph. The maths follows network.cpp (and timm) step by step; tensors stay
// (batch, tokens, width) from the patch embedding to the pooling. Linear layers are MatMul against a
// Transpose of timm's (out, in) weight, so that the initializers keep timm's names and shapes (ONNX
// Runtime folds the Transpose once, when it loads the file).
#include "vit/io/onnx_export.hpp"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include <climits>
#include <cmath>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "vit/util/atomic_file.hpp"
#include "io/onnx/graph_builder.hpp"
#include "vit/io/checkpoint.hpp"
#include "vit/util/error.hpp"
#include "model/layers/int8_linear.hpp"
#include "vit/io/checkpoint.hpp"

namespace vit {

namespace {

using onnx_graph::Attr;
using onnx_graph::GraphBuilder;

constexpr int kOpset = 17;  // the newest opset of Debian's libonnx 1.12 (LayerNormalization: 17)
constexpr const char* kBatch = "batch";  // the symbolic batch dimension
constexpr float kPi = 3.14159265358979f;

class VitGraph {
public:
    // int8_levels 0: every Linear in f32; else the blocks' Linear layers in int8 on that weight grid.
    VitGraph(const Model& model, GraphBuilder& gb, int int8_levels)
        : m_(model), c_(model.config()), g_(gb), int8_levels_(int8_levels) {
        for (const ParamView& v : model.params().views()) by_offset_.emplace(v.offset, &v);
    }

    // The whole graph: input, embedding, blocks, pooling, head, outputs.
    void build(bool attention) {
        const int64_t C = c_.in_chans, T = c_.num_tokens(), H = c_.num_heads;
        g_.input("pixel_values", {-1, C, c_.img_h, c_.img_w}, kBatch);
        std::string x = embed("pixel_values");
        for (int i = 0; i < c_.depth; ++i) x = block(x, i, attention);
        x = pool(x);
        const std::string out = c_.num_classes > 0 ? "logits" : "features";
        g_.op_into("Identity", {head(x)}, out);
        g_.output(out, {-1, c_.num_outputs()}, kBatch);
        if (attention)
            for (int i = 0; i < c_.depth; ++i) g_.output("attn." + std::to_string(i), {-1, H, T, T}, kBatch);
    }

    // Parameters not used by the graph: none, if the graph covers the configuration (checked by tests).
    std::vector<std::string> unused() const {
        std::vector<std::string> names;
        for (const auto& kv : by_offset_)
            if (!used_.count(kv.first)) names.push_back(kv.second->name);
        return names;
    }

private:
    // A parameter by its slot, added as an initializer on first use; "" where the model has none.
    std::string param(size_t slot) {
        if (slot == kNoParam) return "";
        const ParamView& v = *by_offset_.at(slot);
        if (used_.insert(slot).second) g_.weight(v.name, v.shape, m_.params().data() + v.offset);
        return v.name;
    }

    // y = x Wᵀ + b, for x of any rank (MatMul broadcasts over the leading axes).
    std::string linear(const std::string& x, size_t w, size_t b, const std::string& name) {
        const std::string wt = g_.op("Transpose", {param(w)}, param(w) + ".T", {Attr::list("perm", {1, 0})});
        std::string y = g_.op("MatMul", {x, wt}, name);
        if (b != kNoParam) y = g_.op("Add", {y, param(b)}, name + ".out");
        return y;
    }

    // A block's Linear layer: in f32, or quantised as Int8Linear computes it (onnx_export.hpp).
    std::string block_linear(const std::string& x, size_t w, size_t b, const std::string& name) {
        if (int8_levels_ == 0) return linear(x, w, b, name);
        const ParamView& v = *by_offset_.at(w);
        used_.insert(w);  // present through its quantised form
        const int64_t out = v.shape[0], in = v.shape[1];
        const layers::QuantizedWeights qw =
            layers::quantize_weights(m_.params().data() + v.offset, out, in, int8_levels_);
        std::vector<std::int8_t> qt(qw.q.size());  // (out, in) -> (in, out), MatMulInteger's right operand
        for (int64_t c = 0; c < out; ++c)
            for (int64_t k = 0; k < in; ++k) qt[size_t(k * out + c)] = qw.q[size_t(c * in + k)];
        g_.weight(v.name + "_quantized", {in, out}, qt.data());
        g_.weight(v.name + "_scale", {out}, qw.scale.data());
        g_.weight(v.name + "_sum", {out}, qw.sum.data());

        const std::vector<Attr> last_axis{Attr::list("axes", {-1}), Attr::integer("keepdims", 1)};
        const std::string lo = g_.op("ReduceMin", {x}, name + ".min", last_axis);
        const std::string hi = g_.op("ReduceMax", {x}, name + ".max", last_axis);
        const std::string s = g_.op("Div", {g_.op("Sub", {hi, lo}, name + ".range"), g_.scalar(255.0f)}, name + ".step");
        // 1 / s, and 0 for a constant row (s = 0), whose values all quantise to 0 and come back exactly.
        const std::string inv = g_.op("Where", {g_.op("Greater", {s, g_.scalar(0.0f)}, name + ".varies"),
                                                g_.op("Div", {g_.scalar(1.0f), s}, name + ".inv_step"), g_.scalar(0.0f)},
                                      name + ".inv");
        std::string q = g_.op("Mul", {g_.op("Sub", {x, lo}, name + ".shifted"), inv}, name + ".levels");
        q = g_.op("Floor", {g_.op("Add", {g_.op("Min", {q, g_.scalar(255.0f)}, name + ".clip"), g_.scalar(0.5f)},
                                  name + ".half")},
                  name + ".round");
        q = g_.op("Cast", {q}, name + ".u8", {Attr::integer("to", onnx::TensorProto::UINT8)});
        const std::string acc = g_.op("MatMulInteger", {q, v.name + "_quantized"}, name + ".acc");
        const std::string accf = g_.op("Cast", {acc}, name + ".accf", {Attr::integer("to", onnx::TensorProto::FLOAT)});
        const std::string prod = g_.op("Mul", {s, g_.op("Mul", {v.name + "_scale", accf}, name + ".scaled")}, name + ".prod");
        std::string offset = g_.op("Mul", {lo, v.name + "_sum"}, name + ".offset");
        if (b != kNoParam) offset = g_.op("Add", {offset, param(b)}, name + ".bias");
        return g_.op("Add", {prod, offset}, name + ".out");
    }

    std::string layer_norm(const std::string& x, size_t w, size_t b, const std::string& name) {
        return g_.op("LayerNormalization", {x, param(w), param(b)}, name,
                     {Attr::integer("axis", -1), Attr::real("epsilon", c_.ln_eps)});
    }

    // The MLP's activation, element-wise. Opset 17 has no Gelu operator, so the exact form is written
    // out as 0.5·x·(1 + erf(x/√2)) in the order PyTorch exports it, which ONNX Runtime recognises and
    // fuses back into one Gelu kernel.
    std::string activation(const std::string& x, const std::string& name) {
        switch (c_.act) {
        case Activation::Gelu: {
            const std::string e = g_.op("Erf", {g_.op("Div", {x, g_.scalar(std::sqrt(2.0f))}, name + ".div")}, name + ".erf");
            const std::string p = g_.op("Mul", {x, g_.op("Add", {e, g_.scalar(1.0f)}, name + ".add")}, name + ".mul");
            return g_.op("Mul", {p, g_.scalar(0.5f)}, name);
        }
        case Activation::QuickGelu:  // CLIP: x·σ(1.702x)
            return g_.op("Mul", {x, g_.op("Sigmoid", {g_.op("Mul", {x, g_.scalar(1.702f)}, name + ".scaled")}, name + ".sigmoid")},
                         name);
        case Activation::GeluTanh: {  // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
            const std::string x3 = g_.op("Mul", {g_.op("Mul", {x, x}, name + ".sq"), x}, name + ".cube");
            const std::string inner = g_.op("Add", {x, g_.op("Mul", {x3, g_.scalar(0.044715f)}, name + ".cubic")}, name + ".inner");
            const std::string t =
                g_.op("Tanh", {g_.op("Mul", {inner, g_.scalar(std::sqrt(2.0f / kPi))}, name + ".arg")}, name + ".tanh");
            const std::string p = g_.op("Mul", {x, g_.op("Add", {t, g_.scalar(1.0f)}, name + ".add")}, name + ".mul");
            return g_.op("Mul", {p, g_.scalar(0.5f)}, name);
        }
        }
        throw ConfigError("ONNX export: unknown activation");
    }

    std::string mlp(const std::string& x, size_t fc1_w, size_t fc1_b, size_t fc2_w, size_t fc2_b, const std::string& name) {
        const std::string h = activation(block_linear(x, fc1_w, fc1_b, name + ".fc1"), name + ".act");
        return block_linear(h, fc2_w, fc2_b, name + ".fc2");
    }

    // Patch embedding (a convolution whose stride is its kernel: every pixel seen once, a remainder
    // smaller than a patch at the right and bottom left out, as timm), prefix tokens and the position
    // embedding, then norm_pre. (B, C, H, W) -> (B, T, D).
    std::string embed(const std::string& pixels) {
        const ParamSlots& s = m_.params().slots();
        const int64_t p = c_.patch_size, D = c_.embed_dim;
        std::vector<std::string> conv_in{pixels, param(s.patch_w)};
        if (s.patch_b != kNoParam) conv_in.push_back(param(s.patch_b));
        const std::string grid = g_.op("Conv", conv_in, "patch_embed.proj",
                                       {Attr::list("kernel_shape", {p, p}), Attr::list("strides", {p, p})});
        // (B, D, gh, gw) -> (B, D, P) -> (B, P, D), patches in row-major grid order.
        std::string x = g_.op("Reshape", {grid, g_.ints({0, D, c_.num_patches()})}, "patch_embed.flat");
        x = g_.op("Transpose", {x}, "patch_embed.tokens", {Attr::list("perm", {0, 2, 1})});
        if (c_.no_embed_class) x = g_.op("Add", {x, param(s.pos)}, "pos_embed.add");  // patches only
        std::vector<std::string> prefix;
        for (size_t slot : {s.cls, s.dist, s.reg})
            if (slot != kNoParam) prefix.push_back(param(slot));
        if (!prefix.empty()) {
            // (1, prefix, D): class, distillation, register tokens in timm's order, the same for every
            // image: broadcast to (B, prefix, D) with Expand, B read off the input's shape.
            std::string tokens = prefix.size() == 1 ? prefix[0] : g_.op("Concat", prefix, "prefix_tokens", {Attr::integer("axis", 1)});
            const std::string b = g_.op("Shape", {pixels}, "batch_size", {Attr::integer("start", 0), Attr::integer("end", 1)});
            const std::string shape = g_.op("Concat", {b, g_.ints({1, 1})}, "prefix_shape", {Attr::integer("axis", 0)});
            tokens = g_.op("Expand", {tokens, shape}, "prefix_tokens.batch");
            x = g_.op("Concat", {tokens, x}, "tokens", {Attr::integer("axis", 1)});
        }
        if (!c_.no_embed_class) x = g_.op("Add", {x, param(s.pos)}, "pos_embed.add");  // every token
        if (c_.pre_norm) x = layer_norm(x, s.norm_pre_w, s.norm_pre_b, "norm_pre");
        return x;
    }

    // softmax(q kᵀ / √hd) v for q (., H, Tq, hd) and k, v (B, H, Tk, hd); the attention probabilities
    // are returned in *probs.
    std::string attend(const std::string& q, const std::string& k, const std::string& v, const std::string& name,
                       std::string* probs) {
        const std::string kt = g_.op("Transpose", {k}, name + ".kT", {Attr::list("perm", {0, 1, 3, 2})});
        const float scale = 1.0f / std::sqrt(static_cast<float>(c_.head_dim()));
        const std::string s = g_.op("Mul", {g_.op("MatMul", {q, kt}, name + ".qk"), g_.scalar(scale)}, name + ".scores");
        *probs = g_.op("Softmax", {s}, name + ".softmax", {Attr::integer("axis", -1)});
        return g_.op("MatMul", {*probs, v}, name + ".context");
    }

    // Splits a (B, N, parts·D) projection into its parts, each (B, H, N, hd): rows laid out as
    // (part, head, channel), as timm's reshape(B, N, parts, H, hd).permute(2, 0, 3, 1, 4).
    std::vector<std::string> heads(const std::string& x, int parts, const std::string& name) {
        const int64_t H = c_.num_heads, hd = c_.head_dim();
        std::string y = g_.op("Reshape", {x, g_.ints({0, 0, parts, H, hd})}, name + ".split");
        y = g_.op("Transpose", {y}, name + ".heads", {Attr::list("perm", {2, 0, 3, 1, 4})});
        std::vector<std::string> out;
        for (int i = 0; i < parts; ++i)
            out.push_back(g_.op("Gather", {y, g_.index(i)}, name + ".part" + std::to_string(i), {Attr::integer("axis", 0)}));
        return out;
    }

    // x += ls1 · proj(attn(norm1(x)));  x += ls2 · fc2(act(fc1(norm2(x))))
    std::string block(const std::string& x_in, int i, bool attention) {
        const BlockParams& o = m_.params().slots().blocks[size_t(i)];
        const std::string b = "blocks." + std::to_string(i);
        const int64_t D = c_.embed_dim;
        const std::string h = layer_norm(x_in, o.norm1_w, o.norm1_b, b + ".norm1");
        const auto qkv = heads(block_linear(h, o.qkv_w, o.qkv_b, b + ".attn.qkv"), 3, b + ".attn.qkv");
        std::string probs;
        std::string ctx = attend(qkv[0], qkv[1], qkv[2], b + ".attn", &probs);
        if (attention) g_.op_into("Identity", {probs}, "attn." + std::to_string(i));
        // (B, H, T, hd) -> (B, T, H, hd) -> (B, T, D): heads side by side.
        ctx = g_.op("Transpose", {ctx}, b + ".attn.merge", {Attr::list("perm", {0, 2, 1, 3})});
        ctx = g_.op("Reshape", {ctx, g_.ints({0, 0, D})}, b + ".attn.ctx");
        std::string y = block_linear(ctx, o.proj_w, o.proj_b, b + ".attn.proj");
        if (o.ls1 != kNoParam) y = g_.op("Mul", {y, param(o.ls1)}, b + ".ls1");
        const std::string x_mid = g_.op("Add", {x_in, y}, b + ".residual1");
        y = mlp(layer_norm(x_mid, o.norm2_w, o.norm2_b, b + ".norm2"), o.fc1_w, o.fc1_b, o.fc2_w, o.fc2_b, b + ".mlp");
        if (o.ls2 != kNoParam) y = g_.op("Mul", {y, param(o.ls2)}, b + ".ls2");
        return g_.op("Add", {x_mid, y}, b + ".residual2");
    }

    // timm's AttentionPoolLatent over the patch tokens x (B, N, D), see layers/attention_pool.hpp:
    // the one learned query attends over every image's tokens; then a projection and a residual MLP.
    std::string attention_pool(const std::string& x) {
        const AttnPoolParams& a = m_.params().slots().pool;
        const int64_t D = c_.embed_dim, H = c_.num_heads, hd = c_.head_dim();
        // q (1, 1, D) -> (1, H, 1, hd): computed once, broadcast over the batch by MatMul.
        std::string q = linear(param(a.latent), a.q_w, a.q_b, "attn_pool.q");
        q = g_.op("Reshape", {q, g_.ints({1, 1, H, hd})}, "attn_pool.q.split");
        q = g_.op("Transpose", {q}, "attn_pool.q.heads", {Attr::list("perm", {0, 2, 1, 3})});
        const auto kv = heads(linear(x, a.kv_w, a.kv_b, "attn_pool.kv"), 2, "attn_pool.kv");
        std::string probs;
        // (B, H, 1, hd) -> (B, D): with one query row, the heads already lie side by side.
        std::string o = g_.op("Reshape", {attend(q, kv[0], kv[1], "attn_pool", &probs), g_.ints({0, D})}, "attn_pool.ctx");
        const std::string y0 = linear(o, a.proj_w, a.proj_b, "attn_pool.proj");
        const std::string y = mlp(layer_norm(y0, a.norm_w, a.norm_b, "attn_pool.norm"), a.fc1_w, a.fc1_b, a.fc2_w,
                                  a.fc2_b, "attn_pool.mlp");
        return g_.op("Add", {y0, y}, "attn_pool.out");
    }

    // (B, T, D) -> the pooled and normalised features: (B, D), or for DeiT two of them (class and
    // distillation token), returned as two names. LayerNorm acts on each token alone, so normalising
    // only the tokens that are pooled equals timm's norm over every token followed by pooling.
    std::string pool(const std::string& x) {
        const ParamSlots& s = m_.params().slots();
        const int64_t T = c_.num_tokens(), prefix = c_.num_prefix();
        if (c_.global_pool == GlobalPool::Token) {
            const std::string cls = layer_norm(g_.op("Gather", {x, g_.index(0)}, "cls", {Attr::integer("axis", 1)}),
                                               s.norm_w, s.norm_b, "norm.cls");
            if (!c_.distilled) return cls;
            dist_ = layer_norm(g_.op("Gather", {x, g_.index(1)}, "dist", {Attr::integer("axis", 1)}), s.norm_w,
                               s.norm_b, "norm.dist");
            return cls;
        }
        if (c_.global_pool == GlobalPool::TokenAvg) {  // [class token ; mean of the patch tokens], normed
            const std::string normed = layer_norm(x, s.norm_w, s.norm_b, "norm");
            const std::string cls = g_.op("Gather", {normed, g_.index(0)}, "cls", {Attr::integer("axis", 1)});
            const std::string patch_tokens =
                g_.op("Slice", {normed, g_.ints({prefix}), g_.ints({T}), g_.ints({1})}, "patch_tokens");
            const std::string avg = g_.op("ReduceMean", {patch_tokens}, "pool.avg",
                                          {Attr::list("axes", {1}), Attr::integer("keepdims", 0)});
            return g_.op("Concat", {cls, avg}, "pool.token_avg", {Attr::integer("axis", 1)});
        }
        std::string patches =
            prefix == 0 ? x : g_.op("Slice", {x, g_.ints({prefix}), g_.ints({T}), g_.ints({1})}, "patch_tokens");
        if (!c_.fc_norm) patches = layer_norm(patches, s.norm_w, s.norm_b, "norm");
        std::string pooled = c_.global_pool == GlobalPool::Map
                                 ? attention_pool(patches)
                                 : g_.op("ReduceMean", {patches}, "pool.avg",
                                         {Attr::list("axes", {1}), Attr::integer("keepdims", 0)});
        if (c_.fc_norm) pooled = layer_norm(pooled, s.norm_w, s.norm_b, "fc_norm");
        return pooled;
    }

    // The classifier (B, D) -> (B, K); DeiT averages its two heads (as timm outside distillation
    // training), and without classifiers averages the two tokens' features.
    std::string head(const std::string& pooled) {
        const ParamSlots& s = m_.params().slots();
        const bool two = !dist_.empty();
        if (c_.num_classes == 0) {
            if (!two) return pooled;
            return g_.op("Mul", {g_.op("Add", {pooled, dist_}, "features.sum"), g_.scalar(0.5f)}, "features.mean");
        }
        const std::string y = linear(pooled, s.head_w, s.head_b, "head");
        if (!two) return y;
        const std::string yd = linear(dist_, s.head_dist_w, s.head_dist_b, "head_dist");
        return g_.op("Mul", {g_.op("Add", {y, yd}, "heads.sum"), g_.scalar(0.5f)}, "heads.mean");
    }

    const Model& m_;
    const ViTConfig& c_;
    GraphBuilder& g_;
    std::map<size_t, const ParamView*> by_offset_;
    std::set<size_t> used_;
    std::string dist_;  // DeiT: the normalised distillation token (B, D)
    const int int8_levels_;
};

// metadata_props: what a deployment needs besides the graph (see onnx_export.hpp).
void add_metadata(onnx::ModelProto& m, const Model& model, int int8_levels) {
    const ViTConfig& c = model.config();
    using nlohmann::json;
    std::map<std::string, std::string> props{
        {"vit.dtype", int8_levels ? "int8" : "f32"},
        {"vit.preprocess", preprocess_to_json(model.preprocess())},
        {"vit.labels", json(model.labels()).dump()},
        {"vit.config", config_to_json(c)},
        {"vit.input", json{{"name", "pixel_values"}, {"shape", json::array({kBatch, c.in_chans, c.img_h, c.img_w})}}.dump()},
        {"vit.output", json{{"name", c.num_classes > 0 ? "logits" : "features"},
                            {"shape", json::array({kBatch, c.num_outputs()})}}.dump()},
    };
    if (int8_levels) props.emplace("vit.int8_weight_levels", std::to_string(int8_levels));
    for (const auto& [k, v] : props) {
        onnx::StringStringEntryProto* e = m.add_metadata_props();
        e->set_key(k);
        e->set_value(v);
    }
}

// The C++ form of onnx.checker.check_model(full_check=True): the structural checks, then shape
// inference with type checks and errors made fatal. Data propagation lets the inference follow the
// batch size through Shape/Concat/Expand, so the declared output shapes are checked against the
// inferred ones (a mismatch throws).
void check(const onnx::ModelProto& m, const std::string& path) {
    try {
        onnx::checker::check_model(m);
        onnx::ModelProto inferred = m;
        onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                           onnx::ShapeInferenceOptions(/*check_type=*/true, /*error_mode=*/1,
                                                                       /*data_propagation=*/true));
    } catch (const std::exception& e) {
        throw FormatError(path + ": the exported ONNX graph fails ONNX's checks: " + e.what());
    }
}

}  // namespace

void export_onnx(const Model& model, const std::string& path, const OnnxExportOptions& opts) {
    if (opts.opset != kOpset)
        throw ConfigError(path + ": ONNX opset " + std::to_string(opts.opset) + " is not supported, expected " +
                          std::to_string(kOpset));
    if (opts.dtype == Dtype::BF16) throw ConfigError(path + ": ONNX export writes f32 or int8, not bf16");
    const int levels = opts.dtype != Dtype::Int8 ? 0 : opts.int8_weight_levels ? opts.int8_weight_levels
                                                                                : layers::int8_weight_levels();
    if (levels != 0 && levels != 127 && levels != 63)
        throw ConfigError(path + ": int8 weights take 127 or 63 levels a side, not " + std::to_string(levels));
    onnx::ModelProto m;
    m.set_ir_version(onnx::IR_VERSION);
    m.set_producer_name("vit");
    m.set_doc_string("Vision Transformer exported by vit (timm parameter names)");
    onnx::OperatorSetIdProto* opset = m.add_opset_import();
    opset->set_domain("");
    opset->set_version(kOpset);
    onnx::GraphProto* g = m.mutable_graph();
    g->set_name("vit");
    GraphBuilder gb(*g);
    VitGraph vg(model, gb, levels);
    vg.build(opts.attention);
    const auto unused = vg.unused();
    if (!unused.empty())
        throw FormatError(path + ": the ONNX graph leaves the parameter '" + unused.front() + "' unused");
    add_metadata(m, model, levels);

    // protobuf cannot serialise a message of 2 GiB or more (models from ViT-H on); such a model would
    // need ONNX's external data, which this exporter does not write.
    const size_t bytes = m.ByteSizeLong();
    if (bytes > size_t(INT_MAX))
        throw FormatError(path + ": the ONNX model would take " + std::to_string(bytes) +
                          " bytes, over protobuf's limit of " + std::to_string(INT_MAX));
    check(m, path);
    std::string data;
    if (!m.SerializeToString(&data)) throw FormatError(path + ": protobuf could not serialise the ONNX model");
    write_text_atomic(path, data);
}

}  // namespace vit
