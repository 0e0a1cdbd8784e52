// A caching device allocator, in the spirit of PyTorch's CUDACachingAllocator:
// freed blocks stay cached by (device, stream, rounded size) and are handed out
// again, so a training loop stops calling cudaMalloc (which is slow) and cudaFree
// (which synchronises the device) after its first step.
//
// Sizes round up to 512 B; blocks over 1 MiB round up to 2 MiB. A cached block is
// reused only for an allocation on the stream it was allocated for: work on one
// stream runs in order, so a block freed while a kernel still uses it is safe to
// hand to the next allocation on that stream (its kernels queue behind). A block
// used on another stream too must not be freed before that stream is done with it
// (PyTorch's record_stream; not offered here: the one-stream design needs none).
#pragma once
#include <cuda_runtime.h>

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>

namespace rampart::cuda {

struct AllocatorStats {
  int64_t malloc_calls = 0;      // raw allocations (cudaMalloc) so far
  int64_t free_calls = 0;        // raw frees (cudaFree) so far
  int64_t cache_hits = 0;        // allocations served from the cache
  size_t bytes_in_use = 0;       // rounded bytes handed out and not yet freed
  size_t bytes_cached = 0;       // rounded bytes held free in the cache
  size_t peak_bytes_in_use = 0;
};

// The bookkeeping, apart from CUDA so that it is tested on any machine: raw_alloc
// returns nullptr on failure; raw_free releases what raw_alloc returned. A pool is
// one (device, stream) pair.
class BlockCache {
 public:
  struct Pool {
    int device = 0;
    const void* stream = nullptr;
    auto operator<=>(const Pool&) const = default;
  };
  using RawAlloc = std::function<void*(size_t)>;
  using RawFree = std::function<void(void*)>;

  static constexpr size_t kSmallRound = 512;
  static constexpr size_t kLargeRound = size_t(2) << 20;
  static constexpr size_t kSmallMax = size_t(1) << 20;
  static size_t round_size(size_t bytes);

  BlockCache(RawAlloc raw_alloc, RawFree raw_free);
  ~BlockCache();  // frees the cached blocks; blocks still in use are left to the process
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // nullptr for 0 bytes. On a raw failure, frees the whole cache and tries once
  // more; then throws std::runtime_error naming the request and the usage.
  void* allocate(size_t bytes, Pool pool);
  // nullptr is ignored; a pointer this cache did not hand out throws std::invalid_argument.
  void release(void* p);
  // Frees every cached (unused) block.
  void empty();
  AllocatorStats stats() const;

 private:
  struct Key {
    Pool pool;
    size_t size;
    auto operator<=>(const Key&) const = default;
  };
  void empty_locked();

  RawAlloc raw_alloc_;
  RawFree raw_free_;
  mutable std::mutex mu_;
  std::unordered_map<void*, Key> live_;
  std::multimap<Key, void*> free_;
  AllocatorStats stats_;
};

// The process's allocator for CUDA device memory. `stream` is the stream the block
// will be used on; the default is the current device's context stream (context.h).
void* device_alloc(size_t bytes);
void* device_alloc(size_t bytes, cudaStream_t stream);
void device_free(void* p);
// Returns the cached blocks to CUDA (synchronises the device through cudaFree).
void empty_cache();
AllocatorStats allocator_stats();

// RAII scratch memory from the caching allocator, for launchers that need a
// temporary buffer: freed when it goes out of scope, which is safe once the
// kernels that use it are enqueued on `stream` (see above).
class DeviceScratch {
 public:
  DeviceScratch(size_t bytes, cudaStream_t stream) : p_(device_alloc(bytes, stream)) {}
  ~DeviceScratch() { device_free(p_); }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  template <class T>
  T* as() const { return static_cast<T*>(p_); }

 private:
  void* p_;
};

}  // namespace rampart::cuda
