// Progress of long work on stderr: "vit classify: 340/1000 images (34%), 45.2 images/s, ETA 0m15s".
//
// On a terminal the line is redrawn in place (a carriage return and an erase, at most 4 times a
// second) and erased when the work ends, so that the summary line takes its place. Anywhere else (a
// log file, a pipe, CI) it is printed as plain lines, at most one every `interval` seconds (default 5,
// VIT_PROGRESS_SECONDS in the environment changes it), so logs stay readable. `--quiet` (every
// subcommand) silences it together with the other info lines; warnings and errors still print.
// Results never go through here: stdout holds only results.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <iosfwd>
#include <string>

namespace vit_cli {

// "0m15s", "1h02m": a duration for people.
std::string format_duration(double seconds);

// Where and how progress is drawn. from_environment() gives the program's: stderr, in place when
// stderr is a terminal, silent under --quiet.
struct ProgressStyle {
    std::ostream* out = nullptr;  // nullptr: silent
    bool in_place = false;        // redraw one line (a terminal) rather than print plain lines
    double interval_s = 5.0;      // plain lines: the least time between two of them
    std::function<double()> clock;  // seconds since some fixed moment; empty: steady_clock

    static ProgressStyle from_environment();
};

class Progress {
public:
    // task names the work ("classify"), unit what is counted ("images"); total 0 means unknown.
    Progress(std::string task, size_t total, std::string unit = "images",
             ProgressStyle style = ProgressStyle::from_environment());
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    // done units so far (monotone); extra is appended to the line (e.g. "loss 0.42"). Cheap when
    // nothing is due, so it can be called after every batch.
    void update(size_t done, const std::string& extra = "");
    // For work that writes its own line (training: loss, learning rate, the whole run's ETA): due()
    // says whether a line is to be drawn now, and if so, draw() draws the text.
    bool due();
    void draw(const std::string& text);

    // update() for a library callback (done, total): a new total restarts the count and its clock.
    void track(size_t done, size_t total);
    // Ends the line: erased on a terminal; nothing to do for plain lines.
    void finish();

    // The text of the line for done units at `elapsed` seconds since the start.
    std::string line(size_t done, double elapsed, const std::string& extra) const;

private:
    double now() const;

    std::string task_, unit_;
    size_t total_;
    ProgressStyle style_;
    double start_, last_ = -1.0;
    bool drawn_ = false;
};

// Erases a progress line standing on the terminal, so that a warning or info line prints on a line of
// its own (warn() and info() call it); the next update draws the progress again.
void clear_progress_line();

// The program-wide --quiet setting (run_command sets it from the flag).
void set_quiet(bool quiet);
bool quiet();

}  // namespace vit_cli
