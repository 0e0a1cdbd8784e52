// Where this process sits in the job: rank, size and local rank, read from the
// launcher's environment (Open MPI's mpirun, Slurm's srun, or a PMI launcher).
#pragma once
#include <map>
#include <string>

namespace rampart {

struct World {
  int rank = 0;
  int size = 1;
  int local_rank = 0;   // index among the ranks on this node; picks the GPU
  int local_size = 1;   // ranks on this node
  std::string launcher = "none";  // "openmpi", "slurm", "pmi", "pmix" or "none"
};

// Pure: reads only the given variables. The first launcher found wins, in the
// order Open MPI, Slurm, PMI, PMIx (mpirun inside a Slurm allocation sets both
// OMPI_* and SLURM_*; its own variables describe the ranks it started).
// No launcher variables: a world of one. Garbage or inconsistent values throw
// ConfigError naming the variable. PMIx alone exports no size: size is then 0,
// meaning "ask MPI" (make_communicator fills it in).
World detect_world(const std::map<std::string, std::string>& env);

// The same, reading this process's environment.
World detect_world();

// "rank 1 of 4 (openmpi, local 1 of 2)", for messages.
std::string describe(const World& world);

}  // namespace rampart
