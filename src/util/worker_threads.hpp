// The one way the library runs worker threads, for every loader (the training batch loader, the
// image-folder decoder, the inference image batches): n threads each running work(), stopped and
// joined when the object goes away, and never left running when one of them cannot start.
// Private to the library.
#pragma once
#include <functional>
#include <thread>
#include <vector>

namespace vit {

class WorkerThreads {
public:
    WorkerThreads() = default;
    ~WorkerThreads() { join(); }
    WorkerThreads(const WorkerThreads&) = delete;
    WorkerThreads& operator=(const WorkerThreads&) = delete;

    // Starts n threads running work(t), t in [0, n). stop (optional) must make every worker return: it
    // is called before joining, from join() and the destructor, and when a thread fails to start (the
    // ones started are then joined and the error rethrown).
    void start(int n, const std::function<void(int)>& work, std::function<void()> stop = {});
    // stop(), then waits for every worker to return. Idempotent.
    void join();

private:
    std::function<void()> stop_;
    std::vector<std::thread> threads_;
};

}  // namespace vit
