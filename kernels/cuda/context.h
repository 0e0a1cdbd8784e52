// The per-device CUDA context of the one stack: a non-blocking stream, and the
// cuDNN and cuBLAS handles bound to it, with the convolution plans (per-shape
// cuDNN state). Every kernel of a training step runs on this one stream, so work
// is ordered without events, and the caching allocator's reuse is safe (allocator.h).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <memory>

#include "kernels/cuda/conv_cudnn.h"
#include "kernels/cuda/linear_cublas.h"

namespace rampart::cuda {

class Context {
 public:
  // Creates the stream and handles on `device` (made current for the call).
  explicit Context(int device, bool allow_tf32 = false);
  // Handles first, then the stream they point at (review B1); statuses ignored.
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cudnnHandle_t cudnn() const;
  cublasHandle_t cublas() const;
  CudnnConv& conv() { return *conv_; }
  CublasLinear& linear() { return *linear_; }

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<CudnnConv> conv_;
  std::unique_ptr<CublasLinear> linear_;
};

// The context of the calling thread's current device, created on first use.
// Contexts live until release_contexts() (or the process ends: they are then
// left to the driver, since the CUDA runtime may be torn down before static
// destructors run).
Context& context();
// Destroys every context (tests; a clean shutdown). No work may be in flight on them.
void release_contexts();
// Waits for the current device's context stream; throws on an asynchronous error.
void synchronize();

}  // namespace rampart::cuda
