// Fuzz target: a timm folder's config.json, in either form timm_kwargs reads (VisionTransformer keyword
// arguments at the top level, or the Hub layout: architecture + model_args + pretrained_cfg), loaded as
// load_checkpoint loads it before the weights are matched. A configuration that loads must survive the
// round trip through our JSON form. (Matching it back to a timm architecture, as the timm export does,
// is left out: it rebuilds every registration, some 200 ms per input under the sanitizers, and reads no
// bytes of the file.)
#include "io/checkpoint/formats.hpp"
#include "fuzz_target.hpp"
#include "vit/model/checkpoint.hpp"
#include "vit/io/checkpoint.hpp"

VIT_FUZZ_TARGET(timm_config) {
    using namespace vit;
    const auto path = vit::fuzz::scratch_dir() / "config.json";
    vit::fuzz::expect_typed_errors([&] {
        const detail::json cfg =
            detail::parse_json_text(std::string(reinterpret_cast<const char*>(data), size), path.string());
        Checkpoint ck = detail::load_timm(cfg, path, {});
        ck.source = path.string();
        validate_checkpoint(ck);
        const std::string text = config_to_json(ck.config);
        if (config_to_json(config_from_json(text, "round trip")) != text)
            vit::fuzz::invariant_failed("config_to_json -> config_from_json does not round-trip");
    });
}
