#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "io/checkpoint/formats.hpp"
#include "vit/util/error.hpp"

namespace vit::detail {

[[noreturn]] void config_error(const std::string& src, const std::string& what) {
    throw ConfigError(src + ": " + what);
}

int get_int(const json& j, const char* key, int def, const std::string& src) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    if (!it->is_number_integer()) config_error(src, std::string("'") + key + "' must be an integer");
    const int64_t v = it->get<int64_t>();
    if (v < -1000000000 || v > 1000000000) config_error(src, std::string("'") + key + "' is out of range");
    return static_cast<int>(v);
}

double get_num(const json& j, const char* key, double def, const std::string& src) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    if (!it->is_number()) config_error(src, std::string("'") + key + "' must be a number");
    return it->get<double>();
}

bool get_bool(const json& j, const char* key, bool def, const std::string& src) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    if (!it->is_boolean()) config_error(src, std::string("'") + key + "' must be true or false");
    return it->get<bool>();
}

std::string get_str(const json& j, const char* key, const std::string& def, const std::string& src) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    if (!it->is_string()) config_error(src, std::string("'") + key + "' must be a string");
    return it->get<std::string>();
}

std::vector<float> get_floats(const json& j, const char* key, std::vector<float> def, const std::string& src) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    if (!it->is_array()) config_error(src, std::string("'") + key + "' must be a list of numbers");
    std::vector<float> out;
    for (const json& v : *it) {
        if (!v.is_number()) config_error(src, std::string("'") + key + "' must be a list of numbers");
        out.push_back(v.get<float>());
    }
    return out;
}

std::vector<std::string> get_strings(const json& j, const std::string& src, const std::string& what) {
    if (!j.is_array()) config_error(src, what + " must be a list of strings");
    std::vector<std::string> out;
    for (const json& v : j) {
        if (!v.is_string()) config_error(src, what + " must be a list of strings");
        out.push_back(v.get<std::string>());
    }
    return out;
}

// Labels given as an index-to-name object ({"0": "cat", "1": "dog"}), which must cover 0..N-1.
std::vector<std::string> index_labels(const json& j, const std::string& src, const std::string& what) {
    if (!j.is_object()) config_error(src, what + " must be an object");
    std::vector<std::string> labels(j.size());
    std::vector<bool> seen(j.size(), false);
    for (auto e = j.begin(); e != j.end(); ++e) {
        size_t idx = 0;
        try {
            size_t used = 0;
            idx = std::stoul(e.key(), &used);
            if (used != e.key().size()) throw std::invalid_argument("");
        } catch (...) {
            config_error(src, what + " key '" + e.key() + "' is not an integer");
        }
        if (idx >= labels.size() || seen[idx] || !e->is_string())
            config_error(src, what + " must map 0..N-1 to strings (bad entry '" + e.key() + "')");
        seen[idx] = true;
        labels[idx] = e->get<std::string>();
    }
    return labels;
}

// An image size given as an int (square) or [h, w].
void get_size(const json& j, const char* key, int& h, int& w, const std::string& src) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return;
    if (it->is_number_integer()) {
        h = w = get_int(j, key, h, src);
    } else if (it->is_array() && it->size() == 2 && (*it)[0].is_number_integer() && (*it)[1].is_number_integer()) {
        h = (*it)[0].get<int>();
        w = (*it)[1].get<int>();
    } else {
        config_error(src, std::string("'") + key + "' must be an integer or [height, width]");
    }
}

double shortest_double(float f) {
    for (int digits = 1; digits < 9; ++digits) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.*g", digits, static_cast<double>(f));
        const double d = std::strtod(buf, nullptr);
        if (static_cast<float>(d) == f) return d;
    }
    return static_cast<double>(f);
}

json parse_json_text(const std::string& text, const std::string& src) {
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) throw FormatError(src + ": not valid JSON");
    if (!j.is_object()) throw FormatError(src + ": JSON is not an object");
    return j;
}

json read_json_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw IoError("cannot open " + p.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw IoError("cannot read " + p.string());
    return parse_json_text(ss.str(), p.string());
}

}  // namespace vit::detail
