// Training recipes (models/recipes/*.json): a JSON object of `vit train` flags (long names without
// "--") and their values, e.g. {"epochs": 100, "mixup": 0.8, "exclude-decay": true}. The values
// become command-line arguments parsed after the real command line, so every flag given there wins.
#pragma once
#include <string>
#include <vector>

#include "common.hpp"

namespace vit_cli {

struct Recipe {
    std::string name;               // as given to --recipe
    std::string source;             // the file it was read from
    std::string flags_json;         // the recipe's object, compact, for the run's records
    std::vector<std::string> args;  // "--flag=value" ("--flag" for a true switch; a false one is left out)
};

// NAME_OR_FILE: a JSON file, or NAME looked up as models/recipes/NAME.json like the model configs.
// Throws vit::IoError / vit::FormatError for a missing or malformed file, UsageError naming the file
// for a flag `flags` does not have (or --recipe itself) or a value that is not a number, string or
// boolean.
Recipe load_recipe(const std::string& name_or_file, const po::options_description& flags);

}  // namespace vit_cli
