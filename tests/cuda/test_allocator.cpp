// The caching device allocator: its bookkeeping on host memory (runs anywhere),
// and on the GPU that a repeated training-step pattern stops calling cudaMalloc.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cuda/allocator.h"
#include "kernels/cuda/context.h"

namespace rampart::cuda {
namespace {

// A BlockCache over malloc/free that counts raw calls and can be made to fail.
struct HostCache {
  int64_t raw_allocs = 0, raw_frees = 0;
  size_t fail_above = SIZE_MAX;  // raw requests larger than this fail
  std::set<void*> outstanding;
  BlockCache cache{[this](size_t b) -> void* {
                     ++raw_allocs;
                     if (b > fail_above) return nullptr;
                     void* p = std::malloc(b);
                     outstanding.insert(p);
                     return p;
                   },
                   [this](void* p) {
                     ++raw_frees;
                     outstanding.erase(p);
                     std::free(p);
                   }};
};

const BlockCache::Pool kA{0, reinterpret_cast<const void*>(0x10)};
const BlockCache::Pool kB{0, reinterpret_cast<const void*>(0x20)};

TEST(CudaAllocatorBookkeeping, RoundsSmallTo512AndLargeTo2MiB) {
  EXPECT_EQ(BlockCache::round_size(1), 512u);
  EXPECT_EQ(BlockCache::round_size(512), 512u);
  EXPECT_EQ(BlockCache::round_size(513), 1024u);
  EXPECT_EQ(BlockCache::round_size(size_t(1) << 20), size_t(1) << 20);
  EXPECT_EQ(BlockCache::round_size((size_t(1) << 20) + 1), size_t(2) << 20);
  EXPECT_EQ(BlockCache::round_size((size_t(5) << 20) + 7), size_t(6) << 20);
}

TEST(CudaAllocatorBookkeeping, ReusesFreedBlocksOfTheSameSizeAndStream) {
  HostCache h;
  // A "training step": the same sizes allocated and freed in the same order.
  const std::vector<size_t> sizes = {100, 4096, 3 << 20, 700, 100};
  for (int step = 0; step < 5; ++step) {
    std::vector<void*> ps;
    for (size_t s : sizes) ps.push_back(h.cache.allocate(s, kA));
    std::set<void*> distinct(ps.begin(), ps.end());
    EXPECT_EQ(distinct.size(), ps.size()) << "a live block was handed out twice";
    for (void* p : ps) h.cache.release(p);
  }
  EXPECT_EQ(h.raw_allocs, int64_t(sizes.size()));  // only the first step allocated
  const AllocatorStats st = h.cache.stats();
  EXPECT_EQ(st.malloc_calls, int64_t(sizes.size()));
  EXPECT_EQ(st.cache_hits, int64_t(4 * sizes.size()));
  EXPECT_EQ(st.bytes_in_use, 0u);
  EXPECT_EQ(st.bytes_cached, 512u + 4096u + (size_t(4) << 20) + 1024u + 512u);
  EXPECT_EQ(st.peak_bytes_in_use, st.bytes_cached);
}

TEST(CudaAllocatorBookkeeping, NeverSharesBlocksAcrossStreams) {
  HostCache h;
  void* a = h.cache.allocate(1000, kA);
  h.cache.release(a);
  void* b = h.cache.allocate(1000, kB);  // another stream: a fresh block
  EXPECT_NE(a, b);
  EXPECT_EQ(h.raw_allocs, 2);
  void* a2 = h.cache.allocate(1000, kA);  // back on the first stream: reused
  EXPECT_EQ(a, a2);
  h.cache.release(b);
  h.cache.release(a2);
}

TEST(CudaAllocatorBookkeeping, LargeBlocksAreReusedOnlyWithoutWastingHalf) {
  HostCache h;
  void* big = h.cache.allocate(size_t(8) << 20, kA);
  h.cache.release(big);
  void* small = h.cache.allocate(size_t(3) << 20, kA);  // 4 MiB: the 8 MiB block would waste half
  EXPECT_NE(small, big);
  void* fits = h.cache.allocate(size_t(7) << 20, kA);  // 8 MiB rounded: reused
  EXPECT_EQ(fits, big);
  h.cache.release(small);
  h.cache.release(fits);
}

TEST(CudaAllocatorBookkeeping, EmptyReturnsCachedBlocksAndKeepsLiveOnes) {
  HostCache h;
  void* live = h.cache.allocate(2000, kA);
  void* cached = h.cache.allocate(3000, kA);
  h.cache.release(cached);
  h.cache.empty();
  EXPECT_EQ(h.raw_frees, 1);
  EXPECT_EQ(h.outstanding.count(live), 1u);
  EXPECT_EQ(h.cache.stats().bytes_cached, 0u);
  EXPECT_EQ(h.cache.stats().bytes_in_use, 2048u);
  h.cache.release(live);
}

TEST(CudaAllocatorBookkeeping, OutOfMemoryEmptiesTheCacheRetriesThenThrows) {
  HostCache h;
  void* p = h.cache.allocate(size_t(4) << 20, kA);
  h.cache.release(p);
  h.fail_above = size_t(5) << 20;
  // 6 MiB fails raw; the cache is emptied (one free) and the retry fails too.
  EXPECT_THROW(h.cache.allocate(size_t(6) << 20, kA), std::runtime_error);
  EXPECT_EQ(h.raw_frees, 1);
  EXPECT_EQ(h.cache.stats().bytes_cached, 0u);
  EXPECT_EQ(h.cache.allocate(0, kA), nullptr);
  h.cache.release(nullptr);  // ignored
}

TEST(CudaAllocatorBookkeeping, RejectsForeignAndDoubleFrees) {
  HostCache h;
  int local = 0;
  EXPECT_THROW(h.cache.release(&local), std::invalid_argument);
  void* p = h.cache.allocate(64, kA);
  h.cache.release(p);
  EXPECT_THROW(h.cache.release(p), std::invalid_argument);
}

TEST(CudaAllocator, RepeatedStepsStopCallingCudaMalloc) {
  RAMPART_REQUIRE_GPU();
  cudaStream_t s = context().stream();
  auto step = [&] {
    std::vector<void*> ps;
    for (size_t b : {size_t(4) << 10, size_t(1) << 20, size_t(33) << 20, size_t(100)})
      ps.push_back(device_alloc(b, s));
    CUDA_CHECK(cudaMemsetAsync(ps[2], 0, size_t(33) << 20, s));  // the memory is usable
    for (void* p : ps) device_free(p);
  };
  step();
  const AllocatorStats before = allocator_stats();
  for (int i = 0; i < 10; ++i) step();
  synchronize();
  const AllocatorStats after = allocator_stats();
  EXPECT_EQ(after.malloc_calls, before.malloc_calls);
  EXPECT_EQ(after.cache_hits, before.cache_hits + 40);
  EXPECT_GE(after.bytes_cached, size_t(34) << 20);
  empty_cache();
  EXPECT_EQ(allocator_stats().bytes_cached, 0u);
}

}  // namespace
}  // namespace rampart::cuda
