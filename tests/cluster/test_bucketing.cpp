// assign_buckets(): reverse layer order, whole layers, contiguous, no overlap, size limits.
#include <gtest/gtest.h>

#include <stdexcept>

#include "cluster/comm/bucketing.h"

namespace rampart {
namespace {

using Ranges = std::vector<std::pair<int64_t, int64_t>>;

// Layers of the given sizes laid out back to back in forward order.
Ranges layout(const std::vector<int64_t>& sizes) {
  Ranges r;
  int64_t at = 0;
  for (int64_t s : sizes) {
    r.push_back({at, at + s});
    at += s;
  }
  return r;
}

// Every parameter element in exactly one bucket; buckets contiguous and in reverse order;
// every bucket's layers are exactly the layers inside its range.
void check_invariants(const Ranges& ranges, const std::vector<Bucket>& buckets, int64_t bucket_bytes, int elem) {
  int64_t covered = 0, total = 0;
  for (auto [b, e] : ranges) total += e - b;
  for (size_t k = 0; k < buckets.size(); ++k) {
    const Bucket& bk = buckets[k];
    ASSERT_FALSE(bk.layers.empty());
    ASSERT_LT(bk.begin, bk.end);
    if (k > 0) {
      EXPECT_LE(bk.end, buckets[k - 1].begin) << "buckets must go from the end of the buffer to its start";
    }
    int64_t sum = 0;
    for (size_t j = 0; j < bk.layers.size(); ++j) {
      auto [b, e] = ranges[size_t(bk.layers[j])];
      if (j > 0) {
        EXPECT_LT(bk.layers[j], bk.layers[j - 1]) << "layers last first";
      }
      EXPECT_GE(b, bk.begin);
      EXPECT_LE(e, bk.end);
      sum += e - b;
    }
    EXPECT_EQ(sum, bk.end - bk.begin) << "bucket " << k << " covers exactly its layers";
    if (bk.layers.size() > 1) {
      EXPECT_LE((bk.end - bk.begin) * elem, bucket_bytes);
    }
    covered += bk.end - bk.begin;
  }
  EXPECT_EQ(covered, total);
}

TEST(Bucketing, GroupsSmallLayersInReverseOrder) {
  Ranges r = layout({100, 100, 100, 100, 100});  // 400 bytes each in float
  auto b = assign_buckets(r, 800, 4);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].layers, (std::vector<int>{4, 3}));
  EXPECT_EQ(b[0].begin, 300);
  EXPECT_EQ(b[0].end, 500);
  EXPECT_EQ(b[1].layers, (std::vector<int>{2, 1}));
  EXPECT_EQ(b[2].layers, (std::vector<int>{0}));
  EXPECT_EQ(b[2].begin, 0);
  check_invariants(r, b, 800, 4);
}

TEST(Bucketing, AllInOneBucketWhenLarge) {
  Ranges r = layout({10, 20, 30});
  auto b = assign_buckets(r, 1 << 20, 4);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].begin, 0);
  EXPECT_EQ(b[0].end, 60);
  EXPECT_EQ(b[0].layers, (std::vector<int>{2, 1, 0}));
}

TEST(Bucketing, GiantLayerGetsItsOwnBucket) {
  Ranges r = layout({10, 10, 100000, 10, 10});
  auto b = assign_buckets(r, 1000, 4);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].layers, (std::vector<int>{4, 3}));
  EXPECT_EQ(b[1].layers, (std::vector<int>{2}));
  EXPECT_EQ(b[1].end - b[1].begin, 100000);
  EXPECT_EQ(b[2].layers, (std::vector<int>{1, 0}));
  check_invariants(r, b, 1000, 4);
}

TEST(Bucketing, BucketSmallerThanEveryLayerGivesOneBucketPerLayer) {
  Ranges r = layout({7, 300, 5, 64});
  auto b = assign_buckets(r, 4, 4);  // 4 bytes: one float
  ASSERT_EQ(b.size(), 4u);
  for (size_t k = 0; k < 4; ++k) EXPECT_EQ(b[k].layers, (std::vector<int>{3 - int(k)}));
  check_invariants(r, b, 4, 4);
}

TEST(Bucketing, ParameterlessLayersBelongToNoBucket) {
  // conv, relu, pool, flatten, linear, relu, linear
  Ranges r{{0, 320}, {320, 320}, {320, 320}, {320, 320}, {320, 1000}, {1000, 1000}, {1000, 1010}};
  auto b = assign_buckets(r, 1 << 20, 4);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].layers, (std::vector<int>{6, 4, 0}));
  check_invariants(r, b, 1 << 20, 4);
  EXPECT_TRUE(assign_buckets(Ranges{{0, 0}, {0, 0}}, 100, 4).empty());
  EXPECT_TRUE(assign_buckets(Ranges{}, 100, 4).empty());
}

TEST(Bucketing, ExactFitStaysInOneBucket) {
  Ranges r = layout({25, 25, 25, 25});
  auto b = assign_buckets(r, 200, 4);  // two layers make exactly 200 bytes
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].layers, (std::vector<int>{3, 2}));
  EXPECT_EQ(b[1].layers, (std::vector<int>{1, 0}));
}

TEST(Bucketing, ElementSizeCounts) {
  Ranges r = layout({100, 100});
  EXPECT_EQ(assign_buckets(r, 400, 2).size(), 1u);  // bf16: 400 bytes total
  EXPECT_EQ(assign_buckets(r, 400, 4).size(), 2u);
}

TEST(Bucketing, GapsInTheBufferSplitBuckets) {
  Ranges r{{0, 10}, {16, 26}};  // 6 padding elements between the layers
  auto b = assign_buckets(r, 1 << 20, 4);
  ASSERT_EQ(b.size(), 2u);
  check_invariants(r, b, 1 << 20, 4);
}

TEST(Bucketing, RandomLayoutsKeepTheInvariants) {
  uint64_t s = 12345;
  auto next = [&] { s = s * 6364136223846793005ull + 1442695040888963407ull; return s >> 33; };
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<int64_t> sizes(1 + next() % 20);
    for (auto& z : sizes) z = (next() % 4 == 0) ? 0 : int64_t(next() % 5000);
    int64_t bytes = 1 + int64_t(next() % 40000);
    Ranges r = layout(sizes);
    check_invariants(r, assign_buckets(r, bytes, 4), bytes, 4);
  }
}

TEST(Bucketing, BadArgumentsThrow) {
  EXPECT_THROW(assign_buckets(layout({1}), 0, 4), std::invalid_argument);
  EXPECT_THROW(assign_buckets(layout({1}), 16, 0), std::invalid_argument);
  EXPECT_THROW(assign_buckets(Ranges{{0, 10}, {5, 15}}, 16, 4), std::invalid_argument);  // overlap
  EXPECT_THROW(assign_buckets(Ranges{{10, 5}}, 16, 4), std::invalid_argument);
}

}  // namespace
}  // namespace rampart
