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
inline unsigned grid_for(int64_t work) {
  int device = 0, sms = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  int64_t want = (work + kThreads - 1) / kThreads;
  return unsigned(std::clamp<int64_t>(want, 1, int64_t(sms) * 32));
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// For launchers: a violated precondition is a caller's bug, reported with the values.
inline void require(bool ok, const char* what, const std::string& detail) {
  if (!ok) throw std::invalid_argument(std::string(what) + ": " + detail);
}

}  // namespace rampart::cuda
