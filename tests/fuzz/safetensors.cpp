// Fuzz target: a .safetensors file. The bytes are parsed as the reader parses a file (header length,
// JSON header, every tensor's dtype, shape and offsets), its metadata read through the header-only
// reader, and a file that carries our own checkpoint metadata is loaded as a native checkpoint
// (configuration, labels and preprocessing JSON in the metadata, tensors checked against the layout).
#include "io/checkpoint/formats.hpp"
#include "fuzz_target.hpp"
#include "vit/model/checkpoint.hpp"
#include "vit/io/safetensors.hpp"

VIT_FUZZ_TARGET(safetensors) {
    using namespace vit;
    const std::string name = "fuzz.safetensors";
    vit::fuzz::expect_typed_errors([&] {
        SafeTensors st = parse_safetensors(std::string(reinterpret_cast<const char*>(data), size), name);
        if (!detail::is_native(st)) return;
        Checkpoint ck = detail::load_native(std::move(st), name);
        ck.source = name;
        validate_checkpoint(ck);
    });
    const auto file = vit::fuzz::scratch_dir() / name;
    vit::fuzz::write_file(file, data, size);
    vit::fuzz::expect_typed_errors([&] { read_safetensors_metadata(file.string()); });
}
