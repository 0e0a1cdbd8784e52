// UDP heartbeats between ranks: one thread per rank sends and receives.
#include "cluster/comm/heartbeat.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>
#include <stdexcept>

namespace rampart {
namespace {

constexpr uint32_t kMagic = 0x52504842;  // "RPHB"

struct Datagram {
  uint32_t magic;
  int32_t rank;
  uint64_t nonce;
};
static_assert(sizeof(Datagram) == 16);

std::string ipv4(uint32_t addr) {
  char buf[INET_ADDRSTRLEN] = {};
  in_addr a{addr};
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

// The field after "key=" up to the next ';'.
std::string field(const std::string& card, const std::string& key) {
  auto at = card.find(key + "=");
  if (at == std::string::npos) throw std::invalid_argument("heartbeat card without " + key + ": '" + card + "'");
  at += key.size() + 1;
  return card.substr(at, card.find(';', at) - at);
}

}  // namespace

Heartbeat::Heartbeat(int rank, int size, double period_s) : rank_(rank), size_(size), period_s_(period_s) {
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("heartbeat: socket: ") + std::strerror(errno));
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t len = sizeof any;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&any), &len) != 0) {
    int e = errno;
    ::close(fd_);
    throw std::runtime_error(std::string("heartbeat: bind: ") + std::strerror(e));
  }
  port_ = ntohs(any.sin_port);
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  hostname_ = name;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i; i = i->ifa_next) {
      if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP)) continue;
      if (i->ifa_flags & IFF_LOOPBACK) continue;  // sent to only by ranks on this host (below)
      my_addrs_.push_back(reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr);
    }
    ::freeifaddrs(list);
  }
  last_ns_ = std::make_unique<std::atomic<int64_t>[]>(size_t(size_));
  for (int p = 0; p < size_; ++p) last_ns_[p] = 0;
}

Heartbeat::~Heartbeat() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

std::string Heartbeat::card() const {
  std::string c = "host=" + hostname_ + ";port=" + std::to_string(port_) + ";addrs=";
  // The nonce is filled in by start()'s own card: the rank's pid and port make stray
  // datagrams (an earlier job on the same port) fail the check.
  bool first = true;
  for (uint32_t a : my_addrs_) {
    std::string s = ipv4(a);
    if (c.size() + s.size() + 48 > size_t(kCardBytes)) break;
    c += (first ? "" : ",") + s;
    first = false;
  }
  c += ";nonce=" + std::to_string((uint64_t(::getpid()) << 16) ^ port_);
  return c;
}

void Heartbeat::start(const std::vector<std::string>& cards) {
  if (int(cards.size()) != size_)
    throw std::invalid_argument("heartbeat: " + std::to_string(cards.size()) + " cards for " +
                                std::to_string(size_) + " ranks");
  peers_.assign(size_t(size_), Peer{});
  std::vector<uint64_t> nonces(static_cast<size_t>(size_));
  for (int p = 0; p < size_; ++p) {
    Peer& peer = peers_[size_t(p)];
    peer.host = field(cards[size_t(p)], "host");
    peer.port = uint16_t(std::stoul(field(cards[size_t(p)], "port")));
    nonces[size_t(p)] = std::stoull(field(cards[size_t(p)], "nonce"));
    std::stringstream addrs(field(cards[size_t(p)], "addrs"));
    for (std::string a; std::getline(addrs, a, ',');) {
      in_addr v{};
      if (!a.empty() && inet_pton(AF_INET, a.c_str(), &v) == 1) peer.addrs.push_back(v.s_addr);
    }
    if (peer.host == hostname_) peer.addrs.push_back(htonl(INADDR_LOOPBACK));
  }
  started_ = Clock::now();
  thread_ = std::thread([this, nonces] {
    const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(period_s_));
    auto next = Clock::now();
    const uint64_t mine = nonces[size_t(rank_)];
    while (!stop_) {
      auto now = Clock::now();
      if (now >= next) {
        Datagram d{kMagic, rank_, mine};
        for (int p = 0; p < size_; ++p) {
          if (p == rank_) continue;
          for (uint32_t a : peers_[size_t(p)].addrs) {
            sockaddr_in to{};
            to.sin_family = AF_INET;
            to.sin_port = htons(peers_[size_t(p)].port);
            to.sin_addr.s_addr = a;
            // Errors (an unreachable network) are what a heartbeat is for: ignored.
            (void)::sendto(fd_, &d, sizeof d, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&to),
                           sizeof to);
          }
        }
        next = now + period;
      }
      // Wake for datagrams, the next send, or at least every 100 ms to see stop_.
      auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, int(std::max<int64_t>(0, std::min<int64_t>(wait_ms, 100)))) <= 0) continue;
      Datagram d{};
      while (::recv(fd_, &d, sizeof d, MSG_DONTWAIT) == ssize_t(sizeof d)) {
        if (d.magic != kMagic || d.rank < 0 || d.rank >= size_ || d.rank == rank_) continue;
        if (d.nonce != nonces[size_t(d.rank)]) continue;
        last_ns_[d.rank] = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
      }
    }
  });
}

bool Heartbeat::heard_from(int peer) const { return peer >= 0 && peer < size_ && last_ns_[peer] != 0; }

double Heartbeat::silent_for(int peer) const {
  if (peer == rank_ || peer < 0 || peer >= size_ || !thread_.joinable()) return -1;
  int64_t last = last_ns_[peer];
  auto since = last ? Clock::time_point(std::chrono::nanoseconds(last)) : started_;
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::string Heartbeat::describe_silent(double threshold_s) const {
  if (!thread_.joinable()) return "";
  std::string out;
  int silent = 0, never = 0;
  for (int p = 0; p < size_; ++p) {
    double s = silent_for(p);
    if (s <= threshold_s) continue;
    ++silent;
    never += heard_from(p) ? 0 : 1;
    if (silent > 8) continue;  // the message stays one line; the count says how many
    const Peer& peer = peers_[size_t(p)];
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", s);
    out += std::string(out.empty() ? "" : "; ") + "rank " + std::to_string(p) + " on " + peer.host;
    if (!peer.addrs.empty()) out += " (" + ipv4(peer.addrs.front()) + ")";
    out += heard_from(p) ? std::string(", silent for ") + secs + " s" : ", never heard from";
  }
  if (silent == 0) return "";
  if (never == size_ - 1 && size_ > 2)
    return "no heartbeat from any rank ever reached this one (UDP between the hosts blocked?), so the "
           "missing rank is unknown";
  std::string head = silent > 8 ? std::to_string(silent) + " ranks not heard from, the first 8: "
                                : std::string("not heard from: ");
  return head + out;
}

}  // namespace rampart
