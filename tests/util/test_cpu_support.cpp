// What this CPU runs: the dtype table asked of oneDNN, the refusal of what it cannot run, our own
// kernels following ONEDNN_MAX_CPU_ISA, and `vit info`. The CLI tests run `vit` under caps
// (ONEDNN_MAX_CPU_ISA=AVX2, SSE41), so an AVX-512 machine checks what an AVX2 user sees.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "util/cpu_dispatch.hpp"
#include "vit/vit.hpp"

namespace {

namespace fs = std::filesystem;
using vit_test::quote;

const vit::Dtype kDtypes[] = {vit::Dtype::F32, vit::Dtype::BF16, vit::Dtype::Int8};

TEST(CpuSupport, NamesTheInstructionSetAndRunsF32OnIt) {
    const vit::CpuSupport& cpu = vit::cpu_support();
    EXPECT_FALSE(cpu.isa.empty());
    EXPECT_EQ(cpu.f32.mode, vit::DtypeMode::Native) << cpu.f32.note;
    EXPECT_FALSE(cpu.f32.kernel.empty());
    for (vit::Dtype d : kDtypes) {
        const vit::DtypeSupport& s = cpu.dtype(d);
        // A dtype that runs names the kernel oneDNN planned for it; one refused or emulated says why.
        EXPECT_EQ(s.kernel.empty(), s.mode == vit::DtypeMode::Refused) << vit::to_string(d);
        if (s.mode != vit::DtypeMode::Native) {
            EXPECT_FALSE(s.note.empty()) << vit::to_string(d);
        }
    }
}

TEST(CpuSupport, Int8AttentionRunsInBf16ExactlyWhereBf16Runs) {
    const vit::CpuSupport& cpu = vit::cpu_support();
    EXPECT_EQ(cpu.int8_attention, cpu.bf16.mode == vit::DtypeMode::Refused ? vit::Dtype::F32 : vit::Dtype::BF16);
}

TEST(CpuSupport, OurKernelsRunAtTheLevelOfOneDnnsInstructionSet) {
    const vit::CpuSupport& cpu = vit::cpu_support();
    const std::string expected = cpu.isa.rfind("AVX512", 0) == 0 ? "avx512"
                                 : cpu.isa.rfind("AVX2", 0) == 0 ? "avx2"
                                                                 : "baseline";
    EXPECT_EQ(cpu.vector_kernels, expected) << cpu.isa;
    EXPECT_EQ(vit::cpu::to_string(vit::cpu::vector_level()), expected);
}

TEST(CpuSupport, ARefusedDtypeThrowsUnsupportedErrorNamingTheIsaBeforeAnyWork) {
    const vit::CpuSupport& cpu = vit::cpu_support();
    bool any = false;
    const vit::Model model(vit::load_checkpoint(vit_test::kModel));
    for (vit::Dtype d : kDtypes) {
        if (cpu.dtype(d).mode != vit::DtypeMode::Refused) {
            EXPECT_NO_THROW(vit::require_dtype(d)) << vit::to_string(d);
            continue;
        }
        any = true;
        SCOPED_TRACE(vit::to_string(d));
        try {
            // A batch whose buffers could never be allocated: the refusal must come first.
            vit::Runner runner(model, 1 << 30, vit::RunOptions{}.with_dtype(d));
            ADD_FAILURE() << "a Runner was built in a refused dtype";
        } catch (const vit::UnsupportedError& e) {
            const std::string m = e.what();
            EXPECT_NE(m.find(cpu.isa), std::string::npos) << m;
            EXPECT_NE(m.find(vit::to_string(d)), std::string::npos) << m;
            EXPECT_NE(m.find("f32"), std::string::npos) << m;  // what to use instead
        }
    }
    if (!any) GTEST_SKIP() << "every dtype runs on " << cpu.isa << "; the CLI tests below check the refusal under a cap";
}

using Cli = vit_test::Cli;

TEST_F(Cli, EveryCommandWithDtypeRefusesBf16OnAvx2WithExitStatus2) {
    const std::string model = quote(vit_test::kModel), out = quote((tmp_ / "out").string());
    const std::string images = quote(vit_test::kSamples + "/cifar10");
    for (const std::string& args : std::vector<std::string>{
             "bench --model-config cifar-t --batch 2 --reps 1", "bench --model-config cifar-t --batch 2 --reps 1 --train",
          "classify --model " + model + " " + images, "explain --model " + model + " --output " + out + " " + images,
          "eval --model " + model + " --data " + images, "forward --model " + model + " --input x --output " + out,
          "train --model-config cifar-t --data " + images + " --output " + out,
          "train-step --model " + model + " --batch x --output " + out}) {
        SCOPED_TRACE(args);
        const vit_test::Result r = run_capped("AVX2", args + " --dtype bf16");
        EXPECT_CLEAN_EXIT(r, 2);
        EXPECT_NE(r.err.find("bf16"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("AVX2"), std::string::npos) << r.err;         // the instruction set found
        EXPECT_NE(r.err.find("AVX-512"), std::string::npos) << r.err;      // what bf16 needs
        EXPECT_NE(r.err.find("int8"), std::string::npos) << r.err;         // what to use instead
        EXPECT_EQ(r.err.find("primitive"), std::string::npos) << r.err;   // no oneDNN wording
        EXPECT_EQ(r.err.find("usage:"), std::string::npos) << r.err;      // a message, not the usage text
        EXPECT_TRUE(r.out.empty()) << r.out;
        EXPECT_FALSE(fs::exists(tmp_ / "out"));
    }
}

// Top-1 labels of `vit classify` CSV output, one per image.
std::vector<std::string> top1_labels(const std::string& csv) {
    std::vector<std::string> labels;
    for (const std::string& line : vit_test::lines_of(csv))
        if (line.rfind("path,", 0) != 0) labels.push_back(vit_test::csv_split(line).at(1));
    return labels;
}

TEST_F(Cli, Int8RunsOnAvx2WithF32AttentionAndAgreesWithF32) {
    const std::string args = "classify --model " + quote(vit_test::kSource + "/models/cifar-t-randaug.safetensors") +
                             " " + quote(vit_test::kSamples + "/cifar10");
    const vit_test::Result f32 = run_capped("AVX2", args);
    const vit_test::Result int8 = run_capped("AVX2", args + " --dtype int8");
    EXPECT_CLEAN_EXIT(f32, 0);
    EXPECT_CLEAN_EXIT(int8, 0);
    const std::vector<std::string> a = top1_labels(f32.out), b = top1_labels(int8.out);
    ASSERT_EQ(a.size(), 8u) << f32.out;
    ASSERT_EQ(b.size(), 8u) << int8.out;
    // The test-set agreement is measured in test_int8.cpp (run under this cap by scripts/test_cpu_caps.sh);
    // on 8 images one close call may flip.
    int same = 0;
    for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
    EXPECT_GE(same, 7) << "f32:\n" << f32.out << "int8:\n" << int8.out;
}

TEST_F(Cli, InfoPrintsTheCpuTheIsaEachDtypeTheThreadsAndTheVersions) {
    const vit_test::Result r = run("info");
    EXPECT_CLEAN_EXIT(r, 0);
    for (const std::string key : {"cpu:", "isa:", "dtype f32:", "dtype bf16:", "dtype int8:", "threads:",
                                  "oneDNN 2.", "OpenCV 4."})
        EXPECT_NE(r.out.find(key), std::string::npos) << key << " in\n" << r.out;
    EXPECT_NE(r.out.find(vit::cpu_support().isa), std::string::npos) << r.out;
}

TEST_F(Cli, InfoAsJsonShowsWhatSmallerCpusRun) {
    if (vit::cpu::vector_level() == vit::cpu::Vectors::Baseline)
        GTEST_SKIP() << "this CPU has no AVX2 (" << vit::cpu_support().isa << "): a cap cannot raise it";
    const vit_test::Result avx2 = run_capped("AVX2", "info --format json");
    EXPECT_CLEAN_EXIT(avx2, 0);
    const nlohmann::json j = nlohmann::json::parse(avx2.out);
    EXPECT_EQ(j["isa"], "AVX2");
    EXPECT_EQ(j["isa_cap"], "AVX2");
    EXPECT_EQ(j["vector_kernels"], "avx2");
    EXPECT_EQ(j["dtypes"]["f32"]["mode"], "native");
    EXPECT_EQ(j["dtypes"]["bf16"]["mode"], "refused");
    EXPECT_NE(j["dtypes"]["int8"]["mode"], "refused");
    EXPECT_EQ(j["dtypes"]["int8"]["attention"], "f32");
    EXPECT_GE(j["threads"].get<int>(), 1);
    EXPECT_FALSE(j["versions"]["onednn"].get<std::string>().empty());

    const vit_test::Result sse = run_capped("SSE41", "info --format json");
    EXPECT_CLEAN_EXIT(sse, 0);
    const nlohmann::json k = nlohmann::json::parse(sse.out);
    EXPECT_EQ(k["isa"], "SSE41");
    EXPECT_EQ(k["vector_kernels"], "baseline");
    EXPECT_EQ(k["dtypes"]["bf16"]["mode"], "refused");
}

TEST_F(Cli, InfoSaysWhenTheIsaCapNamesNothingOneDnnKnows) {
    const vit_test::Result r = run_capped("AVX3000", "info");
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_NE(r.out.find("ONEDNN_MAX_CPU_ISA=AVX3000 names no instruction set oneDNN knows: ignored"),
              std::string::npos) << r.out;
    const vit_test::Result lower = run_capped("sse41", "info --format json");
    EXPECT_CLEAN_EXIT(lower, 0);
    const nlohmann::json j = nlohmann::json::parse(lower.out);
    EXPECT_EQ(j["isa"], "SSE41");  // oneDNN reads the cap case-insensitively
    EXPECT_EQ(j["isa_cap_ignored"], false);
}

TEST_F(Cli, InfoRefusesAnUnknownFormat) {
    const vit_test::Result r = run("info --format yaml");
    EXPECT_CLEAN_EXIT(r, 2);
    EXPECT_NE(r.err.find("yaml"), std::string::npos) << r.err;
}

TEST_F(Cli, AModelThatLooksLikeAPathIsAMissingFileNotAHubId) {
    for (const std::string spec : {"models/nope.safetensors", "./nope", "some/where/model"}) {
        SCOPED_TRACE(spec);
        const vit_test::Result r = run("classify --model " + quote(spec) + " " + quote(vit_test::kSamples + "/cifar10"));
        EXPECT_CLEAN_EXIT(r, 1);
        EXPECT_NE(r.err.find("no such file"), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find("huggingface-cli"), std::string::npos) << r.err;
    }
}

}  // namespace
