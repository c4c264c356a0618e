// ImageNet class names, built into the library, for checkpoints whose files name no classes (timm's
// Hub models carry none). The lists and their sources are in datasets/imagenet/README.md.
#pragma once
#include <string>
#include <vector>

namespace vit {

// The class names in index order for ImageNet-1k (1000 classes), timm's ImageNet-12k (11821) and
// Google's ImageNet-21k (21843), the class counts timm uses to tell them apart. Each name is the
// class's WordNet synonyms as timm shows them, e.g. "tabby, tabby cat". Empty for any other count.
std::vector<std::string> imagenet_labels(int num_classes);

// The labels of a model whose files name no classes: ImageNet's for the counts above, else
// "class_0", "class_1", ...
std::vector<std::string> default_labels(int num_classes);

}  // namespace vit
