// Preemption signals: SIGTERM (scancel, requeue), SIGUSR1 (sbatch --signal) and
// SIGINT set a flag that the trainer reads at every step boundary.
//
// The signals are blocked in every thread and taken by one thread with sigwait,
// so no handler ever interrupts compute code: with an async handler, a signal
// landing inside oneDNN's sgemm occasionally ended in heap corruption (seen in
// 2 of 24 preempted runs), and with a handler nothing needs to be signal-safe.
// Must run before any other thread starts (MPI, OpenMP, the watchdog), since
// threads inherit the signal mask of the thread that creates them.
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include "cluster/train/trainer.h"
#include "launch/commands.h"

namespace rampart {

void install_stop_signals() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    int interrupts = 0;
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      // A second Ctrl-C means "now", not "at the next step".
      if (sig == SIGINT && ++interrupts > 1) {
        std::fputs("rampart: interrupted twice; exiting without a checkpoint\n", stderr);
        std::_Exit(130);
      }
      stop_requested().store(sig);
    }
  }).detach();
}

}  // namespace rampart
