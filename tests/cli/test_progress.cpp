// Progress lines (tools/vit/progress.hpp): what they say, how often they are printed, and that the
// program's stdout holds only results while they go to stderr.
#include "progress.hpp"

#include <filesystem>
#include <sstream>

#include <gtest/gtest.h>

#include "cli_helpers.hpp"

namespace {

using vit_cli::Progress;
using vit_cli::ProgressStyle;

// A style writing to `out` with a clock the test moves by hand.
ProgressStyle manual_style(std::ostream& out, const double& clock, bool in_place, double interval) {
    ProgressStyle s;
    s.out = &out;
    s.in_place = in_place;
    s.interval_s = interval;
    s.clock = [&clock] { return clock; };
    return s;
}

TEST(Progress, LineSaysDoneOfTotalTheRateAndTheTimeLeft) {
    std::ostringstream out;
    double t = 0;
    const Progress p("classify", 1000, "images", manual_style(out, t, false, 5));
    // 250 images in 10 s: 25 images/s, so the other 750 take 30 s.
    EXPECT_EQ(p.line(250, 10.0, ""), "vit classify: 250/1000 images (25%), 25.0 images/s, ETA 0m30s");
    EXPECT_EQ(p.line(0, 0.0, "loss 0.5"), "vit classify: 0/1000 images (0%), loss 0.5");
    EXPECT_EQ(p.line(1000, 8.0, ""), "vit classify: 1000/1000 images (100%), 125.0 images/s");
}

TEST(Progress, UnknownTotalLeavesOutThePercentageAndTheEta) {
    std::ostringstream out;
    double t = 0;
    const Progress p("train (decoding)", 0, "images", manual_style(out, t, false, 5));
    EXPECT_EQ(p.line(40, 2.0, ""), "vit train (decoding): 40 images, 20.0 images/s");
}

TEST(Progress, PlainLinesComeAtMostOncePerIntervalAndNotBeforeTheFirstInterval) {
    std::ostringstream out;
    double t = 0;
    Progress p("eval", 100, "images", manual_style(out, t, false, 5));
    for (int done = 1; done <= 100; ++done) {
        t += 0.5;  // 50 s in all, one update every half second
        p.update(size_t(done));
    }
    p.finish();
    const std::vector<std::string> lines = vit_test::lines_of(out.str());
    // Updates at 5.0, 10.0, ..., 50.0 s: ten lines, none with a carriage return.
    ASSERT_EQ(lines.size(), 10u) << out.str();
    EXPECT_EQ(lines.front().rfind("vit eval: 10/100 images (10%)", 0), 0u) << lines.front();
    EXPECT_EQ(out.str().find('\r'), std::string::npos);
}

TEST(Progress, WorkShorterThanOneIntervalPrintsNothing) {
    std::ostringstream out;
    double t = 0;
    Progress p("classify", 10, "images", manual_style(out, t, false, 5));
    for (int done = 1; done <= 10; ++done) {
        t += 0.1;
        p.update(size_t(done));
    }
    p.finish();
    EXPECT_EQ(out.str(), "");
}

TEST(Progress, OnATerminalTheLineIsRedrawnInPlaceAndErasedAtTheEnd) {
    std::ostringstream out;
    double t = 0;
    Progress p("classify", 4, "images", manual_style(out, t, true, 0.25));
    for (int done = 1; done <= 4; ++done) {
        t += 1;
        p.update(size_t(done));
    }
    p.finish();
    const std::string s = out.str();
    EXPECT_EQ(s.find('\n'), std::string::npos) << "a terminal line must not scroll";
    // Four redraws, each starting with carriage return + erase-line, and the final erase.
    size_t redraws = 0;
    for (size_t at = s.find("\r\033[K"); at != std::string::npos; at = s.find("\r\033[K", at + 1)) ++redraws;
    EXPECT_EQ(redraws, 5u) << s;
    EXPECT_NE(s.find("vit classify: 4/4 images (100%)"), std::string::npos) << s;
    EXPECT_EQ(s.substr(s.size() - 4), "\r\033[K");
}

TEST(Progress, SilentStylePrintsNothing) {
    ProgressStyle silent;
    double t = 0;
    silent.clock = [&t] { return t; };
    Progress p("classify", 4, "images", silent);
    t = 100;
    EXPECT_FALSE(p.due());
    p.update(4);  // must not touch any stream
}

TEST(Progress, ANewTotalRestartsTheCount) {
    std::ostringstream out;
    double t = 0;
    Progress p("eval (decoding)", 0, "images", manual_style(out, t, false, 0));
    t = 1;
    p.track(5, 10);
    t = 3;
    p.track(10, 10);
    // Clock restarted at t = 1 with the new total: 10 images in 2 s.
    EXPECT_NE(out.str().find("vit eval (decoding): 10/10 images (100%), 5.0 images/s"), std::string::npos) << out.str();
}

using ProgressCli = vit_test::Cli;

size_t sample_images() {
    size_t n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(vit_test::kSamples)) n += e.is_regular_file();
    return n;
}

// classify over the sample images, one image per batch, a progress line after every batch.
TEST_F(ProgressCli, ClassifyPrintsProgressOnStderrAndOnlyResultsOnStdout) {
    const vit_test::Result r =
        vit_test::run_command("exec env VIT_PROGRESS_SECONDS=0 " + vit_test::quote(vit_test::kBinary) +
                                  " classify --batch 1 -m " + vit_test::quote(vit_test::kModel) + " " +
                                  vit_test::quote(vit_test::kSamples),
                              tmp_ / "stderr.txt");
    EXPECT_CLEAN_EXIT(r, 0);
    const size_t n = sample_images();
    const std::vector<std::string> out = vit_test::lines_of(r.out);
    ASSERT_EQ(out.size(), n + 1) << r.out;  // the header and one row per image
    EXPECT_EQ(out[0].rfind("path,top1_label,top1_prob", 0), 0u);
    for (size_t i = 1; i < out.size(); ++i) {
        const std::vector<std::string> fields = vit_test::csv_split(out[i]);
        EXPECT_EQ(fields.size(), 11u) << out[i];
        EXPECT_EQ(fields[0].rfind(vit_test::kSamples, 0), 0u) << "a result row, not a message: " << out[i];
    }
    EXPECT_EQ(r.out.find("images/s"), std::string::npos);
    const std::string total = std::to_string(n);
    EXPECT_NE(r.err.find("vit classify: 1/" + total + " images"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("vit classify: " + total + "/" + total + " images (100%)"), std::string::npos) << r.err;
}

TEST_F(ProgressCli, ExplainEvaluatePrintsProgressOnStderrAndOnlyTheTableOnStdout) {
    const vit_test::Result r =
        vit_test::run_command("exec env VIT_PROGRESS_SECONDS=0 " + vit_test::quote(vit_test::kBinary) +
                                  " explain --evaluate --limit 6 --batch 2 --threads 1 -m " +
                                  vit_test::quote(vit_test::kModel) + " --data " + vit_test::quote(vit_test::kSamples),
                              tmp_ / "stderr.txt");
    EXPECT_CLEAN_EXIT(r, 0);
    const std::vector<std::string> out = vit_test::lines_of(r.out);
    ASSERT_EQ(out.size(), 6u) << r.out;  // the header and five maps
    EXPECT_EQ(out[0].rfind("map ", 0), 0u) << out[0];
    EXPECT_EQ(r.out.find("vit"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("vit explain --evaluate: 2/6 images"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("vit explain --evaluate: 6/6 images (100%)"), std::string::npos) << r.err;
}

TEST_F(ProgressCli, QuietSilencesProgressAndInfoButNotTheResults) {
    const vit_test::Result r =
        vit_test::run_command("exec env VIT_PROGRESS_SECONDS=0 " + vit_test::quote(vit_test::kBinary) +
                                  " classify --quiet --batch 1 -m " + vit_test::quote(vit_test::kModel) + " " +
                                  vit_test::quote(vit_test::kSamples),
                              tmp_ / "stderr.txt");
    EXPECT_CLEAN_EXIT(r, 0);
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(vit_test::lines_of(r.out).size(), sample_images() + 1);
}

TEST_F(ProgressCli, QuietStillPrintsWarnings) {
    const vit_test::Result r = run("classify -q -m " + vit_test::quote(vit_test::kModel) + " " +
                                   vit_test::quote(vit_test::kSamples) + " " + vit_test::quote((tmp_ / "missing.png").string()));
    EXPECT_CLEAN_EXIT(r, 1);
    EXPECT_NE(r.err.find("vit: warning: skipping"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("classified"), std::string::npos) << r.err;
}

}  // namespace
