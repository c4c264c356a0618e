// Hub ids resolved in a fake Hugging Face cache laid out as huggingface_hub lays it out: files under
// blobs/, snapshots/<commit>/<file> as relative links into blobs/, refs/main naming the commit.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "cli_helpers.hpp"
#include "temp_dir.hpp"
#include "vit/util/error.hpp"
#include "vit/io/hub_cache.hpp"

namespace fs = std::filesystem;

using vit_test::TempDir;

namespace {

const std::string kTinyTimm = "timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k";
const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";

// The variables that choose the cache folder, cleared for each test (the developer's own HF_HOME must
// not leak in) and restored afterwards.
class ScopedHubEnvironment {
public:
    ScopedHubEnvironment() {
        for (const char* name : kNames) {
            if (const char* v = std::getenv(name)) saved_[name] = v;
            ::unsetenv(name);
        }
    }
    ~ScopedHubEnvironment() {
        for (const char* name : kNames) {
            const auto it = saved_.find(name);
            if (it == saved_.end())
                ::unsetenv(name);
            else
                ::setenv(name, it->second.c_str(), 1);
        }
    }
    static void set(const char* name, const fs::path& value) { ::setenv(name, value.c_str(), 1); }

private:
    static constexpr const char* kNames[] = {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME",
                                             "HOME"};
    std::map<std::string, std::string> saved_;
};

void write_file(const fs::path& path, const std::string& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
}

// Puts a model into the cache at `cache` as `huggingface-cli download ORG/NAME` does: each file's bytes
// as blobs/<name>, the snapshot's files as relative links to them, and refs/main (without a newline,
// as huggingface_hub writes it) unless `commit` is empty. Returns the snapshot folder.
fs::path cache_model(const fs::path& cache, const std::string& repo_id,
                     const std::map<std::string, std::string>& files, const std::string& commit = kCommit,
                     bool write_ref = true) {
    std::string folder = "models--" + repo_id;
    folder.replace(folder.find('/'), 1, "--");
    const fs::path repo = cache / folder;
    const fs::path snapshot = repo / "snapshots" / commit;
    fs::create_directories(snapshot);
    int n = 0;
    for (const auto& [name, bytes] : files) {
        // Blob names are the files' hashes in the real cache; any unique name does here.
        const std::string blob = commit.substr(0, 8) + "blob" + std::to_string(n++);
        write_file(repo / "blobs" / blob, bytes);
        fs::create_symlink(fs::path("../../blobs") / blob, snapshot / name);
    }
    if (write_ref) write_file(repo / "refs" / "main", commit);
    return snapshot;
}

fs::path cache_dummy_model(const fs::path& cache, const std::string& repo_id, const std::string& commit = kCommit,
                           bool write_ref = true) {
    return cache_model(cache, repo_id, {{"config.json", "{}"}, {"model.safetensors", "weights"}}, commit, write_ref);
}

template <typename E>
std::string resolve_error(const std::string& spec) {
    try {
        const std::string got = vit::resolve_model_spec(spec);
        ADD_FAILURE() << spec << " resolved to " << got << " instead of throwing";
    } catch (const E& e) {
        return e.what();
    }
    return {};
}

class HubCache : public ::testing::Test {
protected:
    ScopedHubEnvironment env_;
    TempDir tmp_{"vit_hub_cache"};
    fs::path cache_ = tmp_.path / "hub";
    void SetUp() override { ScopedHubEnvironment::set("HF_HUB_CACHE", cache_); }
};

}  // namespace

TEST_F(HubCache, ResolvesATimmIdWithATagToItsSnapshotFolder) {
    const fs::path snapshot = cache_dummy_model(cache_, kTinyTimm);
    EXPECT_EQ(snapshot, cache_ / "models--timm--vit_tiny_patch16_224.augreg_in21k_ft_in1k" / "snapshots" / kCommit);
    const std::string got = vit::resolve_model_spec(kTinyTimm);
    EXPECT_EQ(fs::path(got), snapshot);
    // The files in it are links into blobs/ that read as the blobs' bytes.
    EXPECT_TRUE(fs::is_symlink(fs::path(got) / "config.json"));
    EXPECT_EQ(vit_test::read_file(fs::path(got) / "config.json"), "{}");
}

TEST_F(HubCache, ResolvesAPlainTimmId) {
    const fs::path snapshot = cache_dummy_model(cache_, "timm/vit_small_patch16_224");
    EXPECT_EQ(fs::path(vit::resolve_model_spec("timm/vit_small_patch16_224")), snapshot);
}

TEST_F(HubCache, ResolvesTheHfHubPrefixAsTimmWritesIt) {
    const fs::path snapshot = cache_dummy_model(cache_, kTinyTimm);
    EXPECT_EQ(fs::path(vit::resolve_model_spec("hf-hub:" + kTinyTimm)), snapshot);
}

TEST_F(HubCache, ResolvesAHuggingFaceTransformersId) {
    const fs::path snapshot = cache_dummy_model(cache_, "google/vit-base-patch16-224");
    EXPECT_EQ(fs::path(vit::resolve_model_spec("google/vit-base-patch16-224")), snapshot);
}

TEST_F(HubCache, ReadsTheCommitFromRefsMainAmongSeveralSnapshots) {
    const std::string old_commit(40, 'a');
    cache_dummy_model(cache_, "google/vit-base-patch16-224", old_commit, /*write_ref=*/false);
    const fs::path current = cache_dummy_model(cache_, "google/vit-base-patch16-224");
    write_file(cache_ / "models--google--vit-base-patch16-224" / "refs" / "main", kCommit + "\n");
    EXPECT_EQ(fs::path(vit::resolve_model_spec("google/vit-base-patch16-224")), current);
}

TEST_F(HubCache, FindsTheCacheInHfHubCacheThenHfHomeThenHome) {
    // One cache per variable, each holding the model under a different commit, so the snapshot that
    // comes back shows which cache was used. Taking the variables away one by one walks down
    // huggingface_hub's order.
    const std::string id = "timm/vit_base_patch16_224";
    const fs::path home = tmp_.path / "home";
    const fs::path by_home = cache_dummy_model(home / ".cache" / "huggingface" / "hub", id, std::string(40, '1'));
    const fs::path by_xdg = cache_dummy_model(tmp_.path / "xdg" / "huggingface" / "hub", id, std::string(40, '2'));
    const fs::path by_hf_home = cache_dummy_model(tmp_.path / "hf_home" / "hub", id, std::string(40, '3'));
    const fs::path by_legacy = cache_dummy_model(tmp_.path / "legacy", id, std::string(40, '4'));
    const fs::path by_hub_cache = cache_dummy_model(cache_, id, std::string(40, '5'));

    ScopedHubEnvironment::set("HOME", home);
    ScopedHubEnvironment::set("XDG_CACHE_HOME", tmp_.path / "xdg");
    ScopedHubEnvironment::set("HF_HOME", tmp_.path / "hf_home");
    ScopedHubEnvironment::set("HUGGINGFACE_HUB_CACHE", tmp_.path / "legacy");
    EXPECT_EQ(fs::path(vit::resolve_model_spec(id)), by_hub_cache);
    ::unsetenv("HF_HUB_CACHE");
    EXPECT_EQ(fs::path(vit::resolve_model_spec(id)), by_legacy);
    ::unsetenv("HUGGINGFACE_HUB_CACHE");
    EXPECT_EQ(fs::path(vit::resolve_model_spec(id)), by_hf_home);
    ::unsetenv("HF_HOME");
    EXPECT_EQ(fs::path(vit::resolve_model_spec(id)), by_xdg);
    ::unsetenv("XDG_CACHE_HOME");
    EXPECT_EQ(fs::path(vit::resolve_model_spec(id)), by_home);
}

TEST_F(HubCache, ExpandsATildeInTheCacheVariables) {
    const fs::path home = tmp_.path / "home";
    const fs::path snapshot = cache_dummy_model(home / "hf" / "hub", kTinyTimm);
    ScopedHubEnvironment::set("HOME", home);
    ::unsetenv("HF_HUB_CACHE");
    ::setenv("HF_HOME", "~/hf", 1);
    EXPECT_EQ(fs::path(vit::resolve_model_spec(kTinyTimm)), snapshot);
}

TEST_F(HubCache, AnIdNotInTheCacheNamesThePathTriedAndTheDownloadCommand) {
    const std::string missing_folder = (cache_ / "models--timm--vit_huge_patch14_224").string();
    const std::string plain = resolve_error<vit::IoError>("timm/vit_huge_patch14_224");
    EXPECT_NE(plain.find(missing_folder), std::string::npos) << plain;
    EXPECT_NE(plain.find("huggingface-cli download timm/vit_huge_patch14_224"), std::string::npos) << plain;
    EXPECT_NE(plain.find("HF_HUB_CACHE"), std::string::npos) << "the message should say what chose the cache: "
                                                              << plain;

    // The download command names the repository, not timm's prefix.
    const std::string prefixed = resolve_error<vit::IoError>("hf-hub:timm/vit_huge_patch14_224");
    EXPECT_NE(prefixed.find(missing_folder), std::string::npos) << prefixed;
    EXPECT_NE(prefixed.find("`huggingface-cli download timm/vit_huge_patch14_224`"), std::string::npos) << prefixed;
}

TEST_F(HubCache, WithoutRefsMainTheOnlySnapshotIsUsed) {
    const fs::path snapshot = cache_dummy_model(cache_, kTinyTimm, kCommit, /*write_ref=*/false);
    EXPECT_EQ(fs::path(vit::resolve_model_spec(kTinyTimm)), snapshot);
}

TEST_F(HubCache, WithoutRefsMainSeveralSnapshotsAreAnError) {
    cache_dummy_model(cache_, kTinyTimm, std::string(40, 'a'), /*write_ref=*/false);
    cache_dummy_model(cache_, kTinyTimm, std::string(40, 'b'), /*write_ref=*/false);
    const std::string message = resolve_error<vit::IoError>(kTinyTimm);
    EXPECT_NE(message.find("refs/main"), std::string::npos) << message;
    EXPECT_NE(message.find("2 snapshots"), std::string::npos) << message;
}

TEST_F(HubCache, WithoutRefsMainOrSnapshotsTheModelIsNotCached) {
    fs::create_directories(cache_ / "models--timm--vit_small_patch16_224" / "blobs");
    const std::string message = resolve_error<vit::IoError>("timm/vit_small_patch16_224");
    EXPECT_NE(message.find("snapshots"), std::string::npos) << message;
    EXPECT_NE(message.find("huggingface-cli download timm/vit_small_patch16_224"), std::string::npos) << message;
}

TEST_F(HubCache, RefsMainNamingAMissingSnapshotIsAnErrorNamingIt) {
    cache_dummy_model(cache_, kTinyTimm);
    const std::string gone(40, 'f');
    write_file(cache_ / "models--timm--vit_tiny_patch16_224.augreg_in21k_ft_in1k" / "refs" / "main", gone);
    const std::string message = resolve_error<vit::IoError>(kTinyTimm);
    EXPECT_NE(message.find((cache_ / "models--timm--vit_tiny_patch16_224.augreg_in21k_ft_in1k" / "snapshots" / gone)
                               .string()),
              std::string::npos)
        << message;
}

TEST_F(HubCache, RefsMainThatIsNotACommitIsAFormatError) {
    cache_dummy_model(cache_, kTinyTimm);
    write_file(cache_ / "models--timm--vit_tiny_patch16_224.augreg_in21k_ft_in1k" / "refs" / "main", "../../x");
    const std::string message = resolve_error<vit::FormatError>(kTinyTimm);
    EXPECT_NE(message.find("refs/main"), std::string::npos) << message;
}

TEST_F(HubCache, ALinkToAMissingBlobIsReportedAsBroken) {
    const fs::path snapshot = cache_dummy_model(cache_, kTinyTimm);
    ASSERT_TRUE(fs::remove(snapshot / fs::read_symlink(snapshot / "model.safetensors")));
    const std::string message = resolve_error<vit::IoError>(kTinyTimm);
    EXPECT_NE(message.find((snapshot / "model.safetensors").string()), std::string::npos) << message;
    EXPECT_NE(message.find("broken link"), std::string::npos) << message;
}

TEST_F(HubCache, ASnapshotWithoutSafetensorsWeightsIsAnError) {
    cache_model(cache_, kTinyTimm, {{"config.json", "{}"}, {"pytorch_model.bin", "pickle"}});
    const std::string message = resolve_error<vit::IoError>(kTinyTimm);
    EXPECT_NE(message.find("model.safetensors"), std::string::npos) << message;
}

TEST_F(HubCache, MalformedIdsAreConfigErrors) {
    for (const std::string spec :
         {"timm/", "org/..", "timm/vit tiny", "org/na--me", "org/-name", "hf-hub:timm", "hf-hub:/name",
          "hf-hub:a/b/c", "hf-hub:../name", "hf-hub:"}) {
        SCOPED_TRACE(spec);
        const std::string message = resolve_error<vit::ConfigError>(spec);
        EXPECT_NE(message.find(spec), std::string::npos) << message;
        EXPECT_NE(message.find("ORG/NAME"), std::string::npos) << message;
    }
}

TEST_F(HubCache, SpecsThatCanOnlyBePathsAreReturnedUnchanged) {
    // Missing files included: load_checkpoint reports those as missing files, not as Hub ids.
    // A model-file extension or more than one '/' marks a path too, even with one '/' ("models/x.safetensors").
    for (const std::string spec : {"model.safetensors", "/no/such/model", "./no/such/model", "../no/such/model",
                                   "~/no/such/model", "", "models/nope.safetensors", "org/model.pth", "a/b/c"})
        EXPECT_EQ(vit::resolve_model_spec(spec), spec);
}

TEST_F(HubCache, AnExistingPathWinsOverAnIdOfTheSameName) {
    cache_dummy_model(cache_, "google/vit-base-patch16-224");
    fs::create_directories(tmp_.path / "work" / "google" / "vit-base-patch16-224");
    const fs::path previous = fs::current_path();
    fs::current_path(tmp_.path / "work");
    const std::string got = vit::resolve_model_spec("google/vit-base-patch16-224");
    fs::current_path(previous);
    EXPECT_EQ(got, "google/vit-base-patch16-224");
}

// ---- through the `vit` program ------------------------------------------------------------------

namespace {

class HubCli : public vit_test::Cli {
protected:
    ScopedHubEnvironment env_;  // the child inherits HF_HUB_CACHE from this process
};

}  // namespace

TEST_F(HubCli, ClassifyLoadsATimmIdFromTheCacheLikeTheFolderItCameFrom) {
    const fs::path cache = tmp_ / "hub";
    cache_model(cache, "timm/vit_small32.test",
                {{"config.json", vit_test::read_file(vit_test::kFixture + "/config.json")},
                 {"model.safetensors", vit_test::read_file(vit_test::kFixture + "/model.safetensors")}});
    ScopedHubEnvironment::set("HF_HUB_CACHE", cache);
    const std::string image = vit_test::quote(vit_test::kSamples + "/cifar10/cat_0000.jpg");

    const vit_test::Result by_id = run("classify --model timm/vit_small32.test --top-k 3 " + image);
    EXPECT_CLEAN_EXIT(by_id, 0);
    EXPECT_NE(by_id.err.find("timm/vit_small32.test = " + (cache / "models--timm--vit_small32.test").string()),
              std::string::npos)
        << by_id.err;
    const vit_test::Result by_prefix = run("classify --model hf-hub:timm/vit_small32.test --top-k 3 " + image);
    EXPECT_CLEAN_EXIT(by_prefix, 0);
    const vit_test::Result by_path =
        run("classify --model " + vit_test::quote(vit_test::kFixture) + " --top-k 3 " + image);
    EXPECT_CLEAN_EXIT(by_path, 0);
    ASSERT_EQ(vit_test::lines_of(by_path.out).size(), 2u) << by_path.out;
    EXPECT_EQ(by_id.out, by_path.out);
    EXPECT_EQ(by_prefix.out, by_path.out);
}

TEST_F(HubCli, AnUncachedIdFailsWithTheDownloadCommand) {
    ScopedHubEnvironment::set("HF_HUB_CACHE", tmp_ / "empty-hub");
    const vit_test::Result r =
        run("classify --model timm/vit_tiny_patch16_224 " + vit_test::quote(vit_test::kSamples));
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("vit classify: error:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find((tmp_ / "empty-hub" / "models--timm--vit_tiny_patch16_224").string()), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("huggingface-cli download timm/vit_tiny_patch16_224"), std::string::npos) << r.err;
}

TEST_F(HubCli, ModelHelpMentionsHubIds) {
    for (const char* command : {"classify", "forward", "explain", "eval", "train-step"}) {
        const vit_test::Result r = run(std::string(command) + " --help");
        EXPECT_CLEAN_EXIT(r, 0);
        EXPECT_NE(r.out.find("hf-hub:ORG/NAME"), std::string::npos) << command << ":\n" << r.out;
    }
}
