#include "vit/io/hub_cache.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "vit/util/error.hpp"

namespace vit {

namespace fs = std::filesystem;

namespace {

constexpr const char* kHubPrefix = "hf-hub:";

// An environment variable, with "unset" and "set to nothing" treated alike: an empty HF_HOME would
// otherwise put the cache in the current folder.
std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

// "~" and "~/x" as Python's os.path.expanduser reads them, which huggingface_hub applies to its paths:
// $HOME, else the user's home folder from the password database.
fs::path expand_user(const std::string& p) {
    if (p != "~" && p.rfind("~/", 0) != 0) return fs::path(p);
    std::string home = env("HOME");
    if (home.empty())
        if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) home = pw->pw_dir;
    return fs::path(home + p.substr(1));
}

struct CacheRoot {
    fs::path path;
    std::string origin;  // what chose it, for error messages
};

// The same order as huggingface_hub's constants.py, so that we look where `huggingface-cli download`
// put the files.
CacheRoot cache_root() {
    if (const std::string v = env("HF_HUB_CACHE"); !v.empty())
        return {expand_user(v), "the cache folder comes from $HF_HUB_CACHE"};
    if (const std::string v = env("HUGGINGFACE_HUB_CACHE"); !v.empty())
        return {expand_user(v), "the cache folder comes from $HUGGINGFACE_HUB_CACHE"};
    if (const std::string v = env("HF_HOME"); !v.empty())
        return {expand_user(v) / "hub", "the cache folder comes from $HF_HOME"};
    if (const std::string v = env("XDG_CACHE_HOME"); !v.empty())
        return {expand_user(v) / "huggingface" / "hub", "the cache folder comes from $XDG_CACHE_HOME"};
    return {expand_user("~") / ".cache" / "huggingface" / "hub",
            "the default cache folder, as neither $HF_HUB_CACHE nor $HF_HOME is set"};
}

bool is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// The Hub's own rule for each half of a repo id (huggingface_hub's validate_repo_id): word characters,
// '-' and '.', starting and ending with a word character, without ".." or "--" ("--" separates ORG
// from NAME in the cache's folder names).
std::string repo_part_problem(const std::string& part) {
    if (part.empty()) return "is empty";
    if (part.size() > 96) return "is longer than 96 characters";
    for (char c : part)
        if (!is_word_char(c) && c != '-' && c != '.') return std::string("contains '") + c + "'";
    if (part.find("..") != std::string::npos) return "contains '..'";
    if (part.find("--") != std::string::npos) return "contains '--'";
    if (!is_word_char(part.front()) || !is_word_char(part.back()))
        return "must start and end with a letter, digit or '_'";
    return "";
}

// Splits and checks "ORG/NAME". `spec` is what the user wrote, for the message.
std::pair<std::string, std::string> parse_repo_id(const std::string& id, const std::string& spec,
                                                  bool prefixed) {
    const std::string intro = prefixed ? "bad Hugging Face Hub id '" + spec + "'"
                                       : "'" + spec + "' is not a file or folder, nor a Hugging Face Hub id";
    const size_t slash = id.find('/');
    if (slash == std::string::npos || id.find('/', slash + 1) != std::string::npos)
        throw ConfigError(intro + ": expected ORG/NAME with exactly one '/', found " +
                          std::to_string(std::count(id.begin(), id.end(), '/')));
    const std::string org = id.substr(0, slash), name = id.substr(slash + 1);
    if (const std::string p = repo_part_problem(org); !p.empty())
        throw ConfigError(intro + ": expected ORG/NAME, but ORG '" + org + "' " + p);
    if (const std::string p = repo_part_problem(name); !p.empty())
        throw ConfigError(intro + ": expected ORG/NAME, but NAME '" + name + "' " + p);
    return {org, name};
}

// A Hub id is ORG/NAME: one '/', no leading ./ ../ / or ~/, and no model-file extension (a Hub name may
// hold dots, as timm's "vit_base_patch16_224.augreg2_in21k_ft_in1k", so only these extensions count).
bool looks_like_path(const std::string& spec) {
    static const char* const kFileExtensions[] = {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".json", ".npz"};
    const auto ends_with = [&](const std::string& tail) {
        return spec.size() >= tail.size() && spec.compare(spec.size() - tail.size(), tail.size(), tail) == 0;
    };
    for (const char* ext : kFileExtensions)
        if (ends_with(ext)) return true;
    return std::count(spec.begin(), spec.end(), '/') != 1 || spec.front() == '/' || spec.rfind("./", 0) == 0 ||
           spec.rfind("../", 0) == 0 || spec.rfind("~/", 0) == 0;
}

// refs/main holds the commit hash that names the snapshot folder; it must be one path component.
std::string read_ref(const fs::path& ref) {
    std::ifstream in(ref, std::ios::binary);
    if (!in) throw IoError("cannot open " + ref.string());
    std::ostringstream s;
    s << in.rdbuf();
    std::string hash = s.str();
    while (!hash.empty() && std::isspace(static_cast<unsigned char>(hash.back()))) hash.pop_back();
    bool ok = !hash.empty();
    for (char c : hash) ok = ok && (is_word_char(c) || c == '-' || c == '.');
    if (!ok || hash.find("..") != std::string::npos)
        throw FormatError(ref.string() + ": expected a commit hash, got '" + hash + "'");
    return hash;
}

// Each file of a snapshot is a symbolic link into ../../blobs/; one whose blob is gone (an interrupted
// download, a pruned cache) reads as missing.
void require_file(const fs::path& file, const std::string& download) {
    std::error_code ec;
    if (fs::is_regular_file(file, ec)) return;
    if (fs::is_symlink(fs::symlink_status(file, ec)))
        throw IoError(file.string() + " is a broken link to " + fs::read_symlink(file, ec).string() +
                      "; download the model again with `" + download + "`");
    throw IoError("expected " + file.string() + " in the Hugging Face cache; download it with `" + download + "`");
}

}  // namespace

std::string resolve_model_spec(const std::string& spec) {
    std::error_code ec;
    const bool prefixed = spec.rfind(kHubPrefix, 0) == 0;
    if (!prefixed && (spec.empty() || fs::exists(spec, ec) || looks_like_path(spec))) return spec;

    const std::string id = prefixed ? spec.substr(std::string(kHubPrefix).size()) : spec;
    const auto [org, name] = parse_repo_id(id, spec, prefixed);
    const std::string download = "huggingface-cli download " + org + "/" + name;
    const CacheRoot root = cache_root();
    const fs::path repo = root.path / ("models--" + org + "--" + name);
    const fs::path snapshots = repo / "snapshots";
    const std::string not_cached = "'" + spec + (prefixed ? "' is" : "' is not a file or folder, and") +
                                   " not in the Hugging Face cache (" + root.origin + "): ";

    if (!fs::is_directory(repo, ec))
        throw IoError(not_cached + "looked for " + repo.string() + "; download it with `" + download + "`");

    fs::path snapshot;
    const fs::path ref = repo / "refs" / "main";
    if (fs::exists(ref, ec)) {
        snapshot = snapshots / read_ref(ref);
        if (!fs::is_directory(snapshot, ec))
            throw IoError(ref.string() + " names snapshot " + snapshot.string() +
                          ", which does not exist; download the model again with `" + download + "`");
    } else {
        // A cache filled by hand or by a tool that writes no refs (e.g. a download of one revision):
        // a single snapshot is unambiguous, several are not.
        std::vector<fs::path> found;
        for (fs::directory_iterator it(snapshots, ec), end; !ec && it != end; it.increment(ec))
            if (it->is_directory(ec)) found.push_back(it->path());
        if (found.empty())
            throw IoError(not_cached + "looked for " + ref.string() + " and a snapshot in " + snapshots.string() +
                          "; download it with `" + download + "`");
        if (found.size() > 1)
            throw IoError("no " + ref.string() + " to choose among the " + std::to_string(found.size()) +
                          " snapshots in " + snapshots.string() + "; download the model again with `" + download +
                          "`, which writes it");
        snapshot = found.front();
    }
    require_file(snapshot / "config.json", download);
    require_file(snapshot / "model.safetensors", download);
    return snapshot.string();
}

}  // namespace vit
