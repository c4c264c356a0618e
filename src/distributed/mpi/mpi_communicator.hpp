// The Communicator over MPI (Open MPI from Debian's libopenmpi-dev), for a program started by mpirun.
// Built into the separate library vitmpi only when CMake finds MPI; the `vit` program links it.
#pragma once
#include <memory>

#include "vit/distributed/communicator.hpp"

namespace vit {

// Whether the environment says this process was started by an MPI launcher (mpirun / mpiexec set
// OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK). A plain start never initialises MPI: Open MPI's
// singleton start spawns helper processes and is slow, and a single process needs none of it.
bool launched_by_mpi();

// Initialises MPI (MPI_THREAD_FUNNELED: only the main thread calls MPI) and returns the world
// communicator. Once per process; MPI is finalised when the returned object is destroyed.
std::unique_ptr<Communicator> mpi_world();

}  // namespace vit
