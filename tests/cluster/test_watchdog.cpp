// Watchdog: fires once with the documented message when a watch outlives its deadline; never otherwise.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "cluster/comm/watchdog.h"

namespace rampart {
namespace {

struct Recorder {
  std::mutex mu;
  std::vector<std::string> messages;
  Watchdog::Action action() {
    return [this](const std::string& m) {
      std::lock_guard<std::mutex> lock(mu);
      messages.push_back(m);
    };
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return messages.size();
  }
};

TEST(Watchdog, FiresWithTheMessageWhenTheDeadlinePasses) {
  Recorder rec;
  Watchdog dog(0.05, 1, rec.action());
  auto t0 = std::chrono::steady_clock::now();
  {
    auto guard = dog.guard("all-reduce of 1.7 MB");
    while (rec.count() == 0 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5))
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(rec.count(), 1u);
  EXPECT_EQ(rec.messages[0],
            "rampart: rank 1: all-reduce of 1.7 MB did not complete within 0.05 s (a peer rank died or stalled); "
            "aborting the job");
  EXPECT_GE(waited, 0.05);
  EXPECT_LT(waited, 2.0);
}

TEST(Watchdog, QuietWhenEveryWatchEndsInTime) {
  Recorder rec;
  Watchdog dog(0.2, 0, rec.action());
  for (int i = 0; i < 2000; ++i) {
    auto guard = dog.guard("barrier");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // past every old deadline
  EXPECT_EQ(rec.count(), 0u);
}

TEST(Watchdog, ReArmingRestartsTheClock) {
  Recorder rec;
  Watchdog dog(0.3, 0, rec.action());
  for (int i = 0; i < 5; ++i) {  // 5 x 0.1 s of watched work, each well inside 0.3 s
    auto guard = dog.guard("step");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(rec.count(), 0u);
}

TEST(Watchdog, DisabledCostsNothingAndNeverFires) {
  Recorder rec;
  Watchdog dog(0, 0, rec.action());
  EXPECT_FALSE(dog.enabled());
  auto guard = dog.guard("all-reduce");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(rec.count(), 0u);
}

TEST(Watchdog, FormatBytes) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(4096), "4.1 kB");
  EXPECT_EQ(format_bytes(1.7e6), "1.7 MB");
  EXPECT_EQ(format_bytes(2.5e9), "2.50 GB");
}

}  // namespace
}  // namespace rampart
