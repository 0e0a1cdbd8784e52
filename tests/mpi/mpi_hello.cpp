// Prints where this rank sits, as the launcher's environment and MPI see it:
//   hello: rank 1 of 2 (slurm, local 1 of 2), mpi rank 1 of 2
// Used by the Slurm smoke test (srun --mpi=pmix) and handy for checking a launch.
#include <cstdio>

#include "cluster/comm/communicator_factory.h"
#include "cluster/comm/world.h"

int main() {
  try {
    rampart::World world = rampart::detect_world();
    auto comm = rampart::make_communicator(world, "mpi", 60);
    double one = 1;
    comm->allreduce_sum(&one, 1);
    std::printf("hello: %s, mpi rank %d of %d, sum %g\n", rampart::describe(world).c_str(), comm->rank(),
                comm->size(), one);
    return one == comm->size() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpi_hello: %s\n", e.what());
    return 1;
  }
}
