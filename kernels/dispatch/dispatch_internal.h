// What the files of kernels/dispatch share: the list of ops without a CUDA kernel,
// the error for reaching one, the compute stream, and RAMPART_ON_CUDA, which runs a
// CUDA launch (and returns) when the device is a GPU. Internal to kernels/dispatch.
#pragma once
#include <stdexcept>
#include <string>

#include "kernels/dispatch/ops.h"

#if RAMPART_HAVE_CUDA
#include <cuda_runtime.h>

#include "kernels/cuda/context.h"
#endif

namespace rampart::ops::detail {

// The ops with no CUDA kernel yet, and the CUDA build's absence.
inline const char* cuda_gap(const std::string& op) {
  if (!RAMPART_HAVE_CUDA) return "this rampart was built without CUDA";
  static const char* missing[] = {"random_start_l2"};
  for (const char* m : missing)
    if (op == m) return "no CUDA kernel yet";
  return "";
}

[[noreturn]] inline void unavailable(Device d, const char* op) {
  throw std::runtime_error(std::string("kernel ") + op + " on " + device_name(d) + ": " + gap(d, op) +
                           " (a caller should have refused this before running it)");
}

#if RAMPART_HAVE_CUDA
inline cudaStream_t stream() { return cuda::context().stream(); }
#endif

}  // namespace rampart::ops::detail

#if RAMPART_HAVE_CUDA
#define RAMPART_ON_CUDA(d, op, ...)                          \
  if ((d) == Device::kCuda) {                                \
    if (*detail::cuda_gap(op)) detail::unavailable(d, op);   \
    __VA_ARGS__;                                             \
    return;                                                  \
  }
#else
#define RAMPART_ON_CUDA(d, op, ...) \
  if ((d) == Device::kCuda) detail::unavailable(d, op);
#endif
