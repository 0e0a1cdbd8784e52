// Grid sizes for the element-wise kernels: enough blocks to fill the GPU,
// capped so that grid-stride loops do the rest (and the grid stays legal).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda/check.h"

namespace rampart::cuda {

inline constexpr int kThreads = 256;

// Blocks for `work` independent items at kThreads a block: at most 32 blocks per SM
// (8 resident blocks of 256 threads, times 4 waves), at least 1.
// The SM count is read once per device and thread (review C3: querying it on every
// launch cost two driver calls per kernel); cudaGetDevice alone is a cheap
// thread-local read, and keeps the answer right when a thread switches devices.
inline int sm_count_cached() {
  constexpr int kMaxDevices = 64;
  thread_local int sms_of[kMaxDevices] = {};
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  int uncached = 0;
  int& sms = device >= 0 && device < kMaxDevices ? sms_of[device] : uncached;
  if (sms == 0) CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  return sms;
}

inline unsigned grid_for(int64_t work) {
  const int sms = sm_count_cached();
  int64_t want = (work + kThreads - 1) / kThreads;
  return unsigned(std::clamp<int64_t>(want, 1, int64_t(sms) * 32));
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// For launchers: a violated precondition is a caller's bug, reported with the values.
inline void require(bool ok, const char* what, const std::string& detail) {
  if (!ok) throw std::invalid_argument(std::string(what) + ": " + detail);
}

}  // namespace rampart::cuda
