// Which rows each rank reads, step by step: pure functions of (n, seed, epoch,
// global batch, rank, world), no I/O. The global batch b of an epoch is the same
// set of rows on 1, 2 or 64 ranks; each rank takes a contiguous part of it.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace rampart {

// A permutation of [0, n), Fisher-Yates driven by Rng(seed, Stream::kShuffle, epoch).
std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch);

// Batches per epoch; the last, partial batch is kept (PyTorch's drop_last=False).
int64_t num_batches(int64_t n, int64_t global_batch);

// Global batch b as [begin, end) positions in the permutation.
std::pair<int64_t, int64_t> batch_slice(int64_t b, int64_t n, int64_t global_batch);

// The rank's contiguous part of [begin, end): sizes differ by at most one and
// earlier ranks take the extra rows. A rank may get none when the batch is
// smaller than the world; callers weight gradients by rows, not by ranks.
std::pair<int64_t, int64_t> rank_slice(int64_t begin, int64_t end, int rank, int world);

// Every row index this rank reads in the epoch, in the order it uses them:
// its part of batch 0, then of batch 1, and so on.
std::vector<int64_t> rank_epoch_indices(const std::vector<int64_t>& perm, int64_t global_batch, int rank,
                                        int world);

}  // namespace rampart
