// Memory on either device, for runtime/tensor.h: allocation (64-byte aligned host
// memory; the caching allocator of kernels/cuda/allocator.h on the GPU, so the hot
// loop never calls cudaMalloc), copies between any two devices, and zeroing.
// Every GPU operation is ordered on the one compute stream (kernels/cuda/context.h);
// a copy that ends in host memory returns once the bytes are there.
#pragma once
#include <cstddef>
#include <string>

#include "kernels/common/device.h"

namespace rampart::kernels {

// True in a build with the CUDA backend (RAMPART_HAVE_CUDA).
bool cuda_built();

// Throws std::bad_alloc when the memory is not there, ConfigError (via
// std::runtime_error) for Device::kCuda in a build without CUDA.
void* allocate(Device d, size_t bytes);
void release(Device d, void* p) noexcept;

// bytes from src (on src_dev) to dst (on dst_dev); synchronous for the host.
void copy_bytes(Device dst_dev, void* dst, Device src_dev, const void* src, size_t bytes);
void zero_bytes(Device d, void* p, size_t bytes);

// Waits for the work queued on the device (no-op on the CPU).
void synchronize(Device d);

// Devices of kind d this process sees (CPU: 1; CUDA: 0 without a build, driver or GPU).
int device_count(Device d);
// Why device_count(d) is 0 ("" when it is not).
std::string unavailable_reason(Device d);
// Makes this rank's device of kind d current (GPU local_rank % count) before any of
// its memory is allocated; returns its index.
int use_device(Device d, int local_rank);
// For messages: "cpu", "cuda:0 (NVIDIA H100 80GB HBM3)".
std::string describe(Device d);

}  // namespace rampart::kernels
