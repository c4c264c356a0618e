#include "util/worker_threads.hpp"

#include <utility>

namespace vit {

void WorkerThreads::start(int n, const std::function<void(int)>& work, std::function<void()> stop) {
    join();
    stop_ = std::move(stop);
    try {
        for (int t = 0; t < n; ++t) threads_.emplace_back(work, t);
    } catch (...) {
        join();  // joinable threads left behind would call std::terminate
        throw;
    }
}

void WorkerThreads::join() {
    if (threads_.empty()) return;
    if (stop_) stop_();
    for (std::thread& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

}  // namespace vit
