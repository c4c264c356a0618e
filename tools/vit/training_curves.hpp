// curves.png beside a training run's metrics.csv: loss and accuracy per epoch, train and test (and the
// EMA's test figures when the run keeps one), redrawn after every epoch from the whole file, so a
// resumed run's picture still starts at epoch 1.
#pragma once
#include <string>

#include <opencv2/core.hpp>

namespace vit_cli {

// Reads metrics.csv (the columns vit::fit writes; unknown columns are ignored) and draws the two
// charts. Throws vit::IoError (unreadable) or vit::FormatError (no epoch, train_loss, test_loss,
// train_acc or test_acc column, or a cell that is not a number), naming the file.
cv::Mat training_curves(const std::string& metrics_csv);

}  // namespace vit_cli
