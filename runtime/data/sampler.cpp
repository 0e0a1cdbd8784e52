// Epoch permutations and the split of global batches across ranks (see sampler.h).
#include "runtime/data/sampler.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "runtime/rng.h"

namespace rampart {

std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch) {
  if (n < 0) throw std::invalid_argument("epoch_permutation: n = " + std::to_string(n));
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t(0));
  Rng rng(seed, Stream::kShuffle, uint64_t(epoch));
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[int64_t(rng.below(uint64_t(i) + 1))]);
  return p;
}

int64_t num_batches(int64_t n, int64_t global_batch) {
  if (global_batch < 1) throw std::invalid_argument("num_batches: global batch " + std::to_string(global_batch));
  return (n + global_batch - 1) / global_batch;
}

std::pair<int64_t, int64_t> batch_slice(int64_t b, int64_t n, int64_t global_batch) {
  if (b < 0 || b >= num_batches(n, global_batch))
    throw std::out_of_range("batch_slice: batch " + std::to_string(b) + " of " +
                            std::to_string(num_batches(n, global_batch)));
  return {b * global_batch, std::min(n, (b + 1) * global_batch)};
}

std::pair<int64_t, int64_t> rank_slice(int64_t begin, int64_t end, int rank, int world) {
  if (world < 1 || rank < 0 || rank >= world)
    throw std::invalid_argument("rank_slice: rank " + std::to_string(rank) + " of " + std::to_string(world));
  int64_t len = end - begin, base = len / world, extra = len % world;
  int64_t start = begin + rank * base + std::min<int64_t>(rank, extra);
  return {start, start + base + (rank < extra ? 1 : 0)};
}

std::vector<int64_t> rank_epoch_indices(const std::vector<int64_t>& perm, int64_t global_batch, int rank,
                                        int world) {
  const int64_t n = int64_t(perm.size());
  std::vector<int64_t> out;
  out.reserve(size_t(n / world + num_batches(n, global_batch)));
  for (int64_t b = 0; b < num_batches(n, global_batch); ++b) {
    auto [bb, be] = batch_slice(b, n, global_batch);
    auto [rb, re] = rank_slice(bb, be, rank, world);
    out.insert(out.end(), perm.begin() + rb, perm.begin() + re);
  }
  return out;
}

}  // namespace rampart
