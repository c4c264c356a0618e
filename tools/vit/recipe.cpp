#include "recipe.hpp"

#include "model_spec.hpp"

namespace vit_cli {

Recipe load_recipe(const std::string& name_or_file, const po::options_description& flags) {
    const NamedJson file = load_named_json(name_or_file, "recipes", "training recipe");
    Recipe r;
    r.name = name_or_file;
    r.source = file.source;
    r.flags_json = file.json.dump();
    for (const auto& [key, value] : file.json.items()) {
        if (key == "recipe" || !flags.find_nothrow(key, false))
            throw UsageError(file.source + ": \"" + key + "\" is not a flag a recipe can set");
        if (value.is_boolean()) {
            if (value.get<bool>()) r.args.push_back("--" + key);
        } else if (value.is_number() || value.is_string()) {
            r.args.push_back("--" + key + "=" + (value.is_string() ? value.get<std::string>() : value.dump()));
        } else {
            throw UsageError(file.source + ": \"" + key + "\" must be a number, a string or true/false");
        }
    }
    return r;
}

}  // namespace vit_cli
