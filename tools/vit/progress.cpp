#include "progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace vit_cli {
namespace {

bool g_quiet = false;
// Whether a progress line stands unfinished on the terminal (one at a time in this program).
bool g_line_drawn = false;

// A terminal is redrawn at most this often: faster is flicker, and costs time on slow terminals.
constexpr double kRedrawSeconds = 0.25;

double env_interval() {
    const char* s = std::getenv("VIT_PROGRESS_SECONDS");
    if (!s || !*s) return 5.0;
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    return end && *end == '\0' && v >= 0 && std::isfinite(v) ? v : 5.0;
}

}  // namespace

void set_quiet(bool quiet) { g_quiet = quiet; }

void clear_progress_line() {
    if (!g_line_drawn) return;
    std::cerr << "\r\033[K" << std::flush;
    g_line_drawn = false;
}
bool quiet() { return g_quiet; }

std::string format_duration(double seconds) {
    const long t = std::lround(std::clamp(seconds, 0.0, 1e9));
    char buf[32];
    if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
    return buf;
}

ProgressStyle ProgressStyle::from_environment() {
    ProgressStyle s;
    if (g_quiet) return s;
    s.out = &std::cerr;
    s.in_place = isatty(STDERR_FILENO) == 1;
    s.interval_s = s.in_place ? kRedrawSeconds : env_interval();
    return s;
}

Progress::Progress(std::string task, size_t total, std::string unit, ProgressStyle style)
    : task_(std::move(task)), unit_(std::move(unit)), total_(total), style_(std::move(style)), start_(now()) {}

Progress::~Progress() { finish(); }

double Progress::now() const {
    if (style_.clock) return style_.clock();
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string Progress::line(size_t done, double elapsed, const std::string& extra) const {
    char buf[160];
    std::string s = "vit " + task_ + ": " + std::to_string(done);
    if (total_ > 0) {
        std::snprintf(buf, sizeof buf, "/%zu %s (%.0f%%)", total_, unit_.c_str(), 100.0 * double(done) / double(total_));
    } else {
        std::snprintf(buf, sizeof buf, " %s", unit_.c_str());
    }
    s += buf;
    // The rate is the mean since the start: steadier than the last interval's, and the ETA with it.
    const double rate = elapsed > 0 ? double(done) / elapsed : 0.0;
    if (done > 0 && elapsed > 0) {
        std::snprintf(buf, sizeof buf, ", %.1f %s/s", rate, unit_.c_str());
        s += buf;
        if (total_ > done) s += ", ETA " + format_duration(double(total_ - done) / rate);
    }
    if (!extra.empty()) s += ", " + extra;
    return s;
}

void Progress::update(size_t done, const std::string& extra) {
    if (due()) draw(line(done, last_ - start_, extra));
}

bool Progress::due() {
    if (!style_.out) return false;
    const double t = now();
    if (last_ >= 0 && t - last_ < style_.interval_s) return false;
    // Plain lines start only after one interval: work that ends sooner needs no progress at all.
    if (last_ < 0 && !style_.in_place && t - start_ < style_.interval_s) return false;
    last_ = t;
    return true;
}

void Progress::draw(const std::string& text) {
    if (!style_.out) return;
    std::ostream& out = *style_.out;
    if (style_.in_place) {
        out << "\r\033[K" << text << std::flush;
        drawn_ = true;
        if (&out == &std::cerr) g_line_drawn = true;
    } else {
        out << text << "\n" << std::flush;
    }
}

void Progress::track(size_t done, size_t total) {
    if (total != total_) {
        total_ = total;
        start_ = now();
        last_ = -1.0;
    }
    update(done);
}

void Progress::finish() {
    if (drawn_ && style_.out) *style_.out << "\r\033[K" << std::flush;
    if (drawn_ && style_.out == &std::cerr) g_line_drawn = false;
    drawn_ = false;
}

}  // namespace vit_cli
