// The program's charts (tools/vit/chart.cpp): sizes, refused inputs, and that the pixels show the data.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include "chart.hpp"
#include "vit/util/error.hpp"

namespace {

using vit_cli::draw_confusion;
using vit_cli::draw_line_charts;
using vit_cli::LineChart;

template <class Pred>
size_t pixels_where(const cv::Mat& img, Pred pred) {
    size_t n = 0;
    for (int y = 0; y < img.rows; ++y)
        for (int x = 0; x < img.cols; ++x) n += pred(img.at<cv::Vec3b>(y, x));
    return n;
}

size_t pixels_of(const cv::Mat& img, const cv::Vec3b& colour) {
    return pixels_where(img, [&](const cv::Vec3b& p) { return p == colour; });
}

TEST(Chart, LineChartsArePanelsSideBySideAndDrawEachSeriesInItsColour) {
    LineChart a{"loss", "epoch", {{"train", {1, 2, 3}, {2.0, 1.5, 1.2}, cv::Scalar(255, 0, 0)}}};
    LineChart b{"accuracy", "epoch", {{"test", {1, 2, 3}, {0.3, 0.5, 0.6}, cv::Scalar(0, 0, 255)}}, true};
    const cv::Mat img = draw_line_charts({a, b}, 300, 200);
    EXPECT_EQ(img.cols, 600);
    EXPECT_EQ(img.rows, 200);
    EXPECT_EQ(img.type(), CV_8UC3);
    // Pure blue only in the left panel, pure red only in the right one.
    EXPECT_GT(pixels_of(img(cv::Rect(0, 0, 300, 200)), {255, 0, 0}), 50u);
    EXPECT_EQ(pixels_of(img(cv::Rect(300, 0, 300, 200)), {255, 0, 0}), 0u);
    EXPECT_GT(pixels_of(img(cv::Rect(300, 0, 300, 200)), {0, 0, 255}), 50u);
}

// Where the legend went: its names are the only near-black pixels inside the plot (the title stands
// above it, tick labels are grey, the lines coloured); the plot of a 300x200 panel spans rows 34 to 147.
size_t legend_ink(const cv::Mat& panel, bool upper_half) {
    const cv::Rect plot(70, 34, 214, 114);
    const cv::Mat half = panel(cv::Rect(plot.x, upper_half ? plot.y : plot.y + plot.height / 2, plot.width, plot.height / 2));
    return pixels_where(half, [](const cv::Vec3b& p) { return p[0] < 60 && p[1] < 60 && p[2] < 60; });
}

TEST(Chart, LegendMovesToTheCornerTheLinesLeaveFree) {
    const std::vector<double> x{1, 2, 3, 4, 5, 6, 7, 8};
    const std::vector<double> rising{0.20, 0.45, 0.60, 0.70, 0.76, 0.80, 0.83, 0.85}, falling{2.2, 1.6, 1.3, 1.1, 1.0, 0.9, 0.85, 0.8};
    const cv::Scalar blue(255, 0, 0), green(0, 160, 0);
    const LineChart accuracy{"accuracy", "epoch", {{"train", x, rising, blue}, {"test", x, rising, green, true}}, true};
    const LineChart loss{"loss", "epoch", {{"train", x, falling, blue}, {"test", x, falling, green, true}}};
    const cv::Mat acc_img = draw_line_charts({accuracy}, 300, 200), loss_img = draw_line_charts({loss}, 300, 200);
    // Accuracies rise into the top right: the legend goes below them. Losses fall from the top left
    // to the bottom right: the top right is free.
    EXPECT_EQ(legend_ink(acc_img, true), 0u);
    EXPECT_GT(legend_ink(acc_img, false), 20u);
    EXPECT_GT(legend_ink(loss_img, true), 20u);
    EXPECT_EQ(legend_ink(loss_img, false), 0u);
}

TEST(Chart, LineChartWithoutFiniteValuesIsDrawnEmptyRatherThanRefused) {
    LineChart a{"loss", "epoch", {{"train", {1}, {std::nan("")}, cv::Scalar(255, 0, 0)}}};
    const cv::Mat img = draw_line_charts({a}, 300, 200);
    EXPECT_EQ(pixels_of(img, {255, 0, 0}), 0u);
}

TEST(Chart, ConfusionCellsAreColouredByTheRowsFractions) {
    // Row 0 all on the diagonal, row 1 split evenly: the (0,0) cell has viridis' top colour (yellow),
    // the (0,1) cell its bottom one (dark purple), whatever the counts' scale.
    const cv::Mat img = draw_confusion({1000, 0, 5, 5}, {"cat", "dog"}, "t");
    ASSERT_FALSE(img.empty());
    const int cell = 48;
    EXPECT_GT(img.cols, 2 * cell);
    EXPECT_GT(img.rows, 2 * cell);
    // Find the grid: the first bright yellow pixel from the top-left.
    cv::Point yellow(-1, -1);
    for (int y = 0; y < img.rows && yellow.x < 0; ++y)
        for (int x = 0; x < img.cols; ++x) {
            const cv::Vec3b p = img.at<cv::Vec3b>(y, x);
            if (p[2] > 200 && p[1] > 200 && p[0] < 80) {
                yellow = {x, y};
                break;
            }
        }
    ASSERT_GE(yellow.x, 0);
    const cv::Vec3b right = img.at<cv::Vec3b>(yellow.y + 2, yellow.x + cell + 2);  // cell (0, 1)
    EXPECT_LT(int(right[1]), 60) << "the empty cell should be dark";
}

TEST(Chart, ConfusionRefusesCountsThatDoNotMatchTheLabels) {
    EXPECT_THROW(draw_confusion({1, 2, 3}, {"a", "b"}, "t"), vit::ConfigError);
    EXPECT_THROW(draw_confusion({}, {}, "t"), vit::ConfigError);
}

TEST(Chart, ConfusionOfAThousandClassesStaysAScreenSizedPicture) {
    std::vector<int64_t> counts(1000 * 1000, 0);
    std::vector<std::string> labels(1000, "n");
    for (size_t k = 0; k < 1000; ++k) counts[k * 1000 + k] = 1;
    const cv::Mat img = draw_confusion(counts, labels, "imagenet");
    EXPECT_LE(img.cols, 1200);
    EXPECT_LE(img.rows, 1200);
}

}  // namespace
