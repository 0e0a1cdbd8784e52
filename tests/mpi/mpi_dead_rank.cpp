// A rank that dies or stalls mid-training must end the whole job promptly.
//   mpi_dead_rank kill  [timeout_s]: rank 1 SIGKILLs itself in a loop of all-reduces
//   mpi_dead_rank stall [timeout_s]: rank 1 stops calling MPI; the watchdog must fire
// Either way the job must exit non-zero; tests/scripts/expect_job_dies.sh checks time and message.
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "cluster/comm/communicator_factory.h"
#include "cluster/comm/world.h"

using namespace rampart;

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "kill";
  double timeout_s = argc > 2 ? std::stod(argv[2]) : 30;
  auto comm = make_communicator(detect_world(), "mpi", timeout_s);
  if (comm->size() < 2) {
    std::fprintf(stderr, "mpi_dead_rank needs at least 2 ranks\n");
    return 2;
  }
  std::vector<float> grads(250000, 1.0f);  // 1 MB
  for (int step = 0; step < 1000000; ++step) {
    if (step == 20 && comm->rank() == 1) {
      std::fprintf(stderr, "rank 1: %s now (pid %d)\n", mode == "kill" ? "killing myself" : "stalling", int(getpid()));
      std::fflush(stderr);
      if (mode == "kill") raise(SIGKILL);
      std::this_thread::sleep_for(std::chrono::hours(1));
    }
    if (step % 2 == 0) {
      comm->allreduce_sum(grads.data(), int64_t(grads.size()));
    } else {
      comm->allreduce_sum_async(grads.data(), int64_t(grads.size()))->wait();
    }
    for (float& g : grads) g = 1.0f;
  }
  std::fprintf(stderr, "rank %d: finished every step although rank 1 stopped\n", comm->rank());
  return 0;
}
