// A thread that ends the job when a collective outlives its deadline, so a dead
// or stalled peer never leaves the other ranks waiting forever.
//   Watchdog dog(timeout_s, rank, [](const std::string&) { MPI_Abort(...); });
//   { auto guard = dog.guard("all-reduce of 1.7 MB"); MPI_Allreduce(...); }
// On expiry it writes one line to stderr,
//   rampart: rank 1: all-reduce of 1.7 MB did not complete within 30 s (a peer rank died or stalled); aborting the job
// or, with a diagnosis (set_diagnosis), naming the peers:
//   rampart: rank 0: all-reduce of 1.7 MB did not complete within 30 s; not heard from: rank 1 on h2
//   (10.0.0.2), silent for 30.4 s; aborting the job
// then calls the action, which should end the job (MPI_Abort); an action that
// returns (as in tests) just ends that watch.
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace rampart {

class Watchdog {
 public:
  using Action = std::function<void(const std::string& message)>;

  // timeout_s <= 0 disables the watchdog (guards cost nothing then).
  Watchdog(double timeout_s, int rank, Action on_expiry);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Starts the clock for one operation; `what` names it in the message. One
  // operation is watched at a time: arming again restarts the clock.
  void arm(std::string what);
  void disarm();

  class Guard {
   public:
    explicit Guard(Watchdog* dog) : dog_(dog) {}
    Guard(Guard&& o) noexcept : dog_(o.dog_) { o.dog_ = nullptr; }
    Guard(const Guard&) = delete;
    ~Guard() { if (dog_) dog_->disarm(); }
   private:
    Watchdog* dog_;
  };
  [[nodiscard]] Guard guard(std::string what) {
    if (!enabled()) return Guard(nullptr);
    arm(std::move(what));
    return Guard(this);
  }

  bool enabled() const { return timeout_s_ > 0; }
  double timeout_s() const { return timeout_s_; }
  // Called on expiry (on the watchdog thread) for what is known about the missing
  // peers (Heartbeat::describe_silent); its text goes into the message. Set it
  // before the first guard.
  void set_diagnosis(std::function<std::string()> diagnose) { diagnose_ = std::move(diagnose); }
  // The line written on expiry (without the newline), for tests and logs.
  std::string message(const std::string& what, const std::string& diagnosis = "") const;

 private:
  void run();

  double timeout_s_;
  int rank_;
  Action on_expiry_;
  std::function<std::string()> diagnose_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool armed_ = false;
  unsigned long generation_ = 0;
  std::chrono::steady_clock::time_point deadline_;
  std::string what_;
  std::thread thread_;
};

// "1.7 MB", "512 B": sizes for messages (decimal units).
std::string format_bytes(double bytes);

}  // namespace rampart
