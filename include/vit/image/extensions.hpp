// Which files are images: the extensions that the dataset reader's class folders and the program's
// folder inputs both accept.
#pragma once
#include <string>
#include <vector>

namespace vit {

// Lower-case extensions with their dot (".jpg", ...), every one decodable by OpenCV's imdecode.
const std::vector<std::string>& image_extensions();

// Whether path ends in one of image_extensions(), in any case.
bool has_image_extension(const std::string& path);

}  // namespace vit
