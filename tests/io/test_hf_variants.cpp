// Hugging Face folders of every family the loader knows (ViT, DeiT, DINOv2, DINOv2 with registers),
// made here from timm models: the tensors renamed into transformers' layout (the inverse of the loader,
// spelled out independently), config.json as save_pretrained writes it. Loaded back, each must give what
// timm gives for the same weights: the Hub fixtures' reference logits and attention, or the output of
// the timm-layout model.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include <nlohmann/json.hpp>

#include "reference_vit.hpp"
#include "temp_dir.hpp"
#include "vit/vit.hpp"

namespace fs = std::filesystem;

namespace {

using json = nlohmann::json;
using vit::Tensor;
using vit::TensorMap;
using vit_test::TempDir;

const std::string kHfSmall = std::string(VIT_TEST_DATA) + "/hf-vit-small32";
const std::string kDinov2Reg = std::string(VIT_TEST_DATA) + "/timm-hub/vit_small_patch14_reg4_dinov2.lvd142m-mini";
const std::string kDeit = std::string(VIT_SHARED_DIR) + "/fixtures/timm-hub/deit_tiny_distilled_patch16_224.fb_in1k";

// timm block tensors beside transformers' names inside encoder.layer.<i>. (qkv is split separately).
using Names = std::vector<std::pair<std::string, std::string>>;
const Names kVitLayer = {
    {"norm1.weight", "layernorm_before.weight"}, {"norm1.bias", "layernorm_before.bias"},
    {"attn.proj.weight", "attention.output.dense.weight"}, {"attn.proj.bias", "attention.output.dense.bias"},
    {"norm2.weight", "layernorm_after.weight"}, {"norm2.bias", "layernorm_after.bias"},
    {"mlp.fc1.weight", "intermediate.dense.weight"}, {"mlp.fc1.bias", "intermediate.dense.bias"},
    {"mlp.fc2.weight", "output.dense.weight"}, {"mlp.fc2.bias", "output.dense.bias"},
};
const Names kDinov2Layer = {
    {"norm1.weight", "norm1.weight"}, {"norm1.bias", "norm1.bias"},
    {"attn.proj.weight", "attention.output.dense.weight"}, {"attn.proj.bias", "attention.output.dense.bias"},
    {"ls1.gamma", "layer_scale1.lambda1"},
    {"norm2.weight", "norm2.weight"}, {"norm2.bias", "norm2.bias"},
    {"mlp.fc1.weight", "mlp.fc1.weight"}, {"mlp.fc1.bias", "mlp.fc1.bias"},
    {"mlp.fc2.weight", "mlp.fc2.weight"}, {"mlp.fc2.bias", "mlp.fc2.bias"},
    {"ls2.gamma", "layer_scale2.lambda1"},
};

// Rows [first, first + count) of a tensor (along its first dimension).
Tensor rows(const Tensor& t, int64_t first, int64_t count) {
    const int64_t row = t.numel() / t.shape[0];
    Tensor r = t;
    r.shape[0] = count;
    r.data.assign(t.data.begin() + first * row, t.data.begin() + (first + count) * row);
    return r;
}

// The encoder blocks in transformers' layout: timm's qkv split into query, key and value (its output
// rows are [q; k; v]), the other tensors renamed.
void put_layers(const TensorMap& timm, int depth, const std::string& layer, const Names& names, TensorMap& hf) {
    for (int i = 0; i < depth; ++i) {
        const std::string b = "blocks." + std::to_string(i) + ".", h = layer + std::to_string(i) + ".";
        for (const char* kind : {"weight", "bias"}) {
            const auto qkv = timm.find(b + "attn.qkv." + kind);
            if (qkv == timm.end()) continue;
            const int64_t D = qkv->second.shape[0] / 3;
            const char* parts[] = {"query.", "key.", "value."};
            for (int p = 0; p < 3; ++p) hf[h + "attention.attention." + parts[p] + kind] = rows(qkv->second, p * D, D);
        }
        for (const auto& [t, n] : names) hf[h + n] = timm.at(b + t);
    }
}

json encoder_config(const std::string& model_type, const std::string& arch, const vit::ViTConfig& c) {
    return {{"architectures", {arch}},        {"model_type", model_type},
            {"hidden_size", c.embed_dim},     {"num_hidden_layers", c.depth},
            {"num_attention_heads", c.num_heads}, {"image_size", c.img_h},
            {"patch_size", c.patch_size},     {"num_channels", c.in_chans},
            {"qkv_bias", c.qkv_bias},         {"layer_norm_eps", c.ln_eps},
            {"hidden_act", "gelu"}};
}

// DeiT in transformers' layout: WithTeacher (cls_classifier + distillation_classifier) or the plain
// classifier on the class token.
TensorMap to_hf_deit(const TensorMap& t, const vit::ViTConfig& c, bool teacher) {
    TensorMap hf;
    hf["deit.embeddings.cls_token"] = t.at("cls_token");
    hf["deit.embeddings.distillation_token"] = t.at("dist_token");
    hf["deit.embeddings.position_embeddings"] = t.at("pos_embed");
    hf["deit.embeddings.patch_embeddings.projection.weight"] = t.at("patch_embed.proj.weight");
    hf["deit.embeddings.patch_embeddings.projection.bias"] = t.at("patch_embed.proj.bias");
    put_layers(t, c.depth, "deit.encoder.layer.", kVitLayer, hf);
    hf["deit.layernorm.weight"] = t.at("norm.weight");
    hf["deit.layernorm.bias"] = t.at("norm.bias");
    const std::string head = teacher ? "cls_classifier." : "classifier.";
    hf[head + "weight"] = t.at("head.weight");
    hf[head + "bias"] = t.at("head.bias");
    if (teacher) {
        hf["distillation_classifier.weight"] = t.at("head_dist.weight");
        hf["distillation_classifier.bias"] = t.at("head_dist.bias");
    }
    return hf;
}

json deit_config(const vit::ViTConfig& c, bool teacher) {
    json j = encoder_config("deit", teacher ? "DeiTForImageClassificationWithTeacher" : "DeiTForImageClassification", c);
    j["intermediate_size"] = c.mlp_hidden();
    return j;
}

// DINOv2 in transformers' layout under `prefix` ("" for the bare Dinov2Model). transformers keeps a
// class-token row in the position embedding; timm's registers layout (no_embed_class) folded it into
// the class token, so a class row `class_row` is made up and subtracted from the class token.
TensorMap to_hf_dinov2(const TensorMap& t, const vit::ViTConfig& c, const std::string& prefix,
                       const std::vector<float>& class_row) {
    const std::string e = prefix + "embeddings.";
    TensorMap hf;
    hf[e + "patch_embeddings.projection.weight"] = t.at("patch_embed.proj.weight");
    hf[e + "patch_embeddings.projection.bias"] = t.at("patch_embed.proj.bias");
    hf[e + "mask_token"] = Tensor({1, c.embed_dim});
    if (c.no_embed_class) {
        Tensor cls = t.at("cls_token");
        for (size_t j = 0; j < cls.data.size(); ++j) cls.data[j] -= class_row[j];
        hf[e + "cls_token"] = cls;
        const Tensor& pos = t.at("pos_embed");
        std::vector<float> with_row = class_row;
        with_row.insert(with_row.end(), pos.data.begin(), pos.data.end());
        hf[e + "position_embeddings"] = Tensor({1, pos.shape[1] + 1, c.embed_dim}, with_row);
        hf[e + "register_tokens"] = t.at("reg_token");
    } else {
        hf[e + "cls_token"] = t.at("cls_token");
        hf[e + "position_embeddings"] = t.at("pos_embed");
    }
    put_layers(t, c.depth, prefix + "encoder.layer.", kDinov2Layer, hf);
    hf[prefix + "layernorm.weight"] = t.at("norm.weight");
    hf[prefix + "layernorm.bias"] = t.at("norm.bias");
    return hf;
}

json dinov2_config(const vit::ViTConfig& c, const std::string& arch) {
    const bool registers = c.reg_tokens > 0;
    json j = encoder_config(registers ? "dinov2_with_registers" : "dinov2", arch, c);
    j["mlp_ratio"] = c.mlp_ratio;
    j["layerscale_value"] = 1.0;
    j["use_swiglu_ffn"] = false;
    if (registers) j["num_register_tokens"] = c.reg_tokens;
    return j;
}

void write_folder(const TempDir& dir, const TensorMap& hf, const json& config, const json& processor = json()) {
    vit::write_safetensors(dir.file("model.safetensors"), hf);
    std::ofstream(dir.file("config.json")) << config.dump(2);
    if (!processor.is_null()) std::ofstream(dir.file("preprocessor_config.json")) << processor.dump(2);
}

std::vector<float> normal_values(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 0.3f);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
    EXPECT_EQ(a.shape, b.shape);
    float m = 0;
    for (size_t i = 0; i < std::min(a.data.size(), b.data.size()); ++i) m = std::max(m, std::fabs(a.data[i] - b.data[i]));
    return m;
}

// The largest attention difference against the reference's attn.<i> over every block.
float attention_diff(const std::vector<Tensor>& attn, const vit::SafeTensors& ref) {
    float d = 0;
    for (size_t i = 0; i < attn.size(); ++i) d = std::max(d, max_abs_diff(attn[i], ref.tensors.at("attn." + std::to_string(i))));
    return d;
}

// Runs a fixture's reference input through the model: the output within 1e-4 of timm's, every block's
// attention within 1e-5.
void expect_matches_timm_reference(const vit::Model& model, const std::string& fixture, int batch,
                                   const std::string& what) {
    const vit::SafeTensors ref = vit::read_safetensors(fixture + "/reference.safetensors");
    std::vector<Tensor> attn;
    const Tensor out = vit::run_forward(model, ref.tensors.at("input"), batch, &attn);
    const float dl = max_abs_diff(out, ref.tensors.at("logits")), da = attention_diff(attn, ref);
    EXPECT_LT(dl, 1e-4f) << what;
    EXPECT_LT(da, 1e-5f) << what;
    std::cout << "[ figures  ] " << what << ": max |output diff| " << dl << ", max |attention diff| " << da << "\n";
}


std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const vit::Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected an exception";
    return {};
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

// The issue's folder: ViT with "qkv_bias": false once failed with "missing tensor
// 'blocks.0.norm1.bias'", because the loader skipped every bias of a block without query biases.
TEST(HuggingFaceViT, QkvBiasFalseLoadsAndMatchesTheSameWeightsInTimmLayout) {
    TensorMap hf = vit::read_safetensors(kHfSmall + "/model.safetensors").tensors;
    for (int i = 0; i < 2; ++i)
        for (const char* p : {"query", "key", "value"})
            ASSERT_EQ(hf.erase("vit.encoder.layer." + std::to_string(i) + ".attention.attention." + p + ".bias"), 1u);
    json cfg = json::parse(std::ifstream(kHfSmall + "/config.json"));
    cfg["qkv_bias"] = false;
    TempDir dir;
    write_folder(dir, hf, cfg);
    fs::copy_file(kHfSmall + "/preprocessor_config.json", dir.file("preprocessor_config.json"));
    const vit::Model loaded(vit::load_checkpoint(dir.path.string()));
    EXPECT_FALSE(loaded.config().qkv_bias);
    EXPECT_TRUE(loaded.unused_tensors().empty()) << loaded.unused_tensors().front();

    // The same weights in timm layout: the fixture as loaded with its biases (ForwardParity checks it
    // against transformers), the qkv biases removed.
    vit::Checkpoint timm = vit::load_checkpoint(kHfSmall);
    timm.config.qkv_bias = false;
    for (int i = 0; i < 2; ++i) ASSERT_EQ(timm.weights.erase("blocks." + std::to_string(i) + ".attn.qkv.bias"), 1u);
    const vit::Model same(timm);
    const vit::SafeTensors ref = vit::read_safetensors(kHfSmall + "/reference.safetensors");
    const Tensor& input = ref.tensors.at("input");
    const float d = max_abs_diff(vit::run_forward(loaded, input, 4), vit::run_forward(same, input, 4));
    EXPECT_LT(d, 1e-6f);
    // The biases mattered: without them the logits move away from transformers' (which had them).
    EXPECT_GT(max_abs_diff(vit::run_forward(loaded, input, 4), ref.tensors.at("logits")), 1e-3f);
    std::cout << "[ figures  ] ViT qkv_bias false: max |logits diff| against timm layout " << d << "\n";
}

TEST(HuggingFaceViT, QueryBiasesBesideQkvBiasFalseAreReportedUnusedNotDropped) {
    json cfg = json::parse(std::ifstream(kHfSmall + "/config.json"));
    cfg["qkv_bias"] = false;
    TempDir dir;
    write_folder(dir, vit::read_safetensors(kHfSmall + "/model.safetensors").tensors, cfg);
    const vit::Model m(vit::load_checkpoint(dir.path.string()));
    const auto& unused = m.unused_tensors();
    EXPECT_EQ(unused.size(), 6u);  // query, key, value biases of 2 layers
    EXPECT_NE(std::find(unused.begin(), unused.end(), "vit.encoder.layer.1.attention.attention.value.bias"), unused.end());
}

TEST(HuggingFaceViT, MissingOrMisshapenTensorIsNamedWithTheWeightsFile) {
    const TensorMap good = vit::read_safetensors(kHfSmall + "/model.safetensors").tensors;
    const json cfg = json::parse(std::ifstream(kHfSmall + "/config.json"));
    TempDir dir;
    TensorMap hf = good;
    hf.erase("vit.encoder.layer.1.layernorm_after.bias");
    write_folder(dir, hf, cfg);
    std::string msg = error_of([&] { vit::load_checkpoint(dir.path.string()); });
    EXPECT_TRUE(contains(msg, "'vit.encoder.layer.1.layernorm_after.bias'")) << msg;
    EXPECT_TRUE(contains(msg, dir.file("model.safetensors"))) << msg;
    EXPECT_TRUE(contains(msg, "[64]")) << msg;

    hf = good;
    hf["vit.encoder.layer.0.attention.attention.key.weight"] = Tensor({64, 32});
    write_folder(dir, hf, cfg);
    msg = error_of([&] { vit::load_checkpoint(dir.path.string()); });
    EXPECT_TRUE(contains(msg, "'vit.encoder.layer.0.attention.attention.key.weight'")) << msg;
    EXPECT_TRUE(contains(msg, "[64, 32]")) << msg;
    EXPECT_TRUE(contains(msg, "[64, 64]")) << msg;
    EXPECT_TRUE(contains(msg, dir.file("model.safetensors"))) << msg;
}

TEST(HuggingFaceDeiT, WithTeacherMatchesTimmDistilledLogitsAndAttention) {
    if (!fs::exists(kDeit + "/model.safetensors")) GTEST_SKIP() << "fixture not found at " << kDeit << " (../shared absent)";
    const vit::Checkpoint timm = vit::load_checkpoint(kDeit);
    TempDir dir;
    write_folder(dir, to_hf_deit(timm.weights, timm.config, true), deit_config(timm.config, true));
    const vit::Checkpoint ck = vit::load_checkpoint(dir.path.string());
    EXPECT_EQ(ck.format, vit::CheckpointFormat::HuggingFace);
    EXPECT_TRUE(ck.config.distilled);
    EXPECT_EQ(ck.config.reg_tokens, 0);
    const vit::Model model(ck);
    EXPECT_TRUE(model.unused_tensors().empty()) << model.unused_tensors().front();

    expect_matches_timm_reference(model, kDeit, 1, "DeiTForImageClassificationWithTeacher");
}

// DeiTForImageClassification classifies the class token alone; the distillation token still runs
// through the encoder. The expected logits come from timm's distilled model with head_dist zeroed:
// (head(cls) + 0) / 2, doubled.
TEST(HuggingFaceDeiT, PlainClassifierSeesTheClassTokenAndKeepsTheDistillationTokenInTheEncoder) {
    if (!fs::exists(kDeit + "/model.safetensors")) GTEST_SKIP() << "fixture not found at " << kDeit << " (../shared absent)";
    vit::Checkpoint timm = vit::load_checkpoint(kDeit);
    TempDir dir;
    write_folder(dir, to_hf_deit(timm.weights, timm.config, false), deit_config(timm.config, false));
    const vit::Checkpoint ck = vit::load_checkpoint(dir.path.string());
    EXPECT_FALSE(ck.config.distilled);
    EXPECT_EQ(ck.config.reg_tokens, 1);  // the distillation token, as a prefix token without a head
    const vit::Model model(ck);
    EXPECT_TRUE(model.unused_tensors().empty()) << model.unused_tensors().front();

    for (const char* n : {"head_dist.weight", "head_dist.bias"})
        std::fill(timm.weights.at(n).data.begin(), timm.weights.at(n).data.end(), 0.0f);
    const vit::SafeTensors ref = vit::read_safetensors(kDeit + "/reference.safetensors");
    const Tensor& input = ref.tensors.at("input");
    Tensor want = vit::run_forward(vit::Model(timm), input, 1);
    for (float& v : want.data) v *= 2.0f;
    std::vector<Tensor> attn;
    const Tensor logits = vit::run_forward(model, input, 1, &attn);
    const float dl = max_abs_diff(logits, want), da = attention_diff(attn, ref);
    EXPECT_LT(dl, 1e-4f);
    EXPECT_LT(da, 1e-5f);  // the same encoder as timm's distilled model
    EXPECT_GT(max_abs_diff(logits, ref.tensors.at("logits")), 1e-3f);  // not the averaged heads
    std::cout << "[ figures  ] DeiTForImageClassification: max |logits diff| " << dl << ", max |attention diff| " << da
              << "\n";
}

// A small random DeiT (no ../shared needed), with DeiTImageProcessor's preprocessing: resize straight
// to 256x256, centre crop 224 (scaled here to 20 and 16), which is timm's crop_mode squash.
TEST(HuggingFaceDeiT, SmallModelAndProcessorResizeThenCrop) {
    vit::ViTConfig c;
    c.img_h = c.img_w = 16;
    c.patch_size = 4;
    c.embed_dim = 24;
    c.depth = 2;
    c.num_heads = 3;
    c.num_classes = 5;
    c.distilled = true;
    const vit::Model timm = vit::reference::random_model(c, 11);
    const json processor = {{"image_processor_type", "DeiTImageProcessor"},
                            {"do_resize", true},
                            {"size", {{"height", 20}, {"width", 20}}},
                            {"do_center_crop", true},
                            {"crop_size", {{"height", 16}, {"width", 16}}},
                            {"resample", 3},
                            {"do_rescale", true},
                            {"rescale_factor", 1.0 / 255},
                            {"do_normalize", true},
                            {"image_mean", {0.485, 0.456, 0.406}},
                            {"image_std", {0.229, 0.224, 0.225}}};
    TempDir dir;
    write_folder(dir, to_hf_deit(timm.params().to_map(), c, true), deit_config(c, true), processor);
    const vit::Checkpoint ck = vit::load_checkpoint(dir.path.string());
    EXPECT_EQ(ck.preprocess.resize_mode, vit::ResizeMode::Squash);
    EXPECT_EQ(ck.preprocess.height, 16);
    EXPECT_EQ(static_cast<int>(std::floor(16 / ck.preprocess.crop_pct)), 20);
    EXPECT_EQ(ck.preprocess.interpolation, vit::Interpolation::Bicubic);
    EXPECT_FLOAT_EQ(ck.preprocess.mean[2], 0.406f);
    const Tensor x({2, 3, 16, 16}, normal_values(2 * 3 * 16 * 16, 3));
    EXPECT_LT(max_abs_diff(vit::run_forward(vit::Model(ck), x, 2), vit::run_forward(timm, x, 2)), 1e-6f);
}

TEST(HuggingFaceDinov2, WithRegistersBaseModelMatchesTimmFeaturesAndAttention) {
    const vit::Checkpoint timm = vit::load_checkpoint(kDinov2Reg);
    ASSERT_TRUE(timm.config.no_embed_class);
    const std::vector<float> class_row = normal_values(size_t(timm.config.embed_dim), 5);
    TempDir dir;
    write_folder(dir, to_hf_dinov2(timm.weights, timm.config, "", class_row),
                 dinov2_config(timm.config, "Dinov2WithRegistersModel"));
    const vit::Checkpoint ck = vit::load_checkpoint(dir.path.string());
    EXPECT_EQ(ck.config.reg_tokens, 4);
    EXPECT_EQ(ck.config.num_classes, 0);
    EXPECT_EQ(ck.config.global_pool, vit::GlobalPool::Token);
    EXPECT_FLOAT_EQ(ck.config.ln_eps, 1e-6f);
    const vit::Model model(ck);
    EXPECT_TRUE(model.unused_tensors().empty()) << model.unused_tensors().front();

    expect_matches_timm_reference(model, kDinov2Reg, 2, "Dinov2WithRegistersModel");
}

// Dinov2ForImageClassification: Linear(2D -> K) on [normed class token ; mean of the normed patch
// tokens]. The expected logits are put together here from timm's pieces: the reference features (the
// normed class token) and the mean of the normed patch tokens from timm's avg pooling without fc_norm.
TEST(HuggingFaceDinov2, WithRegistersClassifierSeesClassTokenBesideMeanOfPatches) {
    vit::Checkpoint timm = vit::load_checkpoint(kDinov2Reg);
    const int D = timm.config.embed_dim, K = 5;
    TensorMap hf = to_hf_dinov2(timm.weights, timm.config, "dinov2_with_registers.", normal_values(size_t(D), 6));
    const Tensor W({K, 2 * D}, normal_values(size_t(K * 2 * D), 7)), b({K}, normal_values(size_t(K), 8));
    hf["classifier.weight"] = W;
    hf["classifier.bias"] = b;
    json cfg = dinov2_config(timm.config, "Dinov2WithRegistersForImageClassification");
    cfg["id2label"] = {{"0", "a"}, {"1", "b"}, {"2", "c"}, {"3", "d"}, {"4", "e"}};
    TempDir dir;
    write_folder(dir, hf, cfg);
    const vit::Checkpoint ck = vit::load_checkpoint(dir.path.string());
    EXPECT_EQ(ck.config.global_pool, vit::GlobalPool::TokenAvg);
    EXPECT_EQ(ck.config.num_classes, K);
    EXPECT_EQ(ck.labels[4], "e");
    const vit::Model model(ck);
    EXPECT_TRUE(model.unused_tensors().empty()) << model.unused_tensors().front();

    const vit::SafeTensors ref = vit::read_safetensors(kDinov2Reg + "/reference.safetensors");
    const Tensor& input = ref.tensors.at("input");
    const Tensor& cls = ref.tensors.at("logits");
    timm.config.global_pool = vit::GlobalPool::Avg;
    timm.config.fc_norm = false;
    const Tensor avg = vit::run_forward(vit::Model(timm), input, 2);
    const int64_t N = input.shape[0];
    Tensor want({N, K});
    for (int64_t n = 0; n < N; ++n)
        for (int k = 0; k < K; ++k) {
            double s = b.data[size_t(k)];
            for (int j = 0; j < D; ++j)
                s += double(W.data[size_t(k * 2 * D + j)]) * cls.data[size_t(n * D + j)] +
                     double(W.data[size_t(k * 2 * D + D + j)]) * avg.data[size_t(n * D + j)];
            want.data[size_t(n * K + k)] = static_cast<float>(s);
        }
    std::vector<Tensor> attn;
    const Tensor logits = vit::run_forward(model, input, 2, &attn);
    const float dl = max_abs_diff(logits, want), da = attention_diff(attn, ref);
    EXPECT_LT(dl, 1e-4f);
    EXPECT_LT(da, 1e-5f);
    std::cout << "[ figures  ] Dinov2WithRegistersForImageClassification: max |logits diff| " << dl
              << ", max |attention diff| " << da << "\n";
}

// Without registers transformers' and timm's DINOv2 share one layout: the position embedding has its
// class row, added to the class token (no_embed_class false).
TEST(HuggingFaceDinov2, WithoutRegistersClassifierMatchesTheSameWeightsInTimmLayout) {
    vit::ViTConfig c;
    c.img_h = c.img_w = 16;
    c.patch_size = 4;
    c.embed_dim = 24;
    c.depth = 2;
    c.num_heads = 3;
    c.num_classes = 3;
    c.init_values = 1.0f;
    c.global_pool = vit::GlobalPool::TokenAvg;
    c.ln_eps = 1e-6f;
    const vit::Model timm = vit::reference::random_model(c, 12);
    TensorMap hf = to_hf_dinov2(timm.params().to_map(), c, "dinov2.", {});
    hf["classifier.weight"] = timm.params().to_map().at("head.weight");
    hf["classifier.bias"] = timm.params().to_map().at("head.bias");
    TempDir dir;
    write_folder(dir, hf, dinov2_config(c, "Dinov2ForImageClassification"));
    const vit::Checkpoint ck = vit::load_checkpoint(dir.path.string());
    EXPECT_FALSE(ck.config.no_embed_class);
    EXPECT_EQ(ck.config.reg_tokens, 0);
    const vit::Model model(ck);
    EXPECT_TRUE(model.unused_tensors().empty()) << model.unused_tensors().front();
    const Tensor x({3, 3, 16, 16}, normal_values(3 * 3 * 16 * 16, 4));
    const float d = max_abs_diff(vit::run_forward(model, x, 2), vit::run_forward(timm, x, 2));
    EXPECT_LT(d, 1e-6f);
}

// BitImageProcessor (DINOv2): shorter side to 256, centre crop 224, while config.json says 518; as
// transformers does on every call, the position grid is resampled to the crop (here 16 -> 8 pixels,
// a 4x4 grid of patch 4 -> 2x2), the class row kept.
TEST(HuggingFaceDinov2, ProcessorCropOfAnotherSizeResamplesThePositionGridOnce) {
    vit::ViTConfig c;
    c.img_h = c.img_w = 16;
    c.patch_size = 4;
    c.embed_dim = 8;
    c.depth = 1;
    c.num_heads = 2;
    c.num_classes = 0;
    c.init_values = 1.0f;
    const vit::Model timm = vit::reference::random_model(c, 13);
    const json processor = {{"image_processor_type", "BitImageProcessor"},
                            {"size", {{"shortest_edge", 9}}},
                            {"do_center_crop", true},
                            {"crop_size", {{"height", 8}, {"width", 8}}},
                            {"resample", 3}};
    TempDir dir;
    write_folder(dir, to_hf_dinov2(timm.params().to_map(), c, "", {}), dinov2_config(c, "Dinov2Model"), processor);
    const vit::Checkpoint ck = vit::load_checkpoint(dir.path.string());
    EXPECT_EQ(ck.config.img_h, 8);
    EXPECT_EQ(ck.config.img_w, 8);
    EXPECT_EQ(ck.preprocess.resize_mode, vit::ResizeMode::ShorterSideCrop);
    EXPECT_EQ(static_cast<int>(std::floor(8 / ck.preprocess.crop_pct)), 9);
    const Tensor& pos = ck.weights.at("pos_embed");
    ASSERT_EQ(pos.shape, (vit::Shape{1, 5, 8}));
    const float* hf_pos = timm.params().get("pos_embed");
    const std::vector<float> grid = vit::resample_grid_bicubic(hf_pos + 8, 4, 4, 8, 2, 2);
    EXPECT_EQ(std::vector<float>(pos.data.begin(), pos.data.begin() + 8), std::vector<float>(hf_pos, hf_pos + 8));
    EXPECT_EQ(std::vector<float>(pos.data.begin() + 8, pos.data.end()), grid);
}

TEST(HuggingFaceDinov2, MissingRegisterTokensAreNamedWithTheWeightsFile) {
    const vit::Checkpoint timm = vit::load_checkpoint(kDinov2Reg);
    TensorMap hf = to_hf_dinov2(timm.weights, timm.config, "", normal_values(size_t(timm.config.embed_dim), 5));
    hf.erase("embeddings.register_tokens");
    TempDir dir;
    write_folder(dir, hf, dinov2_config(timm.config, "Dinov2WithRegistersModel"));
    const std::string msg = error_of([&] { vit::load_checkpoint(dir.path.string()); });
    EXPECT_TRUE(contains(msg, "'embeddings.register_tokens'")) << msg;
    EXPECT_TRUE(contains(msg, "[1, 4, 96]")) << msg;
    EXPECT_TRUE(contains(msg, dir.file("model.safetensors"))) << msg;
}

TEST(HuggingFaceFolders, UnsupportedModelTypeAndSwigluAreConfigErrorsNamingConfigJson) {
    const vit::Checkpoint timm = vit::load_checkpoint(kDinov2Reg);
    TempDir dir;
    json cfg = dinov2_config(timm.config, "Dinov2WithRegistersModel");
    write_folder(dir, to_hf_dinov2(timm.weights, timm.config, "", normal_values(96, 5)), cfg);
    cfg["use_swiglu_ffn"] = true;
    std::ofstream(dir.file("config.json")) << cfg.dump();
    std::string msg = error_of([&] { vit::load_checkpoint(dir.path.string()); });
    EXPECT_TRUE(contains(msg, "use_swiglu_ffn")) << msg;
    EXPECT_TRUE(contains(msg, dir.file("config.json"))) << msg;

    cfg = {{"model_type", "beit"}, {"architectures", {"BeitForImageClassification"}}};
    std::ofstream(dir.file("config.json")) << cfg.dump();
    msg = error_of([&] { vit::load_checkpoint(dir.path.string()); });
    EXPECT_TRUE(contains(msg, "'beit'")) << msg;
    EXPECT_TRUE(contains(msg, "dinov2_with_registers")) << msg;
    EXPECT_TRUE(contains(msg, dir.file("config.json"))) << msg;
}
