// Sampler: epoch permutations and the property that matters for data parallelism:
// global batch b is the same set of rows on 1, 2, 3 or 4 ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "runtime/data/sampler.h"

namespace rampart {
namespace {

TEST(Sampler, PermutationIsAPermutationAndDependsOnSeedAndEpoch) {
  const int64_t n = 1000;
  std::vector<int64_t> p = epoch_permutation(n, 7, 0);
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(n);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_NE(p, iota);                               // shuffled
  EXPECT_EQ(p, epoch_permutation(n, 7, 0));         // reproducible
  EXPECT_NE(p, epoch_permutation(n, 7, 1));         // a new order each epoch
  EXPECT_NE(p, epoch_permutation(n, 8, 0));         // and per seed
  EXPECT_TRUE(epoch_permutation(0, 1, 0).empty());
  EXPECT_EQ(epoch_permutation(1, 1, 0), std::vector<int64_t>{0});
  // Roughly uniform: each of 10 values lands at position 0 about 1/10 of the time.
  std::vector<int> first(10, 0);
  for (int e = 0; e < 2000; ++e) ++first[epoch_permutation(10, 3, e)[0]];
  for (int c : first) { EXPECT_GT(c, 130); EXPECT_LT(c, 270); }
}

TEST(Sampler, BatchesKeepTheLastPartialOne) {
  EXPECT_EQ(num_batches(100, 10), 10);
  EXPECT_EQ(num_batches(103, 10), 11);
  EXPECT_EQ(num_batches(0, 10), 0);
  EXPECT_EQ(num_batches(5, 10), 1);
  EXPECT_EQ(batch_slice(10, 103, 10), (std::pair<int64_t, int64_t>{100, 103}));
  EXPECT_EQ(batch_slice(0, 103, 10), (std::pair<int64_t, int64_t>{0, 10}));
  EXPECT_THROW(batch_slice(11, 103, 10), std::out_of_range);
}

TEST(Sampler, RankSlicesDifferByAtMostOneAndEarlierRanksGetMore) {
  // 10 rows over 4 ranks: 3, 3, 2, 2.
  EXPECT_EQ(rank_slice(20, 30, 0, 4), (std::pair<int64_t, int64_t>{20, 23}));
  EXPECT_EQ(rank_slice(20, 30, 1, 4), (std::pair<int64_t, int64_t>{23, 26}));
  EXPECT_EQ(rank_slice(20, 30, 2, 4), (std::pair<int64_t, int64_t>{26, 28}));
  EXPECT_EQ(rank_slice(20, 30, 3, 4), (std::pair<int64_t, int64_t>{28, 30}));
  // Fewer rows than ranks: the last ranks get none.
  EXPECT_EQ(rank_slice(0, 2, 3, 4), (std::pair<int64_t, int64_t>{2, 2}));
  for (int64_t len = 0; len < 20; ++len)
    for (int world = 1; world <= 5; ++world) {
      int64_t pos = 7;
      for (int r = 0; r < world; ++r) {
        auto [b, e] = rank_slice(7, 7 + len, r, world);
        EXPECT_EQ(b, pos);  // contiguous, in rank order
        EXPECT_TRUE(e - b == len / world || e - b == len / world + 1);
        EXPECT_EQ(e - b > len / world, r < len % world);
        pos = e;
      }
      EXPECT_EQ(pos, 7 + len);
    }
}

TEST(Sampler, GlobalBatchesAreTheSameOnAnyNumberOfRanks) {
  const int64_t n = 103, batch = 10;  // last batch: 3 rows, fewer than 4 ranks
  std::vector<int64_t> perm = epoch_permutation(n, 42, 3);
  // The 1-rank run: batch b is perm[10b, 10b + 10).
  std::vector<int64_t> one = rank_epoch_indices(perm, batch, 0, 1);
  EXPECT_EQ(one, perm);
  for (int world = 1; world <= 4; ++world) {
    std::vector<std::vector<int64_t>> mine(world);
    for (int r = 0; r < world; ++r) mine[r] = rank_epoch_indices(perm, batch, r, world);
    std::vector<size_t> pos(world, 0);
    for (int64_t b = 0; b < num_batches(n, batch); ++b) {
      auto [gb, ge] = batch_slice(b, n, batch);
      std::vector<int64_t> joined;
      for (int r = 0; r < world; ++r) {
        auto [rb, re] = rank_slice(gb, ge, r, world);
        // Each rank's epoch list, walked batch by batch, holds exactly its slice.
        joined.insert(joined.end(), mine[r].begin() + pos[r], mine[r].begin() + pos[r] + (re - rb));
        pos[r] += re - rb;
      }
      std::vector<int64_t> expect(one.begin() + gb, one.begin() + ge);
      EXPECT_EQ(joined, expect) << "world " << world << " batch " << b;
    }
    for (int r = 0; r < world; ++r) EXPECT_EQ(pos[r], mine[r].size()) << "rank " << r << " has leftovers";
  }
}

}  // namespace
}  // namespace rampart
