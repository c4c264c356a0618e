// The ImageNet class names compiled into the library, against the files they were built from.
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "vit/model/imagenet_labels.hpp"

namespace {

const std::string kLabelDir = std::string(VIT_SOURCE_DIR) + "/datasets/imagenet/";

// The names column of a datasets/imagenet file, read independently of the library's parser.
std::vector<std::string> names_column(const std::string& file) {
    std::ifstream in(kLabelDir + file);
    EXPECT_TRUE(in) << "cannot open " << kLabelDir + file;
    std::vector<std::string> names;
    std::string line;
    while (std::getline(in, line)) names.push_back(line.substr(line.find('\t', line.find('\t') + 1) + 1));
    return names;
}

}  // namespace

TEST(ImageNetLabels, ThereAreAsManyNamesAsTheClassCountAsked) {
    EXPECT_EQ(vit::imagenet_labels(1000).size(), 1000u);
    EXPECT_EQ(vit::imagenet_labels(11821).size(), 11821u);
    EXPECT_EQ(vit::imagenet_labels(21843).size(), 21843u);
}

TEST(ImageNetLabels, OtherClassCountsHaveNoNames) {
    for (int n : {-1, 0, 10, 999, 1001, 11221, 21841, 21842})
        EXPECT_TRUE(vit::imagenet_labels(n).empty()) << n;
}

TEST(ImageNetLabels, OneKNamesAreTheWholeSynonymListAsTimmShowsIt) {
    const std::vector<std::string> names = vit::imagenet_labels(1000);
    ASSERT_EQ(names.size(), 1000u);
    EXPECT_EQ(names[0], "tench, Tinca tinca");
    EXPECT_EQ(names[281], "tabby, tabby cat");
    EXPECT_EQ(names[999], "toilet tissue, toilet paper, bathroom tissue");
}

TEST(ImageNetLabels, TwelveKAndTwentyOneKStartAndEndAsTheirFiles) {
    const std::vector<std::string> k12 = vit::imagenet_labels(11821);
    ASSERT_EQ(k12.size(), 11821u);
    EXPECT_EQ(k12.front(), "benthos");
    EXPECT_EQ(k12.back(), "knothole");
    const std::vector<std::string> k21 = vit::imagenet_labels(21843);
    ASSERT_EQ(k21.size(), 21843u);
    EXPECT_EQ(k21.front(), "organism, being");
    EXPECT_EQ(k21.back(), "knothole");
}

TEST(ImageNetLabels, EveryNameMatchesTheNamesColumnOfItsFile) {
    EXPECT_EQ(vit::imagenet_labels(1000), names_column("imagenet-1k.tsv"));
    EXPECT_EQ(vit::imagenet_labels(11821), names_column("imagenet-12k.tsv"));
    EXPECT_EQ(vit::imagenet_labels(21843), names_column("imagenet-21k-goog.tsv"));
}
