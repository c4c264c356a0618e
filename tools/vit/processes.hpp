// The processes one run of `vit` is part of: Open MPI's world when the program was built with MPI and
// started by mpirun, otherwise this process alone. Subcommands that split their work (train,
// train-step, classify) ask processes() for it; main() ends with finish().
#pragma once
#include <string>

#include "vit/distributed/communicator.hpp"

namespace vit_cli {

// Created (MPI initialised) on the first call; main() calls it first.
vit::Communicator& processes();

// " (rank N)" on ranks other than 0 of a job of several processes, else "": for messages.
std::string rank_tag();

// Says that the subcommand's processes have passed their last collective together, so that whatever
// status each returns (a run stopped by Ctrl-C, images that failed), none waits for another.
void ended_together();

// The program's exit: with several processes, a failure before ended_together() aborts the whole job
// (mpirun ends every process), since the others would otherwise wait forever in their next
// collective; otherwise MPI is finalised and the status returned.
int finish(int status);

}  // namespace vit_cli
