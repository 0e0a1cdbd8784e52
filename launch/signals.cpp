// Preemption signals: SIGTERM (scancel, requeue) and SIGUSR1 (sbatch --signal)
// set a flag that the trainer reads at every step boundary.
#include <csignal>

#include "cluster/trainer.h"
#include "launch/commands.h"

namespace rampart {

static void on_stop_signal(int sig) { stop_requested().store(sig); }

void install_stop_signals() {
  struct sigaction sa = {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

}  // namespace rampart
