// GradReducer on a pretend world: buckets start in order as layers report, sums land, stats add up.
#include <gtest/gtest.h>

#include <numeric>

#include "cluster/comm/grad_reducer.h"
#include "fake_communicator.h"

namespace rampart {
namespace {

using Ranges = std::vector<std::pair<int64_t, int64_t>>;

// conv(0..320) relu flatten linear(320..1000) linear(1000..1010)
const Ranges kRanges{{0, 320}, {320, 320}, {320, 320}, {320, 1000}, {1000, 1010}};

TEST(GradReducer, StartsBucketsDuringBackwardAndSumsAll) {
  testing::FakeCommunicator comm(3);
  comm.polls_to_complete = 1000;  // nothing completes until finish()
  std::vector<float> g(1010);
  std::iota(g.begin(), g.end(), 0.0f);
  GradReducer red(comm, g.data(), kRanges, 1000 * 4);  // linear(680)+linear(10) fit; conv alone
  ASSERT_EQ(red.buckets().size(), 2u);
  red.begin_step();
  red.on_grad_ready(4);
  EXPECT_TRUE(comm.started.empty()) << "bucket 0 still waits for layer 3";
  red.on_grad_ready(3);
  ASSERT_EQ(comm.started.size(), 1u);
  EXPECT_EQ(comm.started[0].first, g.data() + 320);
  EXPECT_EQ(comm.started[0].second, 690);
  red.on_grad_ready(2);
  red.on_grad_ready(1);
  red.on_grad_ready(0);
  ASSERT_EQ(comm.started.size(), 2u);
  EXPECT_EQ(comm.started[1].first, g.data());
  red.finish(0.5f);
  for (int i = 0; i < 1010; ++i) ASSERT_EQ(g[size_t(i)], float(i) * 3 * 0.5f) << i;
  auto s = red.last_stats();
  EXPECT_EQ(s.bytes, 1010 * 4);
  EXPECT_EQ(s.buckets, 2);
  EXPECT_GE(s.allreduce_s_total, 0);
  EXPECT_GE(s.exposed_wait_s, 0);
}

TEST(GradReducer, FinishStartsBucketsWhoseLayersNeverReported) {
  testing::FakeCommunicator comm(2);
  std::vector<float> g(1010, 1.0f);
  GradReducer red(comm, g.data(), kRanges, 64);
  red.begin_step();
  red.finish(1.0f);  // no callbacks at all
  EXPECT_EQ(comm.started.size(), red.buckets().size());
  for (float v : g) ASSERT_EQ(v, 2.0f);
}

TEST(GradReducer, StartOrderDoesNotDependOnCallbackOrder) {
  testing::FakeCommunicator comm(2);
  comm.polls_to_complete = 1000;
  std::vector<float> g(1010, 1.0f);
  GradReducer red(comm, g.data(), kRanges, 4);  // one bucket per layer: 4, 3, 0
  ASSERT_EQ(red.buckets().size(), 3u);
  red.begin_step();
  red.on_grad_ready(0);  // out of order: must not start bucket 2 before buckets 0 and 1
  EXPECT_TRUE(comm.started.empty());
  red.on_grad_ready(4);
  EXPECT_EQ(comm.started.size(), 1u);
  red.on_grad_ready(3);
  EXPECT_EQ(comm.started.size(), 3u);
  EXPECT_EQ(comm.started[2].first, g.data());
  red.finish(1.0f);
}

TEST(GradReducer, PollsRequestsInFlightAtEachCallback) {
  testing::FakeCommunicator comm(2);
  comm.polls_to_complete = 2;
  std::vector<float> g(1010, 1.0f);
  GradReducer red(comm, g.data(), kRanges, 4);
  red.begin_step();
  for (int l = 4; l >= 0; --l) red.on_grad_ready(l);
  EXPECT_GT(comm.tests, 0);
  red.finish(1.0f);
  EXPECT_LT(comm.waits, 3) << "requests completed during backward need no wait";
  for (float v : g) ASSERT_EQ(v, 2.0f);
}

TEST(GradReducer, ReportingTwiceIsAnError) {
  testing::FakeCommunicator comm(2);
  std::vector<float> g(1010, 1.0f);
  GradReducer red(comm, g.data(), kRanges, 1 << 20);
  red.begin_step();
  red.on_grad_ready(4);
  EXPECT_THROW(red.on_grad_ready(4), std::logic_error);
  EXPECT_THROW(red.on_grad_ready(9), std::out_of_range);
  red.finish(1.0f);
}

TEST(GradReducer, WorldOfOneCommunicatesNothing) {
  testing::FakeCommunicator comm(1);
  std::vector<float> g(1010, 2.0f);
  GradReducer red(comm, g.data(), kRanges, 64);
  for (int step = 0; step < 2; ++step) {
    red.begin_step();
    for (int l = 4; l >= 0; --l) red.on_grad_ready(l);
    red.finish(1.0f);
  }
  EXPECT_TRUE(comm.started.empty());
  EXPECT_EQ(g[0], 2.0f);
  red.finish(0.25f);
  EXPECT_EQ(g[1009], 0.5f);
  EXPECT_EQ(red.last_stats().bytes, 0);
}

TEST(GradReducer, ManySteps) {
  testing::FakeCommunicator comm(2);
  std::vector<float> g(1010);
  GradReducer red(comm, g.data(), kRanges, 2000);
  for (int step = 0; step < 5; ++step) {
    std::fill(g.begin(), g.end(), float(step));
    red.begin_step();
    for (int l = 4; l >= 0; --l) red.on_grad_ready(l);
    red.finish(0.5f);
    for (float v : g) ASSERT_EQ(v, float(step));
  }
}

}  // namespace
}  // namespace rampart
