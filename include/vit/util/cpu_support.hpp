// What this CPU, through oneDNN, can run: found once per process and read by everything that picks a
// kernel or a number format.
//
//   const vit::CpuSupport& cpu = vit::cpu_support();
//   cpu.isa                                   // "AVX2", "AVX512_CORE_BF16", ... (oneDNN's spelling)
//   cpu.dtype(vit::Dtype::BF16).mode          // Native, Emulated or Refused, with the reason
//   vit::require_dtype(vit::Dtype::BF16);     // UnsupportedError naming the ISA, the need and the way out
//
// The instruction set is oneDNN's effective one (dnnl::get_effective_cpu_isa()): the CPU's own, capped
// by the environment variable ONEDNN_MAX_CPU_ISA (AVX2, AVX512_CORE, SSE41, ...). Our own vectorised
// loops (cpu_dispatch.hpp) follow the same cap, so that one switch shows on an AVX-512 machine what an
// AVX2 user's machine does.
//
// Whether a number format runs is not read from a table of instruction sets but asked of oneDNN: the
// products that format needs (Linear layers and the attention's strided batched products) are planned
// once on tiny shapes, and a format whose products oneDNN cannot plan is refused before any work.
#pragma once
#include <string>

#include "vit/util/dtype.hpp"

namespace vit {

// How a number format runs here.
//   Native    on instructions made for it (f32 everywhere; bf16 with AVX512_BF16 or AMX; int8 with VNNI).
//   Emulated  correctly, through wider instructions (bf16 products on AVX-512 without AVX512_BF16;
//             int8 products without VNNI): it runs, but the speed-up over f32 is smaller or none.
//   Refused   oneDNN has no kernel for its products on this instruction set: require_dtype throws.
enum class DtypeMode { Native, Emulated, Refused };
const char* to_string(DtypeMode m);

struct DtypeSupport {
    DtypeMode mode = DtypeMode::Refused;
    std::string kernel;  // oneDNN's implementation of its Linear product ("brg:avx512_core", "gemm:jit");
                         // empty when refused
    std::string note;    // why it is emulated or refused, and what to use instead; empty when native
};

struct CpuSupport {
    std::string cpu_model;  // /proc/cpuinfo's "model name" ("" where it cannot be read)
    std::string isa;        // oneDNN's effective instruction set, spelled as ONEDNN_MAX_CPU_ISA takes it
    std::string isa_cap;    // the ONEDNN_MAX_CPU_ISA in force ("" when unset)
    bool isa_cap_ignored = false;  // isa_cap names no instruction set oneDNN knows, so caps nothing
    std::string vector_kernels;  // the level our own loops run at: "avx512", "avx2" or "baseline"
    DtypeSupport f32, bf16, int8;
    // Int8 networks compute the attention's two products in bf16 where bf16 runs, else in f32.
    Dtype int8_attention = Dtype::F32;
    const DtypeSupport& dtype(Dtype d) const;
};

// Probed on first use (a few tiny oneDNN plans, milliseconds), then cached for the process.
const CpuSupport& cpu_support();

// Throws UnsupportedError when d is Refused here. The message names the instruction set found, what d
// needs and which dtype to use instead.
void require_dtype(Dtype d);

}  // namespace vit
