// Hugging Face folders of every family the loader knows (ViT, DeiT),
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

    const vit::SafeTensors ref = vit::read_safetensors(kDeit + "/reference.safetensors");
    std::vector<Tensor> attn;
    const Tensor logits = vit::run_forward(model, ref.tensors.at("input"), 1, &attn);
    const float dl = max_abs_diff(logits, ref.tensors.at("logits")), da = attention_diff(attn, ref);
    EXPECT_LT(dl, 1e-4f);
    EXPECT_LT(da, 1e-5f);
    std::cout << "[ figures  ] DeiTForImageClassificationWithTeacher: max |logits diff| " << dl
              << ", max |attention diff| " << da << "\n";
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
// to 256x256, centre crop 224 (scaled here to 20 and 16).
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
    EXPECT_EQ(ck.preprocess.resize_mode, vit::ResizeMode::DirectCrop);
    EXPECT_EQ(ck.preprocess.height, 16);
    EXPECT_EQ(static_cast<int>(std::floor(16 / ck.preprocess.crop_pct)), 20);
    EXPECT_EQ(ck.preprocess.interpolation, vit::Interpolation::Bicubic);
    EXPECT_FLOAT_EQ(ck.preprocess.mean[2], 0.406f);
    const Tensor x({2, 3, 16, 16}, normal_values(2 * 3 * 16 * 16, 3));
    EXPECT_LT(max_abs_diff(vit::run_forward(vit::Model(ck), x, 2), vit::run_forward(timm, x, 2)), 1e-6f);
}
