// Shared pieces of the `vit` program: the usage-error type, the exception-to-exit-code boundary, thread
// settings and model loading. Only this program turns library errors into messages.
#pragma once
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "vit/vit.hpp"

namespace vit_cli {

namespace po = boost::program_options;

// Keep in step with project(... VERSION) in CMakeLists.txt.
inline constexpr const char* kVersion = VIT_VERSION;  // from CMakeLists.txt's project()

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
int run_info(const std::vector<std::string>& args);

// The versions of vit and of the libraries it runs on, as `vit --version` and `vit info` print them.
struct Versions {
    std::string vit, onednn, opencv;
};
Versions versions();

// Runs body and maps every exception to a message on stderr and an exit code, so that no exception
// ever leaves main. usage is printed after usage errors so the user sees what was expected.
int guarded(const std::string& command, const std::string& usage, const std::function<int()>& body);

// What a subcommand declares about its command line.
struct CommandSpec {
    std::string name;                   // as typed after `vit`, for the error prefix
    std::string synopsis;               // usage text printed above the list of flags
    std::vector<std::string> required;  // flags that must be given (without "--")
    bool inputs = false;                // positional INPUTs accepted, as "input" (not listed by --help)
    // Arguments that fill in what the command line left out (a training recipe), given the parsed
    // command line: parsed like it and stored after it, so the flags typed on the command line win.
    std::function<std::vector<std::string>(const po::variables_map&)> fill_in = nullptr;
};

// The frame of every subcommand: parses args against flags plus --help and --quiet (no guessing of
// abbreviated flags: a typo must be reported, not matched to a similar flag), prints the usage on
// --help, applies --quiet (set_quiet), throws UsageError for a missing required flag, and runs body
// with the values. All of it runs inside guarded(), so every failure becomes a message and an exit code.
int run_command(const CommandSpec& spec, const po::options_description& flags, const std::vector<std::string>& args,
                const std::function<int(const po::variables_map&)>& body);

// Runs check, a library validation of values that came from the command line, and turns its
// ConfigError into a UsageError (exit code 2, usage printed) prefixed with the flags that set them.
void check_flags(const std::string& flags, const std::function<void()>& check);

// RFC 4180: the field as is, or quoted when it holds a separator, quote or line break or starts or
// ends with a space, with the quotes inside doubled.
std::string csv_field(const std::string& s);

// Image decoding threads by default: half the cores, 1 to 4 (the model's threads need the rest).
int default_workers();

void warn(const std::string& message);  // "vit: warning: ..." on stderr
void info(const std::string& message);  // "vit: ..." on stderr, unless --quiet

// Caps the OpenMP threads used by oneDNN (0 leaves the default). Throws UsageError if negative.
void set_threads(int threads);

// "224" -> 224x224, "224x320" -> 224 high, 320 wide. Throws UsageError.
std::pair<int, int> parse_img_size(const std::string& text);

// Flags that several subcommands take, each declared once with one help text.
void add_model_flag(po::options_description& options);         // --model, -m: a checkpoint or Hub id
void add_model_config_flag(po::options_description& options);  // --model-config, -c: a name or JSON file
void add_threads_flag(po::options_description& options);       // --threads, -t: for set_threads
void add_dtype_flag(po::options_description& options);         // --dtype: f32 | bf16 | int8, read by dtype_flag
// The --dtype value; a UsageError for an unknown one, vit::UnsupportedError for one this CPU cannot run.
vit::Dtype dtype_flag(const po::variables_map& vm);
void add_max_pixels_flag(po::options_description& options);    // --max-pixels: for image_limits

// The limits on decoded images that --max-pixels sets. Throws UsageError when it is not positive.
vit::ImageLimits image_limits(const po::variables_map& vm);

// A model without a classifier (num_classes 0, e.g. DINOv2 as published) has no classes to print or
// explain: a ConfigError saying so plainly, and what to do instead.
void require_classifier(const vit::Model& model, const std::string& model_path, const std::string& command);

// The model spec resolved to a file or folder (a Hub id through the local Hugging Face cache), then
// load_checkpoint plus the optional --img-size change, with a progress line on stderr.
vit::Checkpoint load_model_checkpoint(const std::string& spec, const std::string& img_size);

// Warns about tensors in the checkpoint that the model did not use (a sign of a mismatched architecture).
void report_unused(const vit::Model& model, const std::string& source);

}  // namespace vit_cli
