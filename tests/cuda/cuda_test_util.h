// Helpers for the GPU tests: skip without a device, device buffers, random inputs.
#pragma once
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/device.h"

// Skips the test (CTest reports it as skipped) where no GPU can be used.
#define RAMPART_REQUIRE_GPU()                                                     \
  do {                                                                            \
    if (::rampart::cuda::cuda_device_count() == 0)                                \
      GTEST_SKIP() << "no CUDA device: " << ::rampart::cuda::cuda_unavailable_reason(); \
  } while (0)

namespace rampart::cuda::test {

// n elements of T in device memory, plus `slack` spare elements so that tests can
// offset the pointer to break 16-byte alignment.
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n, size_t slack = 0) : n_(n) {
    CUDA_CHECK(cudaMalloc(&base_, sizeof(T) * (n + slack + 1)));
  }
  ~DeviceBuffer() { cudaFree(base_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* get(size_t offset = 0) { return base_ + offset; }
  // Review A2: the kernels under test run on non-blocking streams, which do not
  // order with these legacy-stream copies. A pageable cudaMemcpy may return before
  // its DMA has landed, so the upload waits for the whole device; the download
  // waits for every stream first, so it never reads results still being written.
  void upload(const std::vector<T>& v, size_t offset = 0) {
    CUDA_CHECK(cudaMemcpy(base_ + offset, v.data(), sizeof(T) * v.size(), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaDeviceSynchronize());
  }
  std::vector<T> download(size_t n, size_t offset = 0) const {
    CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<T> v(n);
    CUDA_CHECK(cudaMemcpy(v.data(), base_ + offset, sizeof(T) * n, cudaMemcpyDeviceToHost));
    return v;
  }

 private:
  T* base_ = nullptr;
  size_t n_;
};

inline std::vector<float> uniform(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

// Gradients with exact zeros sprinkled in (sign(0) = 0 must not move a pixel).
inline std::vector<float> gradient(size_t n, uint32_t seed) {
  auto g = uniform(n, -1.f, 1.f, seed);
  for (size_t i = 0; i < n; i += 7) g[i] = 0.f;
  return g;
}

// |a - b| <= atol + rtol * |b| for every element; reports the first few misses.
inline void expect_near(const std::vector<float>& a, const std::vector<float>& b, float atol,
                        float rtol, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  int misses = 0;
  for (size_t i = 0; i < a.size() && misses < 5; ++i) {
    if (!(std::abs(a[i] - b[i]) <= atol + rtol * std::abs(b[i]))) {
      ADD_FAILURE() << what << "[" << i << "]: GPU " << a[i] << ", CPU reference " << b[i];
      ++misses;
    }
  }
}

inline void sync() { CUDA_CHECK(cudaDeviceSynchronize()); }

// Integers in [lo, hi] as bytes (masks, correctness flags).
inline std::vector<uint8_t> bytes(size_t n, int lo, int hi, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = uint8_t(d(gen));
  return v;
}

// Largest |a - b| / (atol + rtol * |b|); <= 1 means within tolerance. For messages.
inline double worst_ratio(const std::vector<float>& a, const std::vector<float>& b, double atol,
                          double rtol) {
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    worst = std::max(worst, std::abs(double(a[i]) - b[i]) / (atol + rtol * std::abs(double(b[i]))));
  return worst;
}

}  // namespace rampart::cuda::test
