// Test-only: writes a checkpoint as ONNX, until `vit export --format onnx` calls vit::export_onnx.
//   vit_export_onnx CHECKPOINT OUT.onnx [attention]
// scripts/bench_onnx.sh uses it for the ONNX Runtime timings; the tests call the library directly.
#include <iostream>
#include <string>

#include "vit/onnx_export.hpp"
#include "vit/vit.hpp"

int main(int argc, char** argv) {
    if (argc < 3 || argc > 4 || (argc == 4 && std::string(argv[3]) != "attention")) {
        std::cerr << "usage: vit_export_onnx CHECKPOINT OUT.onnx [attention]\n";
        return 2;
    }
    try {
        const vit::Model model(vit::load_checkpoint(argv[1]));
        vit::OnnxExportOptions opts;
        opts.attention = argc == 4;
        vit::export_onnx(model, argv[2], opts);
    } catch (const vit::Error& e) {
        std::cerr << "vit_export_onnx: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
