// Shared pieces of the `vit` program: the usage-error type, the exception-to-exit-code boundary, thread
// settings, model loading and atomic text output. Only this program turns library errors into messages.
#pragma once
#include <functional>
#include <initializer_list>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "vit/vit.hpp"

namespace vit_cli {

namespace po = boost::program_options;

// Keep in step with project(... VERSION) in CMakeLists.txt.
inline constexpr const char* kVersion = "0.1.0";

enum ExitCode { kExitOk = 0, kExitFailure = 1, kExitUsage = 2, kExitInterrupted = 130 };

// A mistake in the command line (bad flag value, wrong combination). Exit code 2, usage printed.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A subcommand: its name, one-line summary and entry point (args exclude "vit" and the name).
struct Command {
    const char* name;
    const char* summary;
    int (*run)(const std::vector<std::string>& args);
};

int run_classify(const std::vector<std::string>& args);
int run_forward(const std::vector<std::string>& args);
int run_explain(const std::vector<std::string>& args);
int run_init(const std::vector<std::string>& args);
int run_train(const std::vector<std::string>& args);
int run_train_step(const std::vector<std::string>& args);
int run_eval(const std::vector<std::string>& args);
int run_bench(const std::vector<std::string>& args);
int run_export(const std::vector<std::string>& args);

// Runs body and maps every exception to a message on stderr and an exit code, so that no exception
// ever leaves main. usage is printed after usage errors so the user sees what was expected.
int guarded(const std::string& command, const std::string& usage, const std::function<int()>& body);

// A subcommand's command line: its flags (listed by --help), optionally positional INPUTs (kept out
// of the help text) and the usage text shown by --help and after usage errors.
class CommandLine {
public:
    CommandLine(const char* synopsis, const po::options_description& flags, bool inputs = false);
    const std::string& usage() const { return usage_; }
    // Parses args into vm. Returns false when --help was asked for (the usage is then printed on
    // stdout); throws po::error for bad flags and UsageError when a flag in `required` is missing.
    bool parse(const std::vector<std::string>& args, std::initializer_list<const char*> required,
               po::variables_map& vm) const;

private:
    po::options_description all_;
    po::positional_options_description positional_;
    bool inputs_ = false;
    std::string usage_;
};

void warn(const std::string& message);  // "vit: warning: ..." on stderr
void info(const std::string& message);  // progress line on stderr

// Caps the OpenMP threads used by oneDNN (0 leaves the default). Throws UsageError if negative.
void set_threads(int threads);

// "224" -> 224x224, "224x320" -> 224 high, 320 wide. Throws UsageError.
std::pair<int, int> parse_img_size(const std::string& text);

// The help text of --model, which every command that takes it requires.
inline constexpr const char* kModelHelp =
    "checkpoint: native .safetensors file, timm or Hugging Face folder, or a Hugging Face Hub id "
    "(timm/NAME, hf-hub:ORG/NAME, ORG/NAME) already in the local Hugging Face cache (required)";

// The model spec resolved to a file or folder (a Hub id through the local Hugging Face cache), then
// A model without a classifier (num_classes 0, e.g. DINOv2 as published) has no classes to print or
// explain: a ConfigError saying so plainly, and what to do instead.
void require_classifier(const vit::Model& model, const std::string& model_path, const std::string& command);

// load_checkpoint plus the optional --img-size change, with a progress line on stderr.
vit::Checkpoint load_model_checkpoint(const std::string& spec, const std::string& img_size);

// Warns about tensors in the checkpoint that the model did not use (a sign of a mismatched architecture).
void report_unused(const vit::Model& model, const std::string& source);

// Writes to PATH.tmp.<pid> then renames over PATH on commit(), so readers never see a half-written
// file; the temporary is removed if commit() is never reached.
class AtomicFile {
public:
    explicit AtomicFile(std::string path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    std::ostream& stream() { return out_; }
    void commit();  // throws vit::IoError

private:
    std::string path_, tmp_;
    std::ofstream out_;
    bool committed_ = false;
};

}  // namespace vit_cli
