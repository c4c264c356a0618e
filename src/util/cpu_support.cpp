#include "vit/util/cpu_support.hpp"

#include <cctype>
#include <cstdlib>
#include <fstream>

#include <oneapi/dnnl/dnnl.hpp>

#include "util/cpu_dispatch.hpp"
#include "vit/util/error.hpp"
#include "util/onednn.hpp"

namespace vit {

namespace {

using onednn::dims;
using onednn::dt;
using onednn::tag;

// oneDNN's instruction sets are nested bit masks (dnnl_cpu_isa_t): each one's bits contain those of
// the sets below it, and the extensions add bits of their own.
constexpr unsigned kAvx2 = dnnl_cpu_isa_avx2;
constexpr unsigned kAvx512Core = dnnl_cpu_isa_avx512_core;
constexpr unsigned kVnniBit = dnnl_cpu_isa_avx512_core_vnni & ~dnnl_cpu_isa_avx512_core;  // AVX512_VNNI
constexpr unsigned kAvx2VnniBit = dnnl_cpu_isa_avx2_vnni & ~dnnl_cpu_isa_avx2;            // AVX-VNNI
constexpr unsigned kBf16Bit = dnnl_cpu_isa_avx512_core_bf16 & ~dnnl_cpu_isa_avx512_core_vnni;

unsigned effective_isa() { return static_cast<unsigned>(dnnl::get_effective_cpu_isa()); }
bool has(unsigned isa, unsigned bits) { return (isa & bits) == bits; }

// Every instruction set oneDNN 2.6 names, largest first, spelled as ONEDNN_MAX_CPU_ISA takes it.
struct Named {
    unsigned isa;
    const char* name;
};
constexpr Named kNames[] = {
        {dnnl_cpu_isa_avx512_core_amx, "AVX512_CORE_AMX"}, {dnnl_cpu_isa_avx512_core_bf16, "AVX512_CORE_BF16"},
        {dnnl_cpu_isa_avx512_core_vnni, "AVX512_CORE_VNNI"}, {dnnl_cpu_isa_avx512_core, "AVX512_CORE"},
        {dnnl_cpu_isa_avx2_vnni, "AVX2_VNNI"},                {dnnl_cpu_isa_avx2, "AVX2"},
        {dnnl_cpu_isa_avx, "AVX"},                            {dnnl_cpu_isa_sse41, "SSE41"}};

std::string isa_name(unsigned isa) {
    for (const Named& n : kNames)
        if (isa == n.isa) return n.name;
    for (const Named& n : kNames)  // a set oneDNN 2.6 has no name for: the largest named one inside it
        if (has(isa, n.isa)) return n.name;
    return "baseline x86-64 (below SSE4.1)";
}

std::string cpu_model_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            const size_t colon = line.find(':');
            if (colon == std::string::npos) break;
            const size_t start = line.find_first_not_of(' ', colon + 1);
            return start == std::string::npos ? "" : line.substr(start);
        }
    return "";
}

// The implementation oneDNN would plan for a product of these types, or "" where it has none. Planning
// a primitive descriptor compiles nothing: it only asks each implementation whether it applies.
std::string plan_matmul(const dnnl::memory::desc& src, const dnnl::memory::desc& wei, const dnnl::memory::desc& dst) {
    try {
        const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), onednn::cpu_engine());
        return pd.impl_info_str();
    } catch (const dnnl::error&) {
        return "";
    }
}

// A Linear layer's product: (rows, in) x (in, out) weights in the layout oneDNN prefers.
std::string plan_linear(dt src, dt wei, dt dst) {
    const dims a{8, 64}, w{64, 32}, c{8, 32};
    return plan_matmul({a, src, tag::ab}, {w, wei, tag::any}, {c, dst, tag::ab});
}

// What the attention needs in bf16: batched products (per image and head) writing f32 scores and bf16
// context, and the softmax writing bf16 probabilities.
bool plans_bf16_attention() {
    const dims q{2, 3, 5, 8}, kt{2, 3, 8, 5}, s{2, 3, 5, 5};
    if (plan_matmul({q, dt::bf16, tag::abcd}, {kt, dt::bf16, tag::abdc}, {s, dt::f32, tag::abcd}).empty()) return false;
    if (plan_matmul({s, dt::bf16, tag::abcd}, {q, dt::bf16, tag::abcd}, {q, dt::bf16, tag::abcd}).empty()) return false;
    try {
        const dnnl::softmax_v2_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::softmax_accurate,
                                               {s, dt::f32, tag::abcd}, {s, dt::bf16, tag::abcd}, 3);
        dnnl::softmax_v2_forward::primitive_desc pd(d, onednn::cpu_engine());
        return true;
    } catch (const dnnl::error&) {
        return false;
    }
}

CpuSupport probe() {
    CpuSupport s;
    const unsigned isa = effective_isa();
    s.cpu_model = cpu_model_name();
    s.isa = isa_name(isa);
    if (const char* cap = std::getenv("ONEDNN_MAX_CPU_ISA")) {
        // oneDNN reads the value case-insensitively and silently ignores one it does not know.
        s.isa_cap = cap;
        std::string upper = s.isa_cap;
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        s.isa_cap_ignored = upper != "ALL";
        for (const Named& n : kNames) s.isa_cap_ignored = s.isa_cap_ignored && upper != n.name;
    }
    s.vector_kernels = cpu::to_string(cpu::vector_level());
    const std::string found = "this CPU runs " + s.isa + (s.isa_cap.empty() ? "" : " (ONEDNN_MAX_CPU_ISA=" + s.isa_cap + ")");

    s.f32.kernel = plan_linear(dt::f32, dt::f32, dt::f32);
    s.f32.mode = s.f32.kernel.empty() ? DtypeMode::Refused : DtypeMode::Native;
    if (s.f32.kernel.empty()) s.f32.note = "oneDNN plans no f32 product on " + s.isa;

    s.bf16.kernel = plan_linear(dt::bf16, dt::bf16, dt::f32);
    const bool bf16_runs = !s.bf16.kernel.empty() && !plan_linear(dt::bf16, dt::bf16, dt::bf16).empty() &&
                           plans_bf16_attention();
    if (!bf16_runs) {
        s.bf16.mode = DtypeMode::Refused;
        s.bf16.kernel.clear();
        s.bf16.note = "bf16 needs AVX-512 (AVX512_CORE: emulated; AVX512_CORE_BF16 or AMX: native) and " + found +
                      ": use int8 (fast) or f32 (exact) instead";
    } else if (has(isa, kBf16Bit)) {
        s.bf16.mode = DtypeMode::Native;
    } else {
        s.bf16.mode = DtypeMode::Emulated;
        s.bf16.note = "no AVX512_BF16 instructions: bf16 products are emulated with AVX-512 and may be no faster "
                      "than f32; int8 is the faster choice here";
    }

    s.int8.kernel = plan_linear(dt::u8, dt::s8, dt::s32);
    s.int8_attention = bf16_runs ? Dtype::BF16 : Dtype::F32;
    if (s.int8.kernel.empty()) {
        s.int8.mode = DtypeMode::Refused;
        s.int8.note = "oneDNN has no u8 x s8 product here and " + found + ": use f32 instead";
    } else if (has(isa, kAvx512Core | kVnniBit) || has(isa, kAvx2 | kAvx2VnniBit)) {
        s.int8.mode = DtypeMode::Native;
    } else {
        s.int8.mode = DtypeMode::Emulated;
        s.int8.note = "no VNNI instructions: u8 x s8 products go through saturating 16-bit multiply-adds, so weights are quantised to 7 bits";
    }
    if (s.int8.mode != DtypeMode::Refused && !bf16_runs)
        s.int8.note += std::string(s.int8.note.empty() ? "" : "; ") + "attention products in f32 (no bf16 here)";
    return s;
}

}  // namespace

const char* to_string(DtypeMode m) {
    switch (m) {
    case DtypeMode::Native: return "native";
    case DtypeMode::Emulated: return "emulated";
    case DtypeMode::Refused: return "refused";
    }
    return "refused";
}

const DtypeSupport& CpuSupport::dtype(Dtype d) const {
    switch (d) {
    case Dtype::BF16: return bf16;
    case Dtype::Int8: return int8;
    case Dtype::F32: break;
    }
    return f32;
}

const CpuSupport& cpu_support() {
    static const CpuSupport support = probe();
    return support;
}

void require_dtype(Dtype d) {
    const DtypeSupport& s = cpu_support().dtype(d);
    if (s.mode == DtypeMode::Refused)
        throw UnsupportedError(std::string("dtype ") + to_string(d) + " cannot run on this CPU: " + s.note);
}

namespace cpu {

Vectors vector_level() {
    static const Vectors level = [] {
        const unsigned isa = effective_isa();
        // oneDNN's AVX2 level does not promise FMA; our AVX2 variant is compiled with it.
        if (has(isa, kAvx512Core)) return Vectors::Avx512;
        if (has(isa, kAvx2) && __builtin_cpu_supports("fma")) return Vectors::Avx2;
        return Vectors::Baseline;
    }();
    return level;
}

const char* to_string(Vectors v) {
    switch (v) {
    case Vectors::Avx512: return "avx512";
    case Vectors::Avx2: return "avx2";
    case Vectors::Baseline: break;
    }
    return "baseline";
}

}  // namespace cpu

}  // namespace vit
