// The MPI communicator: collectives on a duplicate of MPI_COMM_WORLD, each one
// watched by a Watchdog so a dead or stalled peer ends the job with a message.
#pragma once
#include <memory>

#include "cluster/comm/communicator.h"
#include "cluster/comm/world.h"

namespace rampart {

// Initialises MPI (unless someone already did; then it neither initialises nor
// finalises). Asks for MPI_THREAD_MULTIPLE so the watchdog thread may call
// MPI_Abort; all other MPI calls stay on the thread that made the communicator,
// so FUNNELED is enough and accepted. Nonblocking all-reduces progress only
// inside MPI calls (Open MPI's ob1): callers poll test() while they compute.
// Throws ConfigError if MPI's rank or size differ from what the launcher's
// environment said (world.size 0 = unknown, not checked).
std::unique_ptr<Communicator> make_mpi_communicator(const World& world, double timeout_s);

}  // namespace rampart
