#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <utility>
#include <vector>

#include "expect_error.hpp"
#include "temp_dir.hpp"
#include "vit/io/architectures.hpp"
#include "vit/model/checkpoint.hpp"
#include "vit/util/error.hpp"
#include "vit/io/safetensors.hpp"
#include "vit/io/checkpoint.hpp"

namespace fs = std::filesystem;
using namespace vit;

namespace {

const std::string kTimm = std::string(VIT_TEST_DATA) + "/timm-vit-small32";
const std::string kHf = std::string(VIT_TEST_DATA) + "/hf-vit-small32";

using vit_test::TempDir;

void write_text(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

using vit_test::error_of;

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

    // Reference from torch.nn.functional.interpolate(mode="bicubic", align_corners=False,
    // antialias=True) (PyTorch 1.13) on a (gh=2, gw=3, C=2) grid with values v_i = 0.1 i^2 - i.
    std::vector<float> src(12);
    for (int i = 0; i < 12; ++i) src[i] = static_cast<float>(i) * static_cast<float>(i) * 0.1f - static_cast<float>(i);
    const std::vector<float> up = {
        0.348501593f,  -0.68756938f,  -0.378402025f, -1.26189625f,  -1.60000002f, -2.20588231f,  -2.33801579f,
        -2.66628599f,  -2.68812442f,  -2.86381769f,  -0.413908362f, -1.09552562f, -0.870405197f, -1.39944553f,
        -1.60000002f,  -1.85142851f,  -1.84601283f,  -1.81982946f,  -1.92571449f, -1.74695432f,  -1.92571425f,
        -1.90447426f,  -1.84601307f,  -1.67219615f,  -1.60000002f,  -1.14857137f, -0.870405018f, -0.14136444f,
        -0.413908422f, 0.467708886f,  -2.68812394f,  -2.31243038f,  -2.33801603f, -1.80974519f,  -1.5999999f,
        -0.79411763f,  -0.378401905f, 0.705092371f,  0.348501623f,  1.58457255f};
    const std::vector<float> got = resample_grid_bicubic(src.data(), 2, 3, 2, 4, 5);
    ASSERT_EQ(got.size(), up.size());
    for (size_t i = 0; i < up.size(); ++i) EXPECT_NEAR(got[i], up[i], 1e-5) << i;
    const std::vector<float> down = {-1.35601914f, -1.53210258f, -1.35601926f, -0.979935706f};
    const std::vector<float> got_down = resample_grid_bicubic(src.data(), 2, 3, 2, 1, 2);
    ASSERT_EQ(got_down.size(), down.size());
    for (size_t i = 0; i < down.size(); ++i) EXPECT_NEAR(got_down[i], down[i], 1e-5) << i;
}

// timm's own set_input_size on small models of each prefix layout
// (tests/fixtures/pos_embed_resample.safetensors, made by scripts/make_pos_embed_fixtures.py).
TEST(Checkpoint, SetImageSizeResamplesPosEmbedAsTimmDoesForEveryPrefixLayout) {
    const SafeTensors ref = read_safetensors(std::string(VIT_TEST_DATA) + "/pos_embed_resample.safetensors");
    struct Variant {
        const char* name;
        int img, patch, dim;
        bool distilled;
        int reg_tokens;
        bool no_embed_class;
        int prefix_rows;  // rows of pos_embed before the patch grid
        std::vector<std::pair<int, int>> sizes;
    };
    const Variant variants[] = {
        {"deit_distilled", 96, 16, 8, true, 0, false, 2, {{128, 160}, {64, 48}, {48, 144}}},
        {"dinov2_reg4", 70, 14, 12, false, 4, true, 0, {{98, 126}, {42, 56}, {28, 112}}},
        {"deit3", 96, 16, 8, false, 0, true, 0, {{128, 128}, {48, 64}}},
        {"reg3_embed_class", 96, 16, 8, false, 3, false, 4, {{112, 80}, {32, 64}}},
    };
    for (const Variant& v : variants) {
        Checkpoint base;
        base.source = v.name;
        base.config.img_h = base.config.img_w = v.img;
        base.config.patch_size = v.patch;
        base.config.embed_dim = v.dim;
        base.config.num_heads = 2;
        base.config.distilled = v.distilled;
        base.config.reg_tokens = v.reg_tokens;
        base.config.no_embed_class = v.no_embed_class;
        base.preprocess.height = base.preprocess.width = v.img;
        ASSERT_EQ(base.config.pos_tokens() - base.config.num_patches(), v.prefix_rows) << v.name;
        base.weights.emplace("pos_embed", ref.tensors.at(std::string(v.name) + ".pos_embed"));
        for (const auto& [h, w] : v.sizes) {
            const std::string key = std::string(v.name) + "." + std::to_string(h) + "x" + std::to_string(w);
            const Tensor& expected = ref.tensors.at(key);
            Checkpoint ck = base;
            set_image_size(ck, h, w);
            const Tensor& got = ck.weights.at("pos_embed");
            ASSERT_EQ(got.shape, expected.shape) << key;
            ASSERT_EQ(got.shape, (Shape{1, v.prefix_rows + (h / v.patch) * (w / v.patch), v.dim})) << key;
            double max_abs = 0.0;
            for (int64_t i = 0; i < got.numel(); ++i)
                max_abs = std::max(max_abs, std::fabs(static_cast<double>(got.data[i]) - expected.data[i]));
            std::cout << "[pos_embed] " << key << ": max abs diff " << max_abs << "\n";
            EXPECT_LE(max_abs, 1e-5) << key;
        }
    }
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
    with("\"crop_mode\": \"center\"", "\"crop_mode\": \"centre\"");
    EXPECT_THROW(load_checkpoint(dir.path.string()), ConfigError);
    // "squash" with crop_pct 1 is a direct resize, and reads as one.
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

TEST(Checkpoint, TimmCropModesBecomeResizeModesAndUnknownOnesAreRefusedByName) {
    TempDir dir;
    fs::copy_file(kTimm + "/model.safetensors", dir.file("model.safetensors"));
    std::ifstream in(kTimm + "/config.json");
    const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto with_mode = [&](const std::string& mode) {
        std::string s = good;
        const std::string from = "\"crop_mode\": \"center\"";
        s.replace(s.find(from), from.size(), "\"crop_mode\": " + mode);
        write_text(dir.file("config.json"), s);
    };
    const std::pair<const char*, ResizeMode> modes[] = {{"\"center\"", ResizeMode::ShorterSideCrop},
                                                        // crop_pct is 1 here: squash is a direct resize
                                                        {"\"squash\"", ResizeMode::Direct},
                                                        {"\"border\"", ResizeMode::Border},
                                                        {"null", ResizeMode::ShorterSideCrop}};
    for (const auto& [name, mode] : modes) {
        with_mode(name);
        EXPECT_EQ(load_checkpoint(dir.path.string()).preprocess.resize_mode, mode) << name;
    }
    with_mode("\"shorter_side_crop\"");  // our native name is not one of timm's
    const std::string msg = error_of<ConfigError>([&] { load_checkpoint(dir.path.string()); });
    EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("crop_mode"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'shorter_side_crop'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("center, squash or border"), std::string::npos) << msg;
    with_mode("1");
    EXPECT_NE(error_of<ConfigError>([&] { load_checkpoint(dir.path.string()); }).find("crop_mode"), std::string::npos);
}

TEST(Checkpoint, NativeFilesKeepEveryResizeModeUnderItsOwnName) {
    TempDir dir;
    Checkpoint ck = load_checkpoint(kTimm);
    const std::string path = dir.file("native.safetensors");
    const std::pair<ResizeMode, const char*> modes[] = {{ResizeMode::ShorterSideCrop, "shorter_side_crop"},
                                                        {ResizeMode::Squash, "squash"},
                                                        {ResizeMode::Border, "border"},
                                                        {ResizeMode::Direct, "direct"}};
    for (const auto& [mode, name] : modes) {
        ck.preprocess.resize_mode = mode;
        EXPECT_NE(preprocess_to_json(ck.preprocess).find(std::string("\"resize_mode\":\"") + name + "\""),
                  std::string::npos)
            << name;
        EXPECT_EQ(parse_resize_mode(name), mode) << name;
        save_checkpoint(path, ck);
        EXPECT_EQ(load_checkpoint(path).preprocess.resize_mode, mode) << name;
    }
    // timm's names are not the file's: "center" is refused, naming the metadata key.
    SafeTensors st = read_safetensors(path);
    std::string pre = st.metadata.at("vit.preprocess");
    pre.replace(pre.find("\"direct\""), 8, "\"center\"");
    st.metadata["vit.preprocess"] = pre;
    write_safetensors(path, st.tensors, st.metadata);
    const std::string msg = error_of<ConfigError>([&] { load_checkpoint(path); });
    EXPECT_NE(msg.find("vit.preprocess"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'center'"), std::string::npos) << msg;
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

// Hostile sizes are refused by name before anything is allocated (a depth of 10^8 used to hang, an
// embed_dim of 10^9 overflowed the MLP width).
TEST(Checkpoint, AbsurdSizesAreRefusedByNameBeforeAllocation) {
    for (const auto& [json, field] : std::vector<std::pair<std::string, std::string>>{
             {R"({"depth": 100000000})", "depth"},
             {R"({"embed_dim": 1000000000, "num_heads": 1})", "embed_dim"},
             {R"({"num_classes": 100000000})", "num_classes"},
             {R"({"mlp_ratio": 1e9})", "mlp_ratio"},
             {R"({"reg_tokens": 100000})", "reg_tokens"},
             {R"({"img_size": 1000000})", "img_size"}}) {
        const std::string msg = error_of<ConfigError>([&] { config_from_json(json, "cfg.json"); });
        EXPECT_NE(msg.find(field), std::string::npos) << json << ": " << msg;
        EXPECT_NE(msg.find("cfg.json"), std::string::npos) << msg;
    }
}
