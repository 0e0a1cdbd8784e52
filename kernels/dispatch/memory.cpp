// Host memory here; device memory through kernels/cuda (allocator.h, context.h).
#include "kernels/dispatch/memory.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#if RAMPART_HAVE_CUDA
#include <cuda_runtime.h>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/device.h"
#endif

namespace rampart::kernels {

bool cuda_built() { return RAMPART_HAVE_CUDA != 0; }

namespace {
[[noreturn]] void no_cuda() {
  throw std::runtime_error("this rampart was built without CUDA (configure with -DRAMPART_CUDA=ON on a machine "
                           "with the CUDA toolkit), so no tensor can live on --device cuda");
}
}  // namespace

void* allocate(Device d, size_t bytes) {
  if (d == Device::kCpu) {
    void* p = std::aligned_alloc(64, ((bytes + 63) / 64) * 64);
    if (!p) throw std::bad_alloc();
    return p;
  }
#if RAMPART_HAVE_CUDA
  return cuda::device_alloc(bytes);
#else
  no_cuda();
#endif
}

void release(Device d, void* p) noexcept {
  if (!p) return;
  if (d == Device::kCpu) {
    std::free(p);
    return;
  }
#if RAMPART_HAVE_CUDA
  cuda::device_free(p);
#endif
}

void copy_bytes(Device dst_dev, void* dst, Device src_dev, const void* src, size_t bytes) {
  if (bytes == 0 || dst == src) return;
  if (dst_dev == Device::kCpu && src_dev == Device::kCpu) {
    std::memcpy(dst, src, bytes);
    return;
  }
#if RAMPART_HAVE_CUDA
  cudaStream_t s = cuda::context().stream();
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, s));
  // Host memory may be reused (or read) as soon as we return.
  if (dst_dev == Device::kCpu || src_dev == Device::kCpu) CUDA_CHECK(cudaStreamSynchronize(s));
#else
  no_cuda();
#endif
}

void zero_bytes(Device d, void* p, size_t bytes) {
  if (bytes == 0) return;
  if (d == Device::kCpu) {
    std::memset(p, 0, bytes);
    return;
  }
#if RAMPART_HAVE_CUDA
  CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, cuda::context().stream()));
#else
  no_cuda();
#endif
}

void synchronize(Device d) {
  if (d == Device::kCpu) return;
#if RAMPART_HAVE_CUDA
  CUDA_CHECK(cudaStreamSynchronize(cuda::context().stream()));
#endif
}

int device_count(Device d) {
  if (d == Device::kCpu) return 1;
#if RAMPART_HAVE_CUDA
  return cuda::cuda_device_count();
#else
  return 0;
#endif
}

std::string unavailable_reason(Device d) {
  if (d == Device::kCpu) return "";
#if RAMPART_HAVE_CUDA
  return cuda::cuda_unavailable_reason();
#else
  return "this rampart was built without the CUDA backend (RAMPART_CUDA=OFF)";
#endif
}

int use_device(Device d, int local_rank) {
  if (d == Device::kCpu) return 0;
#if RAMPART_HAVE_CUDA
  return cuda::select_device_for_local_rank(local_rank);
#else
  no_cuda();
#endif
}

std::string describe(Device d) {
  if (d == Device::kCpu) return "cpu";
#if RAMPART_HAVE_CUDA
  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  return "cuda:" + std::to_string(dev) + " (" + cuda::device_info(dev).name + ")";
#else
  no_cuda();
#endif
}

}  // namespace rampart::kernels
