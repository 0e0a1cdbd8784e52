// Chooses the communicator for this process (implemented in communicator.cpp).
#pragma once
#include <memory>
#include <string>

#include "cluster/comm/communicator.h"
#include "cluster/comm/world.h"

namespace rampart {

// backend: "auto" (self for a process started without a launcher, else MPI),
// "mpi", "self" (only for a world of one) or "nccl" (CUDA builds only; "auto"
// never picks it, since it needs GPU buffers).
// timeout_s: the deadline of every collective (--timeout); <= 0 disables the watchdog.
// Throws ConfigError for an unknown backend or one that does not fit the world.
std::unique_ptr<Communicator> make_communicator(const World& world, const std::string& backend, double timeout_s);

}  // namespace rampart
