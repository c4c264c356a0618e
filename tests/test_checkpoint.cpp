#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "temp_dir.hpp"
#include "vit/architectures.hpp"
#include "vit/checkpoint.hpp"
#include "vit/error.hpp"
#include "vit/safetensors.hpp"

namespace fs = std::filesystem;
using namespace vit;

namespace {

const std::string kTimm = std::string(VIT_TEST_DATA) + "/timm-vit-small32";
const std::string kHf = std::string(VIT_TEST_DATA) + "/hf-vit-small32";

using vit_test::TempDir;

void write_text(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

template <typename E>
std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected exception not thrown";
    return {};
}

}  // namespace

TEST(Checkpoint, LoadsTimmFolder) {
    const Checkpoint ck = load_checkpoint(kTimm);
    EXPECT_EQ(ck.format, CheckpointFormat::Timm);
    const ViTConfig& c = ck.config;
    EXPECT_EQ(c.img_h, 32);
    EXPECT_EQ(c.img_w, 32);
    EXPECT_EQ(c.patch_size, 4);
    EXPECT_EQ(c.embed_dim, 64);
    EXPECT_EQ(c.depth, 2);
    EXPECT_EQ(c.num_heads, 4);
    EXPECT_EQ(c.num_classes, 10);
    EXPECT_EQ(c.mlp_hidden(), 256);
    EXPECT_EQ(c.global_pool, GlobalPool::Token);
    EXPECT_FALSE(c.fc_norm);
    EXPECT_FLOAT_EQ(c.ln_eps, 1e-6f);
    EXPECT_EQ(ck.preprocess.height, 32);
    EXPECT_EQ(ck.preprocess.interpolation, Interpolation::Bicubic);
    EXPECT_EQ(ck.preprocess.resize_mode, ResizeMode::ShorterSideCrop);
    EXPECT_DOUBLE_EQ(ck.preprocess.crop_pct, 1.0);
    ASSERT_EQ(ck.labels.size(), 10u);
    EXPECT_EQ(ck.labels[3], "class_3");
    EXPECT_EQ(ck.weights.at("pos_embed").shape, (Shape{1, 65, 64}));
    EXPECT_EQ(ck.source, kTimm);
}

TEST(Checkpoint, LoadsHuggingFaceFolderAndFusesQkv) {
    const Checkpoint ck = load_checkpoint(kHf);
    EXPECT_EQ(ck.format, CheckpointFormat::HuggingFace);
    const ViTConfig& c = ck.config;
    EXPECT_EQ(c.img_h, 32);
    EXPECT_EQ(c.patch_size, 4);
    EXPECT_EQ(c.embed_dim, 64);
    EXPECT_EQ(c.depth, 2);
    EXPECT_EQ(c.num_heads, 4);
    EXPECT_EQ(c.mlp_hidden(), 256);
    EXPECT_EQ(c.num_classes, 10);
    EXPECT_FLOAT_EQ(c.ln_eps, 1e-12f);
    ASSERT_EQ(ck.labels.size(), 10u);
    EXPECT_EQ(ck.labels[7], "LABEL_7");
    EXPECT_EQ(ck.preprocess.resize_mode, ResizeMode::Direct);
    EXPECT_EQ(ck.preprocess.interpolation, Interpolation::Bilinear);
    EXPECT_EQ(ck.preprocess.height, 32);

    const SafeTensors hf = read_safetensors(kHf + "/model.safetensors");
    for (int layer = 0; layer < 2; ++layer) {
        const std::string h = "vit.encoder.layer." + std::to_string(layer) + ".attention.attention.";
        const std::string t = "blocks." + std::to_string(layer) + ".attn.qkv.";
        const Tensor& w = ck.weights.at(t + "weight");
        const Tensor& b = ck.weights.at(t + "bias");
        ASSERT_EQ(w.shape, (Shape{192, 64}));
        ASSERT_EQ(b.shape, (Shape{192}));
        const char* parts[] = {"query", "key", "value"};
        for (int p = 0; p < 3; ++p) {
            const Tensor& hw = hf.tensors.at(h + parts[p] + ".weight");
            const Tensor& hb = hf.tensors.at(h + parts[p] + ".bias");
            // Rows p*64 .. p*64+63 of qkv are the query/key/value rows.
            for (int i = 0; i < 64 * 64; ++i) ASSERT_EQ(w.data[p * 64 * 64 + i], hw.data[i]);
            for (int i = 0; i < 64; ++i) ASSERT_EQ(b.data[p * 64 + i], hb.data[i]);
        }
        EXPECT_EQ(ck.weights.at("blocks." + std::to_string(layer) + ".mlp.fc1.weight").data,
                  hf.tensors.at("vit.encoder.layer." + std::to_string(layer) + ".intermediate.dense.weight").data);
    }
    EXPECT_EQ(ck.weights.at("head.weight").data, hf.tensors.at("classifier.weight").data);
    EXPECT_EQ(ck.weights.at("norm.bias").data, hf.tensors.at("vit.layernorm.bias").data);
    EXPECT_EQ(ck.weights.at("pos_embed").data, hf.tensors.at("vit.embeddings.position_embeddings").data);
    // Same parameter names as timm's checkpoint.
    const Checkpoint timm = load_checkpoint(kTimm);
    for (const auto& kv : timm.weights) {
        ASSERT_TRUE(ck.weights.count(kv.first)) << kv.first;
        EXPECT_EQ(ck.weights.at(kv.first).shape, kv.second.shape) << kv.first;
    }
    EXPECT_EQ(ck.weights.size(), timm.weights.size());
}

TEST(Checkpoint, NativeRoundTrip) {
    TempDir dir;
    Checkpoint ck = load_checkpoint(kTimm);
    ck.config.global_pool = GlobalPool::Avg;
    ck.config.fc_norm = false;  // explicit, differs from timm's default for avg
    ck.config.ln_eps = 1e-5f;
    ck.labels[0] = "zéro, \"quoted\"";
    ck.preprocess.crop_pct = 0.875;
    ck.preprocess.mean = {0.1f, 0.2f, 0.3f};
    ck.preprocess.interpolation = Interpolation::Bilinear;
    const std::string path = dir.file("native.safetensors");
    save_checkpoint(path, ck);

    const Checkpoint back = load_checkpoint(path);
    EXPECT_EQ(back.format, CheckpointFormat::Native);
    EXPECT_EQ(config_to_json(back.config), config_to_json(ck.config));
    EXPECT_EQ(back.config.global_pool, GlobalPool::Avg);
    EXPECT_FALSE(back.config.fc_norm);
    EXPECT_EQ(back.config.ln_eps, 1e-5f);
    EXPECT_EQ(back.labels, ck.labels);
    EXPECT_EQ(preprocess_to_json(back.preprocess), preprocess_to_json(ck.preprocess));
    EXPECT_EQ(back.preprocess.mean, ck.preprocess.mean);
    ASSERT_EQ(back.weights.size(), ck.weights.size());
    for (const auto& kv : ck.weights) EXPECT_EQ(back.weights.at(kv.first).data, kv.second.data) << kv.first;

    // Mismatched labels are refused before writing.
    ck.labels.pop_back();
    EXPECT_THROW(save_checkpoint(dir.file("bad.safetensors"), ck), ConfigError);
    EXPECT_FALSE(fs::exists(dir.file("bad.safetensors")));
}

TEST(Checkpoint, ConfigJsonRoundTripAndDefaults) {
    ViTConfig c = config_from_json(R"({"img_size": [32, 48], "patch_size": 8, "embed_dim": 32, "depth": 1,
                                       "num_heads": 2, "num_classes": 5, "global_pool": "avg",
                                       "norm_eps": 1e-5, "unknown_key": [1, 2]})",
                                   "cfg");
    EXPECT_EQ(c.img_h, 32);
    EXPECT_EQ(c.img_w, 48);
    EXPECT_TRUE(c.fc_norm);  // fc_norm absent + avg pooling
    EXPECT_FLOAT_EQ(c.ln_eps, 1e-5f);
    const ViTConfig back = config_from_json(config_to_json(c), "again");
    EXPECT_EQ(config_to_json(back), config_to_json(c));
    EXPECT_THROW(config_from_json(R"({"global_pool": "avgmax"})", "cfg"), ConfigError);
    EXPECT_THROW(config_from_json(R"({"act_layer": "swiglu"})", "cfg"), ConfigError);
    EXPECT_THROW(config_from_json(R"({"distilled": true, "global_pool": "avg"})", "cfg"), ConfigError);
    EXPECT_THROW(config_from_json(R"({"global_pool": ""})", "cfg"), ConfigError);
    EXPECT_THROW(config_from_json(R"({"depth": "two"})", "cfg"), ConfigError);
    EXPECT_THROW(config_from_json("{not json", "cfg"), FormatError);
}

TEST(Checkpoint, ResampleIdentityAndTorchReference) {
    // Same size: the kernel weights are (0, 1, 0, 0), so the grid comes back unchanged.
    std::vector<float> g(3 * 5 * 4);
    for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>(i % 7) - 0.3f * static_cast<float>(i);
    EXPECT_EQ(resample_grid_bicubic(g.data(), 3, 5, 4, 3, 5), g);

    // Reference from torch.nn.functional.interpolate(mode="bicubic", align_corners=False) on a
    // (gh=2, gw=3, C=2) grid with values v_i = 0.1 i^2 - i.
    std::vector<float> src(12);
    for (int i = 0; i < 12; ++i) src[i] = static_cast<float>(i) * static_cast<float>(i) * 0.1f - static_cast<float>(i);
    const std::vector<float> up = {
        0.431024909f, -0.633937657f, -0.390063196f, -1.29022527f, -1.60000014f, -2.22656274f, -2.37793756f,
        -2.73090005f, -2.75422597f, -2.9423883f,  -0.44235003f, -1.10887516f, -0.935125291f, -1.43685007f,
        -1.60000002f, -1.82812488f, -1.83287513f, -1.78740013f, -1.88085043f, -1.67057538f, -1.88085008f,
        -1.89112508f, -1.83287442f, -1.67834926f, -1.5999999f,  -1.17187464f, -0.935125291f, -0.233399943f,
        -0.442350268f, 0.424175173f, -2.75422502f, -2.3660624f,  -2.37793636f, -1.82497394f, -1.59999979f,
        -0.773437023f, -0.390062869f, 0.710100055f, 0.431024969f, 1.69598806f};
    const std::vector<float> got = resample_grid_bicubic(src.data(), 2, 3, 2, 4, 5);
    ASSERT_EQ(got.size(), up.size());
    for (size_t i = 0; i < up.size(); ++i) EXPECT_NEAR(got[i], up[i], 1e-5) << i;
    const std::vector<float> down = {-1.30468738f, -1.52812481f, -1.30468762f, -0.881249726f};
    const std::vector<float> got_down = resample_grid_bicubic(src.data(), 2, 3, 2, 1, 2);
    ASSERT_EQ(got_down.size(), down.size());
    for (size_t i = 0; i < down.size(); ++i) EXPECT_NEAR(got_down[i], down[i], 1e-5) << i;
}

TEST(Checkpoint, SetImageSizeResamplesPosEmbed) {
    Checkpoint ck = load_checkpoint(kTimm);
    const Tensor before = ck.weights.at("pos_embed");
    set_image_size(ck, 48, 32);
    EXPECT_EQ(ck.config.img_h, 48);
    EXPECT_EQ(ck.config.img_w, 32);
    EXPECT_EQ(ck.preprocess.height, 48);
    EXPECT_EQ(ck.preprocess.width, 32);
    const Tensor& after = ck.weights.at("pos_embed");
    ASSERT_EQ(after.shape, (Shape{1, 1 + 12 * 8, 64}));
    for (int i = 0; i < 64; ++i) EXPECT_EQ(after.data[i], before.data[i]);  // class token row kept
    EXPECT_THROW(set_image_size(ck, 30, 32), ConfigError);
    set_image_size(ck, 32, 32);  // back: still consistent
    EXPECT_EQ(ck.weights.at("pos_embed").shape, (Shape{1, 65, 64}));
}

TEST(Checkpoint, MissingPathsAndBadConfigs) {
    EXPECT_NE(error_of<IoError>([] { load_checkpoint("/nonexistent/model"); }).find("/nonexistent/model"),
              std::string::npos);

    TempDir dir;
    // Folder without model.safetensors.
    EXPECT_NE(error_of<IoError>([&] { load_checkpoint(dir.path.string()); }).find("model.safetensors"),
              std::string::npos);

    // Folder without config.json.
    fs::copy_file(kTimm + "/model.safetensors", dir.file("model.safetensors"));
    EXPECT_NE(error_of<IoError>([&] { load_checkpoint(dir.path.string()); }).find("config.json"),
              std::string::npos);

    // A bare .safetensors file with neither metadata nor config.json beside it.
    EXPECT_NE(error_of<FormatError>([&] { load_checkpoint(dir.file("model.safetensors")); }).find("config"),
              std::string::npos);

    // Malformed config.json.
    write_text(dir.file("config.json"), "{\"img_size\": 32,");
    EXPECT_NE(error_of<FormatError>([&] { load_checkpoint(dir.path.string()); }).find("config.json"),
              std::string::npos);

    // Valid JSON, invalid values.
    fs::copy_file(kTimm + "/config.json", dir.file("good.json"));
    std::ifstream in(dir.file("good.json"));
    const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto with = [&](const std::string& from, const std::string& to) {
        std::string s = good;
        s.replace(s.find(from), from.size(), to);
        write_text(dir.file("config.json"), s);
    };
    with("\"crop_mode\": \"center\"", "\"crop_mode\": \"border\"");
    EXPECT_THROW(load_checkpoint(dir.path.string()), ConfigError);
    // "squash" is read only where it is a direct resize (crop_pct 1).
    with("\"crop_pct\": 1.0,\n  \"crop_mode\": \"center\"", "\"crop_pct\": 0.9,\n  \"crop_mode\": \"squash\"");
    EXPECT_THROW(load_checkpoint(dir.path.string()), ConfigError);
    with("\"crop_mode\": \"center\"", "\"crop_mode\": \"squash\"");
    EXPECT_EQ(load_checkpoint(dir.path.string()).preprocess.resize_mode, ResizeMode::Direct);
    with("\"qkv_bias\": true", "\"qkv_bias\": true, \"global_pool\": \"max\"");
    EXPECT_THROW(load_checkpoint(dir.path.string()), ConfigError);
    with("\"num_classes\": 10\n }", "\"num_classes\": 10, \"label_names\": [\"a\", \"b\"]\n }");
    EXPECT_THROW(load_checkpoint(dir.path.string()), ConfigError);  // 2 labels for 10 classes

    // labels.txt beside a timm config.
    write_text(dir.file("config.json"), good);
    std::string lines;
    for (int i = 0; i < 10; ++i) lines += "label " + std::to_string(i) + "\n";
    write_text(dir.file("labels.txt"), lines);
    const Checkpoint ck = load_checkpoint(dir.path.string());
    EXPECT_EQ(ck.labels[9], "label 9");
    // The same file loads by its own path with the config beside it.
    EXPECT_EQ(load_checkpoint(dir.file("model.safetensors")).format, CheckpointFormat::Timm);
}

TEST(Checkpoint, HuggingFaceRejectsOtherActivations) {
    TempDir dir;
    fs::copy_file(kHf + "/model.safetensors", dir.file("model.safetensors"));
    std::ifstream in(kHf + "/config.json");
    std::string cfg((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    cfg.replace(cfg.find("\"gelu\""), 6, "\"gelu_new\"");
    write_text(dir.file("config.json"), cfg);
    EXPECT_THROW(load_checkpoint(dir.path.string()), ConfigError);
}

// timm's Hub layout: config.json names the architecture; the registration's arguments, then
// model_args, then the top-level num_classes and global_pool decide the shapes.
TEST(HubLayout, ArchitectureNameGivesTheRegistrationsShapesWhateverTheTag) {
    TempDir dir;
    fs::copy_file(std::string(VIT_TEST_DATA) + "/timm-hub/vit_base_patch16_siglip_224.webli-mini/model.safetensors",
                  dir.file("model.safetensors"));
    auto load_with = [&](const std::string& cfg) {
        write_text(dir.file("config.json"), cfg);
        return load_checkpoint(dir.path.string());
    };
    // The mini fixture's own config: siglip's registration (no class token, map pooling) made small.
    const std::string args = R"("model_args": {"img_size": 48, "embed_dim": 96, "depth": 2, "num_heads": 4})";
    Checkpoint ck = load_with(R"({"architecture": "vit_base_patch16_siglip_224.any_tag", "num_classes": 7, )" + args + "}");
    EXPECT_EQ(ck.config.embed_dim, 96);
    EXPECT_EQ(ck.config.patch_size, 16);  // from the registration
    EXPECT_FALSE(ck.config.class_token);
    EXPECT_EQ(ck.config.global_pool, GlobalPool::Map);
    EXPECT_EQ(ck.config.num_classes, 7);  // the top level wins
    EXPECT_EQ(ck.labels.size(), 7u);
    // Without model_args the registration's full size is expected, and the loader says so by name.
    ck = load_with(R"({"architecture": "vit_base_patch16_siglip_224", "num_classes": 7})");
    EXPECT_EQ(ck.config.embed_dim, 768);
    EXPECT_EQ(ck.config.depth, 12);
    // The top-level global_pool overrides the registration's.
    ck = load_with(R"({"architecture": "vit_base_patch16_siglip_224", "global_pool": "avg", )" + args + "}");
    EXPECT_EQ(ck.config.global_pool, GlobalPool::Avg);
    EXPECT_TRUE(ck.config.fc_norm);
}

TEST(HubLayout, UnknownArchitectureIsNamedWithTheClosestKnownNames) {
    TempDir dir;
    fs::copy_file(kTimm + "/model.safetensors", dir.file("model.safetensors"));
    write_text(dir.file("config.json"), R"({"architecture": "vit_tiny_patch16_244.augreg_in21k", "num_classes": 10})");
    const std::string msg = error_of<ConfigError>([&] { load_checkpoint(dir.path.string()); });
    EXPECT_NE(msg.find("'vit_tiny_patch16_244'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("vit_tiny_patch16_224"), std::string::npos) << msg;
    EXPECT_NE(msg.find(dir.file("config.json")), std::string::npos) << msg;
}

TEST(HubLayout, TableCoversEveryFamilyTheIssueNames) {
    const std::vector<std::string> names = timm_architectures();
    for (const char* want :
         {"vit_tiny_patch16_224", "vit_small_patch16_384", "vit_base_patch8_224", "vit_base_patch32_224",
          "vit_large_patch16_224", "vit_huge_patch14_224", "vit_giant_patch14_224", "vit_small_patch14_dinov2",
          "vit_small_patch14_reg4_dinov2", "vit_base_patch16_clip_224", "vit_base_patch16_clip_quickgelu_224",
          "vit_base_patch16_siglip_224", "deit_tiny_patch16_224", "deit_tiny_distilled_patch16_224",
          "deit3_small_patch16_224"})
        EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
    // Every entry parses into a valid configuration.
    for (const std::string& n : names) {
        try {
            config_from_json(timm_architecture_args(n), n);
        } catch (const std::exception& e) {
            ADD_FAILURE() << e.what();
        }
    }
}
