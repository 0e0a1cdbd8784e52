// Heartbeat: ranks hear each other over UDP; the one that stops is named, the live ones are not;
// datagrams of another job are ignored; the watchdog puts the diagnosis into its message.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cluster/comm/heartbeat.h"
#include "cluster/comm/watchdog.h"

namespace rampart {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::unique_ptr<Heartbeat>> start_ranks(int n, double period) {
  std::vector<std::unique_ptr<Heartbeat>> hb;
  std::vector<std::string> cards;
  for (int r = 0; r < n; ++r) {
    hb.push_back(std::make_unique<Heartbeat>(r, n, period));
    cards.push_back(hb.back()->card());
    EXPECT_LE(cards.back().size(), size_t(Heartbeat::kCardBytes));
  }
  for (auto& h : hb) h->start(cards);
  return hb;
}

// Waits until `cond` holds, at most `limit_s` (generous: a busy machine delays threads).
template <class F>
bool eventually(F cond, double limit_s = 20) {
  auto t0 = Clock::now();
  while (!cond()) {
    if (std::chrono::duration<double>(Clock::now() - t0).count() > limit_s) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

TEST(Heartbeat, NamesTheRankThatStoppedAndNotTheLiveOnes) {
  auto hb = start_ranks(3, 0.05);
  ASSERT_TRUE(eventually([&] {
    return hb[0]->heard_from(1) && hb[0]->heard_from(2) && hb[1]->heard_from(0) && hb[2]->heard_from(0);
  })) << "the ranks never heard each other";
  EXPECT_EQ(hb[0]->describe_silent(5.0), "");
  EXPECT_LT(hb[0]->silent_for(1), 5.0);
  EXPECT_EQ(hb[0]->silent_for(0), -1);

  hb[2].reset();  // rank 2 dies
  ASSERT_TRUE(eventually([&] { return hb[0]->silent_for(2) > 0.5; }));
  // Rank 1 stays in touch while rank 2 is silent: only rank 2 is named.
  ASSERT_TRUE(eventually([&] { return hb[0]->silent_for(1) < 0.4; }));
  std::string d = hb[0]->describe_silent(0.4);
  EXPECT_NE(d.find("not heard from: rank 2 on "), std::string::npos) << d;
  EXPECT_NE(d.find(", silent for "), std::string::npos) << d;
  EXPECT_EQ(d.find("rank 1"), std::string::npos) << d;
}

TEST(Heartbeat, APeerNeverHeardFromIsSaidSo) {
  // Rank 1's card points at a port no one listens on: rank 0 never hears from it.
  Heartbeat h0(0, 2, 0.05);
  std::string fake = "host=nowhere;port=9;addrs=127.0.0.1;nonce=1";
  h0.start({h0.card(), fake});
  ASSERT_TRUE(eventually([&] { return h0.silent_for(1) > 0.3; }));
  std::string d = h0.describe_silent(0.2);
  EXPECT_NE(d.find("rank 1 on nowhere (127.0.0.1), never heard from"), std::string::npos) << d;
}

TEST(Heartbeat, IgnoresDatagramsOfAnotherJob) {
  Heartbeat h0(0, 2, 0.05);
  // A card for rank 1 with nonce 42; a stranger sends rank 1's number with another nonce.
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in self{};
  self.sin_family = AF_INET;
  self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof self;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&self), sizeof self), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &len), 0);
  std::string card1 = "host=other;port=" + std::to_string(ntohs(self.sin_port)) + ";addrs=;nonce=42";
  h0.start({h0.card(), card1});
  std::string c0 = h0.card();
  auto at = c0.find("port=") + 5;
  uint16_t port0 = uint16_t(std::stoul(c0.substr(at, c0.find(';', at) - at)));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port0);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct {
    uint32_t magic;
    int32_t rank;
    uint64_t nonce;
  } d{0x52504842, 1, 41};
  for (int i = 0; i < 20; ++i) {
    ::sendto(fd, &d, sizeof d, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(h0.heard_from(1)) << "a datagram with the wrong nonce counted";
  d.nonce = 42;  // the right one counts (so the check above was not vacuous)
  ASSERT_TRUE(eventually([&] {
    ::sendto(fd, &d, sizeof d, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    return h0.heard_from(1);
  }));
  ::close(fd);
}

TEST(Heartbeat, TheWatchdogMessageCarriesTheDiagnosis) {
  std::vector<std::string> got;
  std::mutex mu;
  Watchdog dog(0.05, 0, [&](const std::string& m) {
    std::lock_guard<std::mutex> lock(mu);
    got.push_back(m);
  });
  dog.set_diagnosis([] { return std::string("not heard from: rank 1 on h2 (10.0.0.2), silent for 0.1 s"); });
  {
    auto guard = dog.guard("all-reduce of 1.7 MB");
    ASSERT_TRUE(eventually([&] {
      std::lock_guard<std::mutex> lock(mu);
      return !got.empty();
    }));
  }
  EXPECT_EQ(got[0],
            "rampart: rank 0: all-reduce of 1.7 MB did not complete within 0.05 s; not heard from: rank 1 on h2 "
            "(10.0.0.2), silent for 0.1 s; aborting the job");
}

}  // namespace
}  // namespace rampart
