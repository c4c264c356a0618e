// Exports (export.hpp): timm Hub folders and Hugging Face ViT folders that load back to the same model,
// the architecture each names, what Hugging Face's ViT cannot express, the output folder's rules, and
// `vit export` end to end. Loading into timm itself is checked by scripts/check_export_with_timm.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <utility>

#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "reference_vit.hpp"
#include "expect_error.hpp"
#include "temp_dir.hpp"
#include "vit/vit.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using vit_test::TempDir;

namespace {

const std::string kHubData = std::string(VIT_TEST_DATA) + "/timm-hub";
const std::string kCifarT = std::string(VIT_SOURCE_DIR) + "/models/cifar-t.safetensors";

using vit_test::error_of;

vit::Tensor random_input(const vit::ViTConfig& c, int n, unsigned seed) {
    vit::Tensor x({n, c.in_chans, c.img_h, c.img_w});
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (float& v : x.data) v = d(rng);
    return x;
}

float max_abs_diff(const vit::Tensor& a, const vit::Tensor& b) {
    float m = 0;
    for (size_t i = 0; i < a.data.size(); ++i) m = std::max(m, std::fabs(a.data[i] - b.data[i]));
    return m;
}

json read_json(const std::string& path) { return json::parse(vit_test::read_file(path)); }

std::vector<std::string> names_of(const vit::TensorMap& m) {
    std::vector<std::string> out;
    for (const auto& kv : m) out.push_back(kv.first);
    return out;
}

vit::ViTConfig small_config() {
    vit::ViTConfig c;
    c.img_h = c.img_w = 32;
    c.patch_size = 8;
    c.embed_dim = 32;
    c.depth = 2;
    c.num_heads = 2;
    c.num_classes = 5;
    return c;
}

// A model with non-trivial weights, its own labels and a preprocessing that differs from the defaults.
vit::Checkpoint checkpoint_of(const vit::ViTConfig& cfg, unsigned seed) {
    vit::Checkpoint ck = vit::reference::random_model(cfg, seed).to_checkpoint();
    for (int i = 0; i < cfg.num_classes; ++i) ck.labels[size_t(i)] = "label " + std::to_string(i) + " (é)";
    ck.preprocess.mean = {0.485f, 0.456f, 0.406f};
    ck.preprocess.std = {0.229f, 0.224f, 0.225f};
    ck.preprocess.crop_pct = 0.875;
    return ck;
}

// The same model, labels and preprocessing, and the same logits to the last bit.
void expect_same_model(const vit::Checkpoint& want, const vit::Checkpoint& got) {
    EXPECT_EQ(vit::config_to_json(got.config), vit::config_to_json(want.config));
    EXPECT_EQ(got.labels, want.labels);
    EXPECT_EQ(vit::preprocess_to_json(got.preprocess), vit::preprocess_to_json(want.preprocess));
    const vit::Model a(want), b(got);
    EXPECT_TRUE(b.unused_tensors().empty()) << "unused tensor " << b.unused_tensors().front();
    const vit::Tensor x = random_input(want.config, 2, 7);
    const vit::Tensor la = vit::run_forward(a, x, 2), lb = vit::run_forward(b, x, 2);
    ASSERT_EQ(la.shape, lb.shape);
    EXPECT_EQ(max_abs_diff(la, lb), 0.0f) << "logits differ";
}

struct Variant {
    const char* name;
    std::function<void(vit::ViTConfig&)> change;
    const char* architecture;  // the registration the export should name
};
void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

class TimmExport : public ::testing::TestWithParam<Variant> {};

TEST_P(TimmExport, LoadsBackAsTheSameModelUnderTheClosestArchitecture) {
    vit::ViTConfig cfg = small_config();
    GetParam().change(cfg);
    const vit::Checkpoint ck = checkpoint_of(cfg, 11);
    TempDir dir("vit_export");
    const std::string out = dir.file("timm");

    const vit::ExportReport report = vit::export_timm_folder(out, ck);
    EXPECT_EQ(report.architecture, GetParam().architecture);
    EXPECT_TRUE(report.approximations.empty());
    const vit::Checkpoint back = vit::load_checkpoint(out);
    EXPECT_EQ(back.format, vit::CheckpointFormat::Timm);
    expect_same_model(ck, back);

    // Exactly timm's state_dict: the model's parameters, nothing else.
    std::vector<std::string> want;
    for (const vit::ParamView& v : vit::param_layout(cfg).views) want.push_back(v.name);
    std::sort(want.begin(), want.end());
    EXPECT_EQ(names_of(vit::read_safetensors(out + "/model.safetensors").tensors), want);

    const json c = read_json(out + "/config.json");
    EXPECT_EQ(c.at("architecture"), GetParam().architecture);
    EXPECT_EQ(c.at("num_classes"), cfg.num_classes);
    EXPECT_EQ(c.at("num_features"), cfg.embed_dim);
    EXPECT_EQ(c.at("global_pool"), vit::to_string(cfg.global_pool));
    for (const char* key : {"img_size", "patch_size", "in_chans", "embed_dim", "depth", "num_heads"})
        EXPECT_TRUE(c.at("model_args").contains(key)) << "model_args lacks " << key;
    EXPECT_FALSE(c.at("model_args").contains("num_classes")) << "num_classes belongs at the top level";
    EXPECT_EQ(c.at("pretrained_cfg").at("input_size"), json({3, cfg.img_h, cfg.img_w}));
    EXPECT_EQ(c.at("pretrained_cfg").at("mean"), json({0.485, 0.456, 0.406}));
}

INSTANTIATE_TEST_SUITE_P(
    Variants, TimmExport,
    ::testing::Values(
        // Patch 8: DINO's plain ViT-S/8 is the only registration of that patch size.
        Variant{"plain_token_pool", [](vit::ViTConfig&) {}, "vit_small_patch8_224"},
        Variant{"layerscale_registers_no_embed_class",
                [](vit::ViTConfig& c) {
                    c.img_h = c.img_w = 28;
                    c.patch_size = 14;
                    c.init_values = 1e-5f;
                    c.reg_tokens = 4;
                    c.no_embed_class = true;
                },
                "vit_small_patch14_reg4_dinov2"},
        Variant{"distilled",
                [](vit::ViTConfig& c) {
                    c.distilled = true;
                    c.patch_size = 16;
                },
                "deit_tiny_distilled_patch16_224"},
        Variant{"map_pool",
                [](vit::ViTConfig& c) {
                    c.class_token = false;
                    c.global_pool = vit::GlobalPool::Map;
                    c.patch_size = 16;
                },
                "vit_base_patch16_siglip_224"},
        Variant{"no_classifier_avg_pool",
                [](vit::ViTConfig& c) {
                    c.num_classes = 0;
                    c.global_pool = vit::GlobalPool::Avg;
                    c.fc_norm = true;
                    c.patch_size = 4;  // no registration shares patch size, width or depth: the generic one
                },
                "vit_base_patch16_224"},
        Variant{"clip_pre_norm_quick_gelu",
                [](vit::ViTConfig& c) {
                    c.pre_norm = true;
                    c.ln_eps = 1e-5f;
                    c.act = vit::Activation::QuickGelu;
                    c.patch_size = 16;
                },
                "vit_base_patch16_clip_quickgelu_224"}),
    [](const ::testing::TestParamInfo<Variant>& info) { return std::string(info.param.name); });

TEST(TimmExport, HubModelsExportUnderTheirFamilysNearestSizeWithOnlyShapesInModelArgs) {
    // The "-mini" models are far smaller than any registration: the nearest of the family is chosen.
    const std::pair<const char*, const char*> cases[] = {
        {"vit_small_patch14_reg4_dinov2.lvd142m-mini", "vit_small_patch14_reg4_dinov2"},
        {"vit_base_patch16_siglip_224.webli-mini", "vit_base_patch16_siglip_224"},
        {"vit_base_patch16_clip_224.openai-mini", "vit_xsmall_patch16_clip_224"},
    };
    for (const auto& [name, architecture] : cases) {
        const vit::Checkpoint ck = vit::load_checkpoint(kHubData + "/" + name);
        TempDir dir("vit_export");
        EXPECT_EQ(vit::export_timm_folder(dir.file("out"), ck).architecture, architecture) << name;
        const json args = read_json(dir.file("out/config.json")).at("model_args");
        std::vector<std::string> keys;
        for (auto it = args.begin(); it != args.end(); ++it) keys.push_back(it.key());
        EXPECT_EQ(keys, (std::vector<std::string>{"depth", "embed_dim", "img_size", "in_chans", "num_heads",
                                                  "patch_size"}))
            << name;
        expect_same_model(ck, vit::load_checkpoint(dir.file("out")));
    }
}

TEST(TimmExport, DirectResizeIsWrittenAsSquashWithoutCropAndReadBack) {
    vit::Checkpoint ck = checkpoint_of(small_config(), 3);
    ck.preprocess.resize_mode = vit::ResizeMode::Direct;
    ck.preprocess.interpolation = vit::Interpolation::Bilinear;
    ck.preprocess.crop_pct = 1.0;
    TempDir dir("vit_export");
    vit::export_timm_folder(dir.file("out"), ck);
    const json pc = read_json(dir.file("out/config.json")).at("pretrained_cfg");
    EXPECT_EQ(pc.at("crop_mode"), "squash");
    EXPECT_EQ(pc.at("crop_pct"), 1.0);
    expect_same_model(ck, vit::load_checkpoint(dir.file("out")));
}

// Every crop mode goes out under timm's name with its own crop_pct (a Hugging Face DeiT folder loads as
// squash with crop_pct 224/256) and comes back as the same mode.
TEST(TimmExport, CropModesAreWrittenUnderTimmsNamesAndReadBack) {
    const std::pair<vit::ResizeMode, const char*> modes[] = {{vit::ResizeMode::ShorterSideCrop, "center"},
                                                             {vit::ResizeMode::Squash, "squash"},
                                                             {vit::ResizeMode::Border, "border"}};
    for (const auto& [mode, name] : modes) {
        vit::Checkpoint ck = checkpoint_of(small_config(), 3);
        ck.preprocess.resize_mode = mode;
        TempDir dir("vit_export");
        vit::export_timm_folder(dir.file("out"), ck);
        const json pc = read_json(dir.file("out/config.json")).at("pretrained_cfg");
        EXPECT_EQ(pc.at("crop_mode"), name);
        EXPECT_EQ(pc.at("crop_pct"), 0.875) << name;
        expect_same_model(ck, vit::load_checkpoint(dir.file("out")));
    }
}

TEST(TimmExport, TokenAvgPoolingWhichTimmLacksIsAConfigErrorNamingIt) {
    vit::ViTConfig cfg = small_config();
    cfg.global_pool = vit::GlobalPool::TokenAvg;  // Hugging Face's Dinov2ForImageClassification head
    TempDir dir("vit_export");
    const std::string msg =
        error_of<vit::ConfigError>([&] { vit::export_timm_folder(dir.file("out"), checkpoint_of(cfg, 1)); });
    EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'token_avg'"), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(dir.file("out")));
}

TEST(TimmExport, LayerNormEpsThatNoRegistrationHasIsAConfigErrorNamingIt) {
    vit::ViTConfig cfg = small_config();
    cfg.ln_eps = 1e-12f;  // Hugging Face's default
    TempDir dir("vit_export");
    const std::string msg =
        error_of<vit::ConfigError>([&] { vit::export_timm_folder(dir.file("out"), checkpoint_of(cfg, 1)); });
    EXPECT_NE(msg.find("eps 1e-12"), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(dir.file("out"))) << "nothing is written for a model that cannot be exported";
}

TEST(TimmExport, MissingTensorIsAShapeErrorNamingIt) {
    vit::Checkpoint ck = checkpoint_of(small_config(), 1);
    ck.weights.erase("blocks.1.mlp.fc2.bias");
    TempDir dir("vit_export");
    const std::string msg = error_of<vit::ShapeError>([&] { vit::export_timm_folder(dir.file("out"), ck); });
    EXPECT_NE(msg.find("blocks.1.mlp.fc2.bias"), std::string::npos) << msg;
}

TEST(HfExport, PlainModelLoadsBackAsTheSameModelWithSplitQkv) {
    vit::ViTConfig cfg = small_config();
    cfg.qkv_bias = false;
    cfg.ln_eps = 1e-12f;
    vit::Checkpoint ck = checkpoint_of(cfg, 5);
    ck.preprocess.resize_mode = vit::ResizeMode::Direct;  // what ViTImageProcessor does
    ck.preprocess.interpolation = vit::Interpolation::Bilinear;
    ck.preprocess.crop_pct = 1.0;
    TempDir dir("vit_export");
    const vit::ExportReport report = vit::export_hf_folder(dir.file("hf"), ck);
    EXPECT_TRUE(report.approximations.empty());
    const vit::Checkpoint back = vit::load_checkpoint(dir.file("hf"));
    EXPECT_EQ(back.format, vit::CheckpointFormat::HuggingFace);
    expect_same_model(ck, back);

    const vit::SafeTensors st = vit::read_safetensors(dir.file("hf/model.safetensors"));
    EXPECT_EQ(st.metadata.at("format"), "pt") << "transformers refuses safetensors files without it";
    EXPECT_EQ(st.tensors.at("vit.encoder.layer.1.attention.attention.key.weight").shape, (vit::Shape{32, 32}));
    EXPECT_EQ(st.tensors.count("vit.encoder.layer.1.attention.attention.key.bias"), 0u);
    EXPECT_EQ(st.tensors.at("classifier.weight").shape, (vit::Shape{5, 32}));
    const json c = read_json(dir.file("hf/config.json"));
    EXPECT_EQ(c.at("model_type"), "vit");
    EXPECT_EQ(c.at("intermediate_size"), 128);
    EXPECT_EQ(c.at("id2label").at("4"), ck.labels[4]);
    EXPECT_EQ(c.at("label2id").at(ck.labels[4]), 4);
    const json p = read_json(dir.file("hf/preprocessor_config.json"));
    EXPECT_EQ(p.at("image_processor_type"), "ViTImageProcessor");
    EXPECT_EQ(p.at("resample"), 2);
    EXPECT_EQ(p.at("size"), json({{"height", 32}, {"width", 32}}));
}

TEST(HfExport, FolderWrittenByTransformersComesBackWithItsTensorsConfigAndPreprocessor) {
    const std::string hf = std::string(VIT_TEST_DATA) + "/hf-vit-small32";
    TempDir dir("vit_export");
    vit::export_hf_folder(dir.file("hf"), vit::load_checkpoint(hf));
    const vit::SafeTensors want = vit::read_safetensors(hf + "/model.safetensors");
    const vit::SafeTensors got = vit::read_safetensors(dir.file("hf/model.safetensors"));
    ASSERT_EQ(names_of(got.tensors), names_of(want.tensors));
    for (const auto& [name, t] : want.tensors) {
        EXPECT_EQ(got.tensors.at(name).shape, t.shape) << name;
        EXPECT_EQ(got.tensors.at(name).data, t.data) << name;
    }
    // Every key written has transformers' value (the fixture holds more: dtype, pooler sizes, ...).
    const json want_cfg = read_json(hf + "/config.json"), got_cfg = read_json(dir.file("hf/config.json"));
    for (auto it = got_cfg.begin(); it != got_cfg.end(); ++it)
        EXPECT_EQ(*it, want_cfg.at(it.key())) << it.key();
    EXPECT_EQ(read_json(dir.file("hf/preprocessor_config.json")), read_json(hf + "/preprocessor_config.json"));
}

TEST(HfExport, ModelWithoutClassifierLoadsBackWithoutOne) {
    vit::ViTConfig cfg = small_config();
    cfg.num_classes = 0;
    vit::Checkpoint ck = checkpoint_of(cfg, 9);
    ck.preprocess.resize_mode = vit::ResizeMode::Direct;
    ck.preprocess.crop_pct = 1.0;
    TempDir dir("vit_export");
    vit::export_hf_folder(dir.file("hf"), ck);
    EXPECT_EQ(read_json(dir.file("hf/config.json")).at("id2label"), json::object());
    expect_same_model(ck, vit::load_checkpoint(dir.file("hf")));
}

TEST(HfExport, ShorterSideCropIsReportedAsAnApproximation) {
    TempDir dir("vit_export");
    const vit::ExportReport report = vit::export_hf_folder(dir.file("hf"), checkpoint_of(small_config(), 2));
    ASSERT_EQ(report.approximations.size(), 1u);
    EXPECT_NE(report.approximations[0].find("crop_pct 0.875"), std::string::npos) << report.approximations[0];
}

TEST(HfExport, SquashIsExactWithoutACropAndAnApproximationWithOne) {
    vit::Checkpoint ck = checkpoint_of(small_config(), 2);
    ck.preprocess.resize_mode = vit::ResizeMode::Squash;
    TempDir dir("vit_export");
    vit::ExportReport report = vit::export_hf_folder(dir.file("hf"), ck);
    ASSERT_EQ(report.approximations.size(), 1u);
    EXPECT_NE(report.approximations[0].find("both sides"), std::string::npos) << report.approximations[0];
    ck.preprocess.crop_pct = 1.0;
    report = vit::export_hf_folder(dir.file("hf"), ck);
    EXPECT_TRUE(report.approximations.empty()) << report.approximations[0];
}

TEST(HfExport, UnsupportedModelIsAConfigErrorNamingEachFeature) {
    const vit::Checkpoint dinov2 = vit::load_checkpoint(kHubData + "/vit_small_patch14_reg4_dinov2.lvd142m-mini");
    TempDir dir("vit_export");
    std::string msg = error_of<vit::ConfigError>([&] { vit::export_hf_folder(dir.file("hf"), dinov2); });
    EXPECT_NE(msg.find("LayerScale"), std::string::npos) << msg;
    EXPECT_NE(msg.find("register tokens (reg_tokens=4)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("no_embed_class"), std::string::npos) << msg;

    const vit::Checkpoint siglip = vit::load_checkpoint(kHubData + "/vit_base_patch16_siglip_224.webli-mini");
    msg = error_of<vit::ConfigError>([&] { vit::export_hf_folder(dir.file("hf"), siglip); });
    EXPECT_NE(msg.find("global_pool 'map'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("class_token=false"), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(dir.file("hf")));
}

TEST(ExportFolder, ForeignFilesAreNeverOverwritten) {
    TempDir dir("vit_export");
    const vit::Checkpoint ck = checkpoint_of(small_config(), 4);
    std::ofstream(dir.file("notes.txt")) << "mine";
    const std::string msg = error_of<vit::IoError>([&] { vit::export_timm_folder(dir.path.string(), ck); });
    EXPECT_NE(msg.find("notes.txt"), std::string::npos) << msg;

    // A folder with timm's file names but weights no export wrote (a downloaded model) is refused too.
    const std::string hub = dir.file("hub");
    fs::create_directories(hub);
    vit::write_safetensors(hub + "/model.safetensors", ck.weights);
    std::ofstream(hub + "/config.json") << "{}";
    EXPECT_THROW(vit::export_timm_folder(hub, ck), vit::IoError);
    EXPECT_EQ(vit_test::read_file(hub + "/config.json"), "{}");
}

TEST(ExportFolder, AnEarlierExportIsReplacedAndTheOtherFormatsFilesRemoved) {
    TempDir dir("vit_export");
    const std::string out = dir.file("out");
    const vit::Checkpoint ck = checkpoint_of(small_config(), 6);
    vit::export_hf_folder(out, ck);
    ASSERT_TRUE(fs::exists(out + "/preprocessor_config.json"));
    vit::export_timm_folder(out, ck);
    EXPECT_FALSE(fs::exists(out + "/preprocessor_config.json"));
    EXPECT_EQ(vit::load_checkpoint(out).format, vit::CheckpointFormat::Timm);
    vit::export_hf_folder(out, ck);
    EXPECT_EQ(vit::load_checkpoint(out).format, vit::CheckpointFormat::HuggingFace);
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(out)) files.push_back(e.path().filename().string());
    std::sort(files.begin(), files.end());
    EXPECT_EQ(files, (std::vector<std::string>{"config.json", "model.safetensors", "preprocessor_config.json"}));
}

class ExportCli : public vit_test::Cli {
protected:
    // `vit forward` logits of model on a fixed random input.
    vit::Tensor logits_of(const std::string& model, const vit::ViTConfig& cfg) {
        const fs::path in = tmp_ / "input.safetensors", out = tmp_ / "logits.safetensors";
        if (!fs::exists(in)) vit::write_safetensors(in.string(), {{"input", random_input(cfg, 3, 21)}});
        const vit_test::Result r = run("forward --model " + vit_test::quote(model) + " --input " +
                                       vit_test::quote(in.string()) + " --output " + vit_test::quote(out.string()));
        EXPECT_CLEAN_EXIT(r, 0);
        return vit::read_safetensors(out.string()).tensors.at("logits");
    }
};

TEST_F(ExportCli, BundledModelExportedInBothFormatsGivesTheSameLogits) {
    const vit::Checkpoint ck = vit::load_checkpoint(kCifarT);
    const vit::Tensor want = logits_of(kCifarT, ck.config);
    for (const char* format : {"timm", "hf"}) {
        const std::string out = (tmp_ / format).string();
        const vit_test::Result r =
            run(std::string("export --model ") + vit_test::quote(kCifarT) + " --output " + vit_test::quote(out) +
                " --format " + format);
        EXPECT_CLEAN_EXIT(r, 0);
        EXPECT_NE(r.err.find("wrote " + out), std::string::npos) << r.err;
        EXPECT_EQ(max_abs_diff(logits_of(out, ck.config), want), 0.0f) << format;
        EXPECT_EQ(vit::load_checkpoint(out).labels, ck.labels) << format;
    }
    EXPECT_EQ(read_json((tmp_ / "timm/config.json").string()).at("architecture"), "vit_base_patch16_224");
}

TEST_F(ExportCli, BadFormatIsAUsageErrorAndInexpressibleModelAFailureNamingTheFeature) {
    vit_test::Result r = run("export --model " + vit_test::quote(kCifarT) + " --output " +
                             vit_test::quote((tmp_ / "x").string()) + " --format tflite");
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("--format must be timm, hf or onnx"), std::string::npos) << r.err;

    r = run("export --model " + vit_test::quote(kHubData + "/vit_base_patch16_clip_224.openai-mini") + " --output " +
            vit_test::quote((tmp_ / "x").string()) + " --format hf");
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("pre_norm"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(tmp_ / "x"));
}

TEST_F(ExportCli, Int8IsForOnnxOnlyWithA7Or8BitWeightGridAndItsFileSaysSo) {
    const std::string model = vit_test::quote(kCifarT), out = vit_test::quote((tmp_ / "m.onnx").string());
    for (const std::string bad : {"--format timm --dtype int8", "--format onnx --dtype bf16",
                                  "--format onnx --dtype int8 --int8-weight-bits 9",
                                  "--format onnx --int8-weight-bits 7"}) {
        SCOPED_TRACE(bad);
        const vit_test::Result r = run("export --model " + model + " --output " + out + " " + bad);
        EXPECT_CLEAN_EXIT(r, 2);
        EXPECT_FALSE(fs::exists(tmp_ / "m.onnx"));
    }
    const vit_test::Result r =
        run("export --model " + model + " --output " + out + " --format onnx --dtype int8 --int8-weight-bits 7");
    EXPECT_CLEAN_EXIT(r, 0);
    const std::string bytes = vit_test::read_file(tmp_ / "m.onnx");
    EXPECT_NE(bytes.find("MatMulInteger"), std::string::npos);
    EXPECT_NE(bytes.find("vit.int8_weight_levels"), std::string::npos);
    EXPECT_NE(r.err.find("int8"), std::string::npos) << r.err;
}

}  // namespace
