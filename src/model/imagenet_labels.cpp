#include "vit/model/imagenet_labels.hpp"

#include <string_view>

#include "vit/util/error.hpp"

namespace vit {

// Defined in the source that CMake generates from datasets/imagenet/*.tsv (cmake/embed_text.cmake).
namespace embedded {
std::string imagenet_1k_tsv();
std::string imagenet_12k_tsv();
std::string imagenet_21k_goog_tsv();
}  // namespace embedded

namespace {

// Lines "INDEX<TAB>WORDNET_ID<TAB>NAMES", indices 0, 1, 2, ... in order. The files are checked when
// read so that an edit that drops or reorders a line cannot silently shift every label after it.
std::vector<std::string> parse_tsv(const std::string& text, const char* file, size_t expected) {
    std::vector<std::string> names;
    names.reserve(expected);
    size_t begin = 0;
    while (begin < text.size()) {
        size_t end = text.find('\n', begin);
        if (end == std::string::npos) end = text.size();
        std::string_view line(text.data() + begin, end - begin);
        begin = end + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        const std::string where = std::string("built-in ") + file + " line " + std::to_string(names.size() + 1);
        const size_t tab1 = line.find('\t');
        const size_t tab2 = tab1 == std::string_view::npos ? tab1 : line.find('\t', tab1 + 1);
        if (tab2 == std::string_view::npos)
            throw FormatError(where + ": expected INDEX<TAB>WORDNET_ID<TAB>NAMES, got '" + std::string(line) + "'");
        if (line.substr(0, tab1) != std::to_string(names.size()))
            throw FormatError(where + ": expected index " + std::to_string(names.size()) + ", got '" +
                              std::string(line.substr(0, tab1)) + "'");
        names.emplace_back(line.substr(tab2 + 1));
    }
    if (names.size() != expected)
        throw FormatError(std::string("built-in ") + file + ": expected " + std::to_string(expected) +
                          " classes, got " + std::to_string(names.size()));
    return names;
}

}  // namespace

std::vector<std::string> imagenet_labels(int num_classes) {
    // Parsed once per list, on first use: the 21k list is 860 KB of text.
    switch (num_classes) {
        case 1000: {
            static const auto names = parse_tsv(embedded::imagenet_1k_tsv(), "imagenet-1k.tsv", 1000);
            return names;
        }
        case 11821: {
            static const auto names = parse_tsv(embedded::imagenet_12k_tsv(), "imagenet-12k.tsv", 11821);
            return names;
        }
        case 21843: {
            static const auto names = parse_tsv(embedded::imagenet_21k_goog_tsv(), "imagenet-21k-goog.tsv", 21843);
            return names;
        }
        default:
            return {};
    }
}

std::vector<std::string> default_labels(int num_classes) {
    std::vector<std::string> labels = imagenet_labels(num_classes);
    if (!labels.empty()) return labels;
    for (int i = 0; i < num_classes; ++i) labels.push_back("class_" + std::to_string(i));
    return labels;
}

}  // namespace vit
