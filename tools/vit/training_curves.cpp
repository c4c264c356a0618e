#include "training_curves.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "chart.hpp"
#include "model_spec.hpp"
#include "vit/util/error.hpp"

namespace vit_cli {

namespace {

bool is_test_column(const std::string& name) { return name.rfind("test_", 0) == 0 || name.rfind("ema_test_", 0) == 0; }

// Column name -> values, for the numeric columns of the file.
std::map<std::string, std::vector<double>> read_columns(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw vit::IoError("cannot read " + path);
    std::string line;
    if (!std::getline(in, line)) throw vit::FormatError(path + ": empty, expected a header line");
    const std::vector<std::string> names = split_list(line);
    std::map<std::string, std::vector<double>> cols;
    for (const char* need : {"epoch", "train_loss", "test_loss", "train_acc", "test_acc"}) {
        if (std::find(names.begin(), names.end(), need) == names.end())
            throw vit::FormatError(path + ": no column '" + need + "' in the header");
        cols[need];
    }
    for (size_t row = 2; std::getline(in, line); ++row) {
        if (line.empty()) continue;
        const std::vector<std::string> cells = split_list(line);
        if (cells.size() != names.size())
            throw vit::FormatError(path + ": line " + std::to_string(row) + " has " + std::to_string(cells.size()) +
                                   " cells, the header " + std::to_string(names.size()));
        for (size_t i = 0; i < names.size(); ++i) {
            if (names[i] == "recipe") continue;  // the one text column
            // Test figures are empty in the epochs that were not evaluated (vit train --eval-every).
            if (cells[i].empty() && is_test_column(names[i])) {
                cols[names[i]].push_back(std::nan(""));
                continue;
            }
            size_t used = 0;
            double v = 0;
            try {
                v = std::stod(cells[i], &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used == 0 || used != cells[i].size())
                throw vit::FormatError(path + ": line " + std::to_string(row) + ", column " + names[i] + ": '" + cells[i] +
                                       "' is not a number");
            cols[names[i]].push_back(v);
        }
    }
    return cols;
}

}  // namespace

cv::Mat training_curves(const std::string& metrics_csv) {
    auto cols = read_columns(metrics_csv);
    const std::vector<double>& x = cols["epoch"];
    // Colours: train blue, test orange, EMA green (BGR).
    const cv::Scalar train(180, 119, 31), test(14, 127, 255), ema(44, 160, 44);
    // The chart skips the NaN of epochs without evaluation and joins the evaluated ones.
    LineChart loss{"loss", "epoch", {{"train", x, cols["train_loss"], train}, {"test", x, cols["test_loss"], test}}};
    LineChart acc{"accuracy", "epoch", {{"train", x, cols["train_acc"], train}, {"test", x, cols["test_acc"], test}}, true};
    if (cols.count("ema_test_acc")) {
        loss.series.push_back({"EMA test", x, cols["ema_test_loss"], ema, true});
        acc.series.push_back({"EMA test", x, cols["ema_test_acc"], ema, true});
    }
    return draw_line_charts({loss, acc});
}

}  // namespace vit_cli
