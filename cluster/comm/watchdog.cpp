// The watchdog thread: sleeps until the armed deadline, then reports and acts.
#include "cluster/comm/watchdog.h"

#include <cstdio>
#include <unistd.h>

namespace rampart {

Watchdog::Watchdog(double timeout_s, int rank, Action on_expiry)
    : timeout_s_(timeout_s), rank_(rank), on_expiry_(std::move(on_expiry)) {
  if (enabled()) thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Watchdog::arm(std::string what) {
  if (!enabled()) return;
  auto span = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(timeout_s_));
  {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = true;
    ++generation_;
    deadline_ = std::chrono::steady_clock::now() + span;
    what_ = std::move(what);
  }
  cv_.notify_one();
}

// No notify: the thread wakes at the old deadline, sees nothing armed and sleeps
// again. That keeps disarm to one uncontended lock on the hot path.
void Watchdog::disarm() {
  if (!enabled()) return;
  std::lock_guard<std::mutex> lock(mu_);
  armed_ = false;
}

std::string Watchdog::message(const std::string& what, const std::string& diagnosis) const {
  char secs[32];
  std::snprintf(secs, sizeof secs, "%g", timeout_s_);
  return "rampart: rank " + std::to_string(rank_) + ": " + what + " did not complete within " + secs + " s" +
         (diagnosis.empty() ? " (a peer rank died or stalled)" : "; " + diagnosis) + "; aborting the job";
}

void Watchdog::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (!armed_) {
      cv_.wait(lock, [&] { return stop_ || armed_; });
      continue;
    }
    unsigned long gen = generation_;
    auto deadline = deadline_;
    cv_.wait_until(lock, deadline, [&] { return stop_ || !armed_ || generation_ != gen; });
    if (stop_ || !armed_ || generation_ != gen) continue;
    if (std::chrono::steady_clock::now() < deadline) continue;
    std::string what = what_;
    lock.unlock();
    std::string line = message(what, diagnose_ ? diagnose_() : std::string()) + "\n";
    // write(2) rather than stdio: the main thread may hold stderr's lock.
    ssize_t ignored = ::write(2, line.data(), line.size());
    (void)ignored;
    if (on_expiry_) on_expiry_(line.substr(0, line.size() - 1));
    lock.lock();
    if (generation_ == gen) armed_ = false;  // an action that returns (tests) fires once
  }
}

std::string format_bytes(double bytes) {
  char buf[32];
  if (bytes < 1e3)
    std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  else if (bytes < 1e6)
    std::snprintf(buf, sizeof buf, "%.1f kB", bytes / 1e3);
  else if (bytes < 1e9)
    std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.2f GB", bytes / 1e9);
  return buf;
}

}  // namespace rampart
