// Liveness of the other ranks, seen outside the collectives, so that a stalled
// collective can name who is missing. Every rank sends a small UDP datagram to
// every other rank each `period_s` from a thread of its own, and records when it
// last heard from each. When a collective times out (Watchdog), the ranks not
// heard from lately are the dead, stalled or unreachable ones:
//   rank 0: all-reduce of 1.7 MB did not complete within 8 s; not heard from for 8.2 s:
//   rank 1 on h2 (10.213.64.2) — dead, stopped or cut off; aborting the job
// A datagram is 16 bytes; with 64 ranks and a 0.2 s period that is 5 KB/s sent per rank.
// Each rank is addressed at every IPv4 address it has (the one the network
// reaches it on is among them); a peer never heard from at all is reported as
// such (UDP between the hosts may be blocked by a firewall).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rampart {

class Heartbeat {
 public:
  // Opens the socket (any address, a free port). Sends nothing until start().
  Heartbeat(int rank, int size, double period_s);
  ~Heartbeat();
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  // This rank's card: hostname, port and addresses, for an all-gather. At most
  // kCardBytes bytes.
  static constexpr int kCardBytes = 512;
  std::string card() const;

  // The cards of all ranks, in rank order (this rank's own included). Starts the
  // sending and receiving thread. Bad cards throw std::invalid_argument.
  void start(const std::vector<std::string>& cards);

  // Seconds since `peer` was last heard from (since start() if never); -1 for
  // this rank or before start().
  double silent_for(int peer) const;
  bool heard_from(int peer) const;

  // The peers silent for longer than `threshold_s`, for a message; empty if none:
  //   "not heard from for 8.2 s: rank 1 on h2 (10.213.64.2)"
  std::string describe_silent(double threshold_s) const;

  double period_s() const { return period_s_; }
  std::string host(int peer) const { return peers_.at(size_t(peer)).host; }

 private:
  struct Peer {
    std::string host;
    uint16_t port = 0;
    std::vector<uint32_t> addrs;  // IPv4, network byte order
  };
  void run();

  int rank_, size_;
  double period_s_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string hostname_;
  std::vector<uint32_t> my_addrs_;
  std::vector<Peer> peers_;
  using Clock = std::chrono::steady_clock;
  std::chrono::time_point<Clock> started_;
  std::unique_ptr<std::atomic<int64_t>[]> last_ns_;  // per peer, Clock ns; 0 = never
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace rampart
