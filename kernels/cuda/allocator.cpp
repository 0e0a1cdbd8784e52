// The caching device allocator (see allocator.h).
#include "kernels/cuda/allocator.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/context.h"

namespace rampart::cuda {

size_t BlockCache::round_size(size_t bytes) {
  const size_t r = bytes <= kSmallMax ? kSmallRound : kLargeRound;
  return (bytes + r - 1) / r * r;
}

BlockCache::BlockCache(RawAlloc raw_alloc, RawFree raw_free)
    : raw_alloc_(std::move(raw_alloc)), raw_free_(std::move(raw_free)) {}

BlockCache::~BlockCache() {
  std::lock_guard<std::mutex> lock(mu_);
  empty_locked();
}

void* BlockCache::allocate(size_t bytes, Pool pool) {
  if (bytes == 0) return nullptr;
  const size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  // Small blocks: the exact rounded size. Large blocks: the smallest cached one of
  // at least the size, if it wastes less than half of itself (no splitting).
  auto it = free_.lower_bound(Key{pool, size});
  if (it != free_.end() && it->first.pool == pool &&
      (size <= kSmallMax ? it->first.size == size : it->first.size < 2 * size)) {
    void* p = it->second;
    Key key = it->first;
    free_.erase(it);
    live_.emplace(p, key);
    stats_.bytes_cached -= key.size;
    stats_.bytes_in_use += key.size;
    stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
    ++stats_.cache_hits;
    return p;
  }
  void* p = raw_alloc_(size);
  ++stats_.malloc_calls;
  if (!p && !free_.empty()) {  // out of memory: give the cache back and retry once
    empty_locked();
    p = raw_alloc_(size);
    ++stats_.malloc_calls;
  }
  if (!p)
    throw std::runtime_error("device allocator: out of memory allocating " + std::to_string(bytes) +
                             " bytes (rounded to " + std::to_string(size) + ") on device " +
                             std::to_string(pool.device) + " with " +
                             std::to_string(stats_.bytes_in_use) +
                             " bytes in use; use a smaller batch size");
  live_.emplace(p, Key{pool, size});
  stats_.bytes_in_use += size;
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  return p;
}

void BlockCache::release(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(p);
  if (it == live_.end())
    throw std::invalid_argument("device allocator: freeing a pointer it did not allocate (or a "
                                "second time)");
  const Key key = it->second;
  live_.erase(it);
  free_.emplace(key, p);
  stats_.bytes_in_use -= key.size;
  stats_.bytes_cached += key.size;
}

void BlockCache::empty() {
  std::lock_guard<std::mutex> lock(mu_);
  empty_locked();
}

void BlockCache::empty_locked() {
  for (auto& [key, p] : free_) {
    raw_free_(p);
    ++stats_.free_calls;
  }
  free_.clear();
  stats_.bytes_cached = 0;
}

AllocatorStats BlockCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

namespace {

// Never destroyed: at process exit the CUDA runtime may already be torn down, and
// cudaFree would then fail or crash (PyTorch leaks its allocator for the same reason).
BlockCache& cache() {
  static BlockCache* c = new BlockCache(
      [](size_t bytes) -> void* {
        void* p = nullptr;
        if (cudaMalloc(&p, bytes) != cudaSuccess) {
          cudaGetLastError();  // clear the sticky-looking OOM so later checks do not report it
          return nullptr;
        }
        return p;
      },
      [](void* p) { cudaFree(p); });
  return *c;
}

}  // namespace

void* device_alloc(size_t bytes) { return device_alloc(bytes, context().stream()); }

void* device_alloc(size_t bytes, cudaStream_t stream) {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  return cache().allocate(bytes, BlockCache::Pool{device, stream});
}

void device_free(void* p) { cache().release(p); }

void empty_cache() { cache().empty(); }

AllocatorStats allocator_stats() { return cache().stats(); }

}  // namespace rampart::cuda
