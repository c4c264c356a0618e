// Charts drawn with OpenCV for people who would rather look than read: line charts (training curves)
// and a labelled heat map (the confusion matrix). Pure drawing: they return 8-bit BGR images.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace vit_cli {

struct Series {
    std::string name;           // in the legend
    std::vector<double> x, y;   // same length
    cv::Scalar colour;          // BGR
    bool dashed = false;
};

struct LineChart {
    std::string title, x_label;
    std::vector<Series> series;
    bool percent = false;       // y values in [0, 1] shown as percentages
};

// The charts side by side, each panel_width x panel_height pixels, axes with round tick values.
cv::Mat draw_line_charts(const std::vector<LineChart>& charts, int panel_width = 560, int panel_height = 400);

// A K x K matrix of counts (row-major, rows: true class, columns: predicted class) as a heat map of
// each row's fractions (so that rare and common classes read alike), the count written in each cell
// while K is small enough to read it, class names along both axes. Throws vit::ConfigError when
// counts is not labels.size() squared or K is 0.
cv::Mat draw_confusion(const std::vector<int64_t>& counts, const std::vector<std::string>& labels, const std::string& title);

}  // namespace vit_cli
