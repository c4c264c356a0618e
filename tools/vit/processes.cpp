#include "processes.hpp"

#include <memory>

#include "common.hpp"
#ifdef VIT_WITH_MPI
#include "distributed/mpi/mpi_communicator.hpp"
#endif

namespace vit_cli {

namespace {
std::unique_ptr<vit::Communicator>& world() {
    static std::unique_ptr<vit::Communicator> w;
    return w;
}
bool g_ended_together = false;
}  // namespace

vit::Communicator& processes() {
    std::unique_ptr<vit::Communicator>& w = world();
    if (!w) {
#ifdef VIT_WITH_MPI
        if (vit::launched_by_mpi()) w = vit::mpi_world();
#endif
        if (!w) w = std::make_unique<vit::SingleProcess>();
    }
    return *w;
}

std::string rank_tag() {
    const vit::Communicator& c = processes();
    return c.size() > 1 && c.rank() != 0 ? " (rank " + std::to_string(c.rank()) + ")" : "";
}

void ended_together() { g_ended_together = true; }

int finish(int status) {
    vit::Communicator& c = processes();
    if (c.size() > 1 && status != kExitOk && !g_ended_together) c.abort(status);
    world().reset();  // MPI_Finalize
    return status;
}

}  // namespace vit_cli
