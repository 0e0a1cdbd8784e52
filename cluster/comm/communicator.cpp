// make_communicator(): the one place that chooses a communication backend.
#include <memory>

#include "cluster/comm/communicator.h"
#include "cluster/comm/communicator_factory.h"
#include "cluster/comm/mpi_communicator.h"
#include "runtime/errors.h"
#if RAMPART_HAVE_CUDA
#include "cluster/comm/nccl_communicator.h"
#endif

namespace rampart {

std::unique_ptr<Communicator> make_communicator(const World& world, const std::string& backend, double timeout_s) {
  // A process started without a launcher is a world of one: it needs no MPI
  // (and no mpirun), so it gets the free self communicator.
  bool alone = world.launcher == "none" && world.size == 1;
  if (backend == "auto") return alone ? make_self_communicator() : make_mpi_communicator(world, timeout_s);
  if (backend == "self") {
    if (world.size != 1)
      throw ConfigError("--backend self runs a single rank, but this process is " + describe(world) +
                        "; use --backend mpi (or auto)");
    return make_self_communicator();
  }
  if (backend == "mpi") return make_mpi_communicator(world, timeout_s);
  if (backend == "nccl") {
#if RAMPART_HAVE_CUDA
    return make_nccl_communicator(world, timeout_s);
#else
    throw ConfigError("--backend nccl needs a build with the CUDA backend (-DRAMPART_CUDA=ON); use --backend mpi (or auto)");
#endif
  }
  throw ConfigError("unknown communication backend \"" + backend + "\"; expected auto, mpi, self or nccl");
}

}  // namespace rampart
