// Data parallelism across processes, without naming any transport: the Communicator interface that
// training and batch inference use to split their work, the single-process communicator (every
// collective is the identity), and how a batch is split into per-process slices.
//
// The program supplies an MPI communicator when it is started by mpirun (src/mpi/, linked only into
// the `vit` program); the library never includes MPI, so it builds and runs without it.
//
//   vit::SingleProcess one;                       // or the program's MPI communicator
//   const vit::BatchSlice s = vit::batch_slice(128, comm.rank(), comm.size());
//   // ... compute on images [s.first, s.first + s.count) of each global batch of 128 ...
//   comm.allreduce_sum(grads, n);                  // the sum over the processes, on every process
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace vit {

// The processes of one job, numbered 0 .. size() - 1. Every collective must be called by all of them,
// in the same order; a process that fails must abort() rather than return, or the others wait forever.
class Communicator {
public:
    virtual ~Communicator() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    // data[i] := Σ over the processes of their data[i], on every process.
    virtual void allreduce_sum(float* data, size_t n) = 0;
    virtual void allreduce_sum(double* data, size_t n) = 0;
    // Rank 0's bytes[0, n) to every process.
    virtual void broadcast(void* bytes, size_t n) = 0;
    // Every process's text, in rank order, on rank 0 (an empty list elsewhere).
    virtual std::vector<std::string> gather(const std::string& text) = 0;
    // Returns once every process has called it.
    virtual void barrier() = 0;
    // Ends every process of the job with this exit status (a process that cannot go on).
    [[noreturn]] virtual void abort(int status) = 0;
};

// One process: rank 0 of 1; the collectives leave the data as it is.
class SingleProcess final : public Communicator {
public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    void allreduce_sum(float*, size_t) override {}
    void allreduce_sum(double*, size_t) override {}
    void broadcast(void*, size_t) override {}
    std::vector<std::string> gather(const std::string& text) override { return {text}; }
    void barrier() override {}
    [[noreturn]] void abort(int status) override;
};

// Which images of a global batch of `total` one process computes: [first, first + count).
struct BatchSlice {
    int first = 0;
    int count = 0;
    int total = 0;
    bool whole() const { return first == 0 && count == total; }
};

// The slice of process `rank` of `ranks`: contiguous, in rank order, sizes differing by at most one
// (first = total * rank / ranks); empty for some processes when total < ranks. Throws ConfigError when
// total < 0 or rank is not in [0, ranks).
BatchSlice batch_slice(int total, int rank, int ranks);

}  // namespace vit
