// The message of the exception of type E that f throws (a test failure, and "", when it throws none),
// so that a test can check what the message names.
#pragma once
#include <functional>
#include <string>

#include <gtest/gtest.h>

namespace vit_test {

template <typename E>
std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected exception not thrown";
    return {};
}

}  // namespace vit_test
