#include "distributed/mpi/mpi_communicator.hpp"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "vit/util/error.hpp"

namespace vit {

namespace {

// MPI counts are ints: larger buffers go in pieces of at most 2^30 elements.
constexpr size_t kChunk = size_t(1) << 30;

void check(int rc, const char* what) {
    if (rc == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    throw IoError(std::string(what) + " failed: " + std::string(text, size_t(len)));
}

class MpiWorld final : public Communicator {
public:
    MpiWorld() {
        int provided = 0;
        check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
        // Failures come back as error codes (turned into exceptions above) rather than killing the job
        // from inside the library; a dead peer is reported by mpirun, which then ends every process.
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
    }
    ~MpiWorld() override { MPI_Finalize(); }

    int rank() const override { return rank_; }
    int size() const override { return size_; }

    void allreduce_sum(float* data, size_t n) override { reduce(data, n, MPI_FLOAT); }
    void allreduce_sum(double* data, size_t n) override { reduce(data, n, MPI_DOUBLE); }

    void broadcast(void* bytes, size_t n) override {
        auto* p = static_cast<char*>(bytes);
        for (size_t done = 0; done < n; done += kChunk)
            check(MPI_Bcast(p + done, static_cast<int>(std::min(kChunk, n - done)), MPI_BYTE, 0, MPI_COMM_WORLD),
                  "MPI_Bcast");
    }

    std::vector<std::string> gather(const std::string& text) override {
        if (text.size() > size_t(INT_MAX)) throw ConfigError("gather of " + std::to_string(text.size()) + " bytes (at most 2^31 - 1)");
        const int len = static_cast<int>(text.size());
        std::vector<int> lens(size_t(size_), 0), offsets(size_t(size_), 0);
        check(MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
        std::vector<char> all;
        if (rank_ == 0) {
            int64_t total = 0;
            for (int r = 0; r < size_; ++r) {
                offsets[size_t(r)] = static_cast<int>(total);
                total += lens[size_t(r)];
            }
            if (total > INT_MAX) throw ConfigError("gather of " + std::to_string(total) + " bytes (at most 2^31 - 1)");
            all.resize(size_t(total));
        }
        check(MPI_Gatherv(text.data(), len, MPI_CHAR, all.data(), lens.data(), offsets.data(), MPI_CHAR, 0,
                          MPI_COMM_WORLD),
              "MPI_Gatherv");
        std::vector<std::string> out;
        if (rank_ == 0)
            for (int r = 0; r < size_; ++r) out.emplace_back(all.data() + offsets[size_t(r)], size_t(lens[size_t(r)]));
        return out;
    }

    void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

    [[noreturn]] void abort(int status) override {
        MPI_Abort(MPI_COMM_WORLD, status);
        std::_Exit(status);  // MPI_Abort does not return; this satisfies [[noreturn]] if it ever did
    }

private:
    void reduce(void* data, size_t n, MPI_Datatype type) {
        int elem = 0;
        MPI_Type_size(type, &elem);
        auto* p = static_cast<char*>(data);
        for (size_t done = 0; done < n; done += kChunk)
            check(MPI_Allreduce(MPI_IN_PLACE, p + done * size_t(elem), static_cast<int>(std::min(kChunk, n - done)), type,
                                MPI_SUM, MPI_COMM_WORLD),
                  "MPI_Allreduce");
    }

    int rank_ = 0, size_ = 1;
};

}  // namespace

bool launched_by_mpi() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
        if (std::getenv(name)) return true;
    return false;
}

std::unique_ptr<Communicator> mpi_world() { return std::make_unique<MpiWorld>(); }

}  // namespace vit
