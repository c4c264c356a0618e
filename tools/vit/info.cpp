// `vit info`: what a bug report needs. The CPU, the instruction set oneDNN uses (capped by
// ONEDNN_MAX_CPU_ISA), how each --dtype runs here, the threads, and the versions. As text, or as one
// JSON object for scripts.
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>
#include <omp.h>

#include "common.hpp"

namespace vit_cli {
namespace {

const char* const kUsage =
    "usage: vit info [--format text|json]\n\n"
    "Prints the CPU, the instruction set oneDNN uses (the CPU's own, capped by ONEDNN_MAX_CPU_ISA),\n"
    "which --dtype runs natively here, which is emulated and which is refused, the thread count and the\n"
    "versions of vit, oneDNN and OpenCV: paste it into bug reports.\n\n";

const vit::Dtype kDtypes[] = {vit::Dtype::F32, vit::Dtype::BF16, vit::Dtype::Int8};

nlohmann::json as_json(const vit::CpuSupport& cpu, const Versions& v) {
    nlohmann::json dtypes = nlohmann::json::object();
    for (vit::Dtype d : kDtypes) {
        const vit::DtypeSupport& s = cpu.dtype(d);
        dtypes[vit::to_string(d)] = {{"mode", vit::to_string(s.mode)}, {"kernel", s.kernel}, {"note", s.note}};
    }
    dtypes["int8"]["attention"] = vit::to_string(cpu.int8_attention);
    return {{"cpu", cpu.cpu_model},
            {"isa", cpu.isa},
            {"isa_cap", cpu.isa_cap},
            {"isa_cap_ignored", cpu.isa_cap_ignored},
            {"vector_kernels", cpu.vector_kernels},
            {"dtypes", dtypes},
            {"threads", omp_get_max_threads()},
            {"hardware_threads", std::thread::hardware_concurrency()},
            {"versions", {{"vit", v.vit}, {"onednn", v.onednn}, {"opencv", v.opencv}}}};
}

void print_text(const vit::CpuSupport& cpu, const Versions& v) {
    std::cout << "cpu:            " << (cpu.cpu_model.empty() ? "(unknown)" : cpu.cpu_model) << "\n"
              << "isa:            " << cpu.isa
              << (cpu.isa_cap.empty()       ? ""
                  : cpu.isa_cap_ignored ? " (ONEDNN_MAX_CPU_ISA=" + cpu.isa_cap +
                                              " names no instruction set oneDNN knows: ignored)"
                                        : " (capped by ONEDNN_MAX_CPU_ISA=" + cpu.isa_cap + ")")
              << "\n"
              << "own kernels:    " << cpu.vector_kernels << "\n";
    for (vit::Dtype d : kDtypes) {
        const vit::DtypeSupport& s = cpu.dtype(d);
        std::string name = std::string("dtype ") + vit::to_string(d) + ":";
        name.resize(16, ' ');
        std::cout << name << vit::to_string(s.mode);
        if (!s.kernel.empty()) std::cout << " (" << s.kernel << ")";
        if (!s.note.empty()) std::cout << ": " << s.note;
        std::cout << "\n";
    }
    std::cout << "threads:        " << omp_get_max_threads() << " of " << std::thread::hardware_concurrency()
              << " hardware threads\n"
              << "versions:       vit " << v.vit << ", oneDNN " << v.onednn << ", OpenCV " << v.opencv << "\n";
}

}  // namespace

int run_info(const std::vector<std::string>& args) {
    po::options_description options;
    options.add_options()("format", po::value<std::string>()->default_value("text"), "text or json");
    const CommandSpec command{"info", kUsage, {}};
    return run_command(command, options, args, [&](const po::variables_map& vm) -> int {
        const std::string format = vm["format"].as<std::string>();
        if (format != "text" && format != "json") throw UsageError("--format must be text or json, not '" + format + "'");
        const vit::CpuSupport& cpu = vit::cpu_support();
        if (format == "json")
            std::cout << as_json(cpu, versions()).dump() << "\n";
        else
            print_text(cpu, versions());
        return kExitOk;
    });
}

}  // namespace vit_cli
