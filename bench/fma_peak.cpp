// vit_fma_peak: the hardware's f32 multiply-add ceiling on this machine, above oneDNN's matrix-product
// peak (bench/matmul_peak.cpp). scripts/bench_all.sh reads both: how close oneDNN's best product comes
// to the hardware, and so how much any f32 engine (ours, ONNX Runtime's MLAS) can still gain.
//
//   vit_fma_peak [THREADS [REPS]]     (THREADS: default OMP_NUM_THREADS, else all cores)
//
// Each thread runs 12 independent chains of AVX-512 fused multiply-adds, a = a·b + c on 16 floats, in
// registers: 12 chains cover the FMA latency (4 cycles) times the FMA ports (2) with room to spare, so
// the loop is bound by issue rate alone and touches no memory. One JSON line: the median over REPS of
// 2·16·12·iterations·threads / wall time in GFLOP/s. On a CPU without AVX-512 it says so and fails.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/cpu_dispatch.hpp"
#include "vit/util/cpu_support.hpp"

namespace {

constexpr int kChains = 12;
constexpr long kIterations = 100'000'000;

// The chains' sum goes to a volatile so that the compiler cannot drop the loop.
volatile float g_sink = 0;

__attribute__((target("avx512f"))) float fma_chains(long iterations) {
    __m512 a[kChains];
    const __m512 b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < kChains; ++i) a[i] = _mm512_set1_ps(float(i));
    for (long it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
        for (int i = 0; i < kChains; ++i) a[i] = _mm512_fmadd_ps(a[i], b, c);
    }
    float lanes[kChains * 16];
    for (int i = 0; i < kChains; ++i) _mm512_storeu_ps(lanes + 16 * i, a[i]);
    float sum = 0;
    for (float v : lanes) sum += v;
    return sum;
}

double gflops_once(int threads) {
    std::vector<std::thread> pool;
    std::vector<float> sums(static_cast<size_t>(threads));
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) pool.emplace_back([&sums, t] { sums[size_t(t)] = fma_chains(kIterations); });
    for (auto& t : pool) t.join();
    for (float v : sums) g_sink = g_sink + v;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return 2.0 * 16 * kChains * double(kIterations) * threads / s / 1e9;
}

int default_threads() {
    if (const char* env = std::getenv("OMP_NUM_THREADS"); env && std::atoi(env) > 0) return std::atoi(env);
    return int(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() > 2) {
        std::cerr << "usage: vit_fma_peak [THREADS [REPS]]\n";
        return 2;
    }
    const int threads = args.empty() ? default_threads() : std::atoi(args[0].c_str());
    const int reps = args.size() > 1 ? std::atoi(args[1].c_str()) : 3;
    if (threads <= 0 || reps <= 0) {
        std::cerr << "vit_fma_peak: THREADS and REPS must be positive integers\n";
        return 2;
    }
    // The same rule as every kernel of ours: the CPU's instruction set as capped by ONEDNN_MAX_CPU_ISA.
    if (vit::cpu::vector_level() != vit::cpu::Vectors::Avx512) {
        std::cerr << "vit_fma_peak: this CPU (" << vit::cpu_support().isa
                  << ") has no AVX-512; the measurement is written for it\n";
        return 1;
    }
    std::vector<double> rates;
    for (int r = 0; r < reps; ++r) rates.push_back(gflops_once(threads));
    std::nth_element(rates.begin(), rates.begin() + reps / 2, rates.end());
    std::cout << nlohmann::json{{"threads", threads}, {"reps", reps}, {"isa", "avx512f"},
                                {"gflops", std::round(rates[size_t(reps / 2)] * 10) / 10}}
                     .dump()
              << std::endl;
    return 0;
}
