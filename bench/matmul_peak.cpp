// vit_matmul_peak: oneDNN's own matrix-product throughput on this machine, the ceiling against which
// scripts/bench_all.sh reads the models' speed ("fraction of peak"). It runs the library's Matmul
// (vit/layers/matmul.hpp) as the inference path does: dst (M, N) = src (M, K) · wei (K, N) with the
// weights packed once into oneDNN's preferred layout: f32 or bf16 inputs with f32 output, or (int8) u8
// activations x s8 weights with s32 output, the product of the int8 Linear layers. The default shape
// is fc1 of vit_base_patch16_224 at batch 32 (6304 token rows, 768 -> 3072).
//
//   vit_matmul_peak [M K N [REPS [DTYPE...]]]     (threads: OMP_NUM_THREADS)
//
// One JSON line per dtype: the median over REPS of the wall time of one product, its GFLOP/s
// (2·M·K·N / time) and the kernel oneDNN chose; for a dtype this CPU refuses (cpu_support.hpp), why.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cmath>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vit/util/cpu_support.hpp"
#include "vit/util/dtype.hpp"
#include "vit/util/error.hpp"
#include "model/layers/convert.hpp"
#include "model/layers/matmul.hpp"

namespace {

namespace L = vit::layers;

nlohmann::json measure(int64_t M, int64_t K, int64_t N, int reps, vit::Dtype dtype) {
    // int8: the product the int8 Linear layers run, u8 activations x s8 weights -> s32 (before their
    // epilogue); f32 and bf16: f32 output.
    const bool int8 = dtype == vit::Dtype::Int8;
    const L::dt type = dtype == vit::Dtype::BF16 ? L::dt::bf16 : L::dt::f32;
    const L::dt src_type = int8 ? L::dt::u8 : type, wei_type = int8 ? L::dt::s8 : type;
    std::mt19937 rng(0);
    std::normal_distribution<float> nd;
    std::vector<float> src(size_t(M * K)), wei(size_t(K * N)), dst(size_t(M * N));
    for (float& v : src) v = nd(rng);
    for (float& v : wei) v = nd(rng);
    L::Matmul mm({{M, K}, {}, src_type}, {{K, N}, {}, wei_type}, {{M, N}, {}, int8 ? L::dt::s32 : L::dt::f32}, false,
                 L::Epilogue::None, 1.0f, vit::Activation::Gelu, true);
    std::vector<std::uint8_t> src8;
    std::vector<std::int8_t> wei8;
    if (int8) {  // any bytes do for timing: the normal draws, scaled and clipped
        for (float v : src) src8.push_back(static_cast<std::uint8_t>(std::clamp(128.0f + 32.0f * v, 0.0f, 255.0f)));
        for (float v : wei) wei8.push_back(static_cast<std::int8_t>(std::clamp(32.0f * v, -127.0f, 127.0f)));
    }
    const dnnl::memory packed =
        int8 ? mm.pack(wei8.data(), {{K, N}, {}, L::dt::s8}) : mm.pack(wei.data(), {{K, N}, {}});
    std::vector<L::Bf16> src16;
    const void* x = int8 ? static_cast<const void*>(src8.data()) : src.data();
    if (type == L::dt::bf16) {
        src16.resize(src.size());
        L::Convert(M * K, L::dt::f32, L::dt::bf16).run(src.data(), src16.data());
        x = src16.data();
    }
    mm.run(x, packed.get_data_handle(), nullptr, dst.data());  // warm-up: JIT, first touch
    std::vector<double> times;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        mm.run(x, packed.get_data_handle(), nullptr, dst.data());
        times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::nth_element(times.begin(), times.begin() + reps / 2, times.end());
    const double t = times[size_t(reps / 2)];
    // gflops: 2·M·K·N operations per second, integer ones for int8 (GOP/s).
    return {{"dtype", vit::to_string(dtype)}, {"m", M}, {"k", K}, {"n", N}, {"reps", reps},
            {"ms", std::round(t * 1e5) / 100}, {"gflops", std::round(2.0 * M * K * N / t / 1e7) / 100},
            {"impl", mm.impl()}};
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::vector<std::string> args(argv + 1, argv + argc);
        if (!args.empty() && args.size() < 3) throw vit::ConfigError("usage: vit_matmul_peak [M K N [REPS [DTYPE...]]]");
        const int64_t M = args.empty() ? 6304 : std::stoll(args[0]), K = args.empty() ? 768 : std::stoll(args[1]),
                      N = args.empty() ? 3072 : std::stoll(args[2]);
        const int reps = args.size() > 3 ? std::stoi(args[3]) : 10;
        if (M <= 0 || K <= 0 || N <= 0 || reps <= 0) throw vit::ConfigError("M, K, N and REPS must be positive");
        std::vector<vit::Dtype> dtypes;
        for (size_t i = 4; i < args.size(); ++i) dtypes.push_back(vit::parse_dtype(args[i]));
        if (dtypes.empty()) dtypes = {vit::Dtype::F32, vit::Dtype::BF16, vit::Dtype::Int8};
        for (vit::Dtype d : dtypes) {
            const vit::DtypeSupport& s = vit::cpu_support().dtype(d);
            const nlohmann::json line = s.mode == vit::DtypeMode::Refused
                                            ? nlohmann::json{{"dtype", vit::to_string(d)}, {"refused", s.note}}
                                            : measure(M, K, N, reps, d);
            std::cout << line.dump() << std::endl;
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "vit_matmul_peak: " << e.what() << "\n";
        return 2;
    }
}
