#include "chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include <opencv2/imgproc.hpp>

#include "vit/util/error.hpp"

namespace vit_cli {

namespace {

const cv::Scalar kBlack(0, 0, 0), kGrid(225, 225, 225), kAxis(90, 90, 90), kWhite(255, 255, 255);
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

void text(cv::Mat& img, const std::string& s, cv::Point at, double scale, const cv::Scalar& colour = kBlack,
          int thickness = 1) {
    cv::putText(img, s, at, kFont, scale, colour, thickness, cv::LINE_AA);
}

int text_width(const std::string& s, double scale) {
    int base = 0;
    return cv::getTextSize(s, kFont, scale, 1, &base).width;
}

// Tick spacing of 1, 2 or 5 times a power of ten giving about `count` intervals over span.
double nice_step(double span, int count) {
    const double raw = span / count, mag = std::pow(10.0, std::floor(std::log10(raw))), f = raw / mag;
    return mag * (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10);
}

std::string tick_label(double v, double step, bool percent) {
    char buf[32];
    if (percent) v *= 100, step *= 100;
    const int decimals = step >= 1 ? 0 : int(std::ceil(-std::log10(step)));
    std::snprintf(buf, sizeof buf, "%.*f%s", decimals, v, percent ? "%" : "");
    return buf;
}

// The legend, one line per series, on a white box in the corner of the plot that hides the fewest
// points of the lines (sampled every few pixels along each segment): top right for falling losses,
// bottom right for rising accuracies.
void draw_legend(cv::Mat& img, const cv::Rect& plot, const std::vector<Series>& series,
                 const std::vector<std::vector<cv::Point>>& lines) {
    if (series.empty()) return;
    int name_w = 0;
    for (const Series& s : series) name_w = std::max(name_w, text_width(s.name, 0.45));
    const cv::Size box(name_w + 40, 18 * int(series.size()) + 8);
    const int inset = 6;
    const cv::Point corners[] = {{plot.x + plot.width - inset - box.width, plot.y + inset},
                                 {plot.x + plot.width - inset - box.width, plot.y + plot.height - inset - box.height},
                                 {plot.x + inset, plot.y + inset},
                                 {plot.x + inset, plot.y + plot.height - inset - box.height}};
    cv::Rect best;
    size_t fewest = std::numeric_limits<size_t>::max();
    for (const cv::Point& at : corners) {
        const cv::Rect r(at, box);
        size_t hidden = 0;
        for (const auto& pts : lines)
            for (size_t i = 0; i + 1 < pts.size(); ++i) {
                const cv::Point d = pts[i + 1] - pts[i];
                const int steps = std::max(1, std::max(std::abs(d.x), std::abs(d.y)) / 3);
                for (int k = 0; k < steps; ++k) hidden += r.contains(pts[i] + d * (double(k) / steps));
            }
        if (hidden < fewest) fewest = hidden, best = r;
    }
    cv::rectangle(img, best, kWhite, cv::FILLED);
    cv::rectangle(img, best, kGrid, 1);
    int y = best.y + 18;
    for (const Series& s : series) {
        cv::line(img, {best.x + 8, y - 4}, {best.x + 30, y - 4}, s.colour, 2, cv::LINE_AA);
        text(img, s.name, {best.x + 36, y}, 0.45);
        y += 18;
    }
}

void draw_chart(cv::Mat& img, const LineChart& c) {
    const int W = img.cols, H = img.rows, left = 70, right = 16, top = 34, bottom = 52;
    const cv::Rect plot(left, top, W - left - right, H - top - bottom);
    text(img, c.title, {left, 22}, 0.6, kBlack, 1);
    double x0 = std::numeric_limits<double>::max(), x1 = -x0, y0 = x0, y1 = -x0;
    for (const Series& s : c.series)
        for (size_t i = 0; i < s.x.size(); ++i) {
            if (!std::isfinite(s.y[i])) continue;
            x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
            y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
        }
    if (x0 > x1) {  // nothing to draw yet
        text(img, "no data", {plot.x + plot.width / 2 - 30, plot.y + plot.height / 2}, 0.5, kAxis);
        return;
    }
    if (x1 - x0 < 1) x1 = x0 + 1;
    // A margin of 5% of the span around the values, so the lines never touch the frame.
    const double pad = std::max((y1 - y0) * 0.05, 1e-3);
    y0 -= pad, y1 += pad;
    const double ys = nice_step(y1 - y0, 5), xs = nice_step(x1 - x0, 6);
    y0 = std::floor(y0 / ys) * ys, y1 = std::ceil(y1 / ys) * ys;
    auto px = [&](double x) { return plot.x + int(std::lround((x - x0) / (x1 - x0) * (plot.width - 1))); };
    auto py = [&](double y) { return plot.y + plot.height - 1 - int(std::lround((y - y0) / (y1 - y0) * (plot.height - 1))); };
    for (double y = y0; y <= y1 + ys / 2; y += ys) {
        cv::line(img, {plot.x, py(y)}, {plot.x + plot.width - 1, py(y)}, kGrid, 1);
        const std::string l = tick_label(y, ys, c.percent);
        text(img, l, {plot.x - 6 - text_width(l, 0.42), py(y) + 5}, 0.42, kAxis);
    }
    for (double x = std::ceil(x0 / xs) * xs; x <= x1 + xs / 2; x += xs) {
        cv::line(img, {px(x), plot.y}, {px(x), plot.y + plot.height - 1}, kGrid, 1);
        const std::string l = tick_label(x, xs, false);
        text(img, l, {px(x) - text_width(l, 0.42) / 2, plot.y + plot.height + 18}, 0.42, kAxis);
    }
    cv::rectangle(img, plot, kAxis, 1);
    text(img, c.x_label, {plot.x + plot.width / 2 - text_width(c.x_label, 0.48) / 2, H - 10}, 0.48, kAxis);
    std::vector<std::vector<cv::Point>> lines;
    for (const Series& s : c.series) {
        std::vector<cv::Point>& pts = lines.emplace_back();
        for (size_t i = 0; i < s.x.size(); ++i)
            if (std::isfinite(s.y[i])) pts.emplace_back(px(s.x[i]), py(s.y[i]));
        for (size_t i = 1; i < pts.size(); ++i) {
            if (s.dashed) {  // every other quarter of the segment
                for (int k = 0; k < 4; k += 2)
                    cv::line(img, pts[i - 1] + (pts[i] - pts[i - 1]) * (k / 4.0),
                             pts[i - 1] + (pts[i] - pts[i - 1]) * ((k + 1) / 4.0), s.colour, 2, cv::LINE_AA);
            } else {
                cv::line(img, pts[i - 1], pts[i], s.colour, 2, cv::LINE_AA);
            }
        }
        if (pts.size() <= 40)
            for (const cv::Point& p : pts) cv::circle(img, p, 3, s.colour, cv::FILLED, cv::LINE_AA);
    }
    draw_legend(img, plot, c.series, lines);
}

}  // namespace

cv::Mat draw_line_charts(const std::vector<LineChart>& charts, int panel_width, int panel_height) {
    cv::Mat img(panel_height, panel_width * int(std::max<size_t>(charts.size(), 1)), CV_8UC3, kWhite);
    for (size_t i = 0; i < charts.size(); ++i) {
        cv::Mat panel = img(cv::Rect(int(i) * panel_width, 0, panel_width, panel_height));
        draw_chart(panel, charts[i]);
    }
    return img;
}

cv::Mat draw_confusion(const std::vector<int64_t>& counts, const std::vector<std::string>& labels, const std::string& title) {
    const size_t K = labels.size();
    if (K == 0 || counts.size() != K * K)
        throw vit::ConfigError("confusion matrix: expected " + std::to_string(K) + "x" + std::to_string(K) + " counts for " +
                               std::to_string(K) + " labels, got " + std::to_string(counts.size()));
    // Cells from 48 pixels (up to ~20 classes, counts readable) down to 1 pixel (1000 classes); names
    // only while a cell is tall enough for a line of text.
    const int cell = std::clamp(960 / int(K), 1, 48);
    const bool names = cell >= 10, numbers = cell >= 36;
    double name_scale = std::min(0.45, cell / 26.0);
    int name_w = 0;
    if (names)
        for (const auto& l : labels) name_w = std::max(name_w, text_width(l, name_scale));
    const int left = 20 + name_w + 8, top = 40, grid = cell * int(K), legend = 70;
    const int bottom = 20 + name_w + 30;
    cv::Mat img(top + grid + bottom, left + grid + legend, CV_8UC3, kWhite);
    text(img, title, {10, 24}, 0.6);
    cv::Mat frac(static_cast<int>(K), static_cast<int>(K), CV_8U);
    for (size_t r = 0; r < K; ++r) {
        int64_t total = 0;
        for (size_t c = 0; c < K; ++c) total += counts[r * K + c];
        for (size_t c = 0; c < K; ++c)
            frac.at<uint8_t>(int(r), int(c)) =
                total ? cv::saturate_cast<uint8_t>(std::lround(255.0 * double(counts[r * K + c]) / double(total))) : 0;
    }
    cv::Mat coloured, big;
    cv::applyColorMap(frac, coloured, cv::COLORMAP_VIRIDIS);
    cv::resize(coloured, big, cv::Size(grid, grid), 0, 0, cv::INTER_NEAREST);
    big.copyTo(img(cv::Rect(left, top, grid, grid)));
    for (size_t r = 0; r < K && numbers; ++r)
        for (size_t c = 0; c < K; ++c) {
            const std::string n = std::to_string(counts[r * K + c]);
            const double s = std::min(0.42, (cell - 6) / double(std::max(1, text_width(n, 1.0))));
            // Dark text on the bright end of viridis, white on the dark end.
            const cv::Scalar ink = frac.at<uint8_t>(int(r), int(c)) > 150 ? kBlack : kWhite;
            text(img, n, {left + int(c) * cell + (cell - text_width(n, s)) / 2, top + int(r) * cell + cell / 2 + 5}, s, ink);
        }
    if (names) {
        for (size_t k = 0; k < K; ++k) {
            text(img, labels[k], {left - 8 - text_width(labels[k], name_scale), top + int(k) * cell + cell / 2 + 5},
                 name_scale);
            // Column names written upwards below the grid: drawn horizontally, then rotated.
            const int w = text_width(labels[k], name_scale) + 4;
            cv::Mat strip(cell, w, CV_8UC3, kWhite), up;
            text(strip, labels[k], {2, cell / 2 + 5}, name_scale);
            cv::rotate(strip, up, cv::ROTATE_90_COUNTERCLOCKWISE);
            up.copyTo(img(cv::Rect(left + int(k) * cell, top + grid + 6, cell, w)));
        }
    }
    text(img, "true class (rows), predicted class (columns)", {left, img.rows - 8}, 0.45, kAxis);
    // Colour scale: 0% at the bottom to 100% of the row at the top.
    const int lx = left + grid + 16, lh = std::max(grid, 60);
    for (int y = 0; y < lh; ++y) {
        cv::Mat v(1, 1, CV_8U, cv::Scalar(255 - y * 255 / std::max(1, lh - 1))), c;
        cv::applyColorMap(v, c, cv::COLORMAP_VIRIDIS);
        cv::line(img, {lx, top + y}, {lx + 14, top + y}, c.at<cv::Vec3b>(0, 0), 1);
    }
    text(img, "100%", {lx + 17, top + 10}, 0.38, kAxis);
    text(img, "0%", {lx + 17, top + lh}, 0.38, kAxis);
    return img;
}

}  // namespace vit_cli
