// Device discovery and selection; see device.h.
#include "kernels/cuda/device.h"

#include <cuda_runtime.h>

#include "kernels/cuda/check.h"

namespace rampart::cuda {

int cuda_device_count() {
  int count = 0;
  // Without a driver this returns cudaErrorInsufficientDriver and leaves count
  // unwritten (../shared/PLATFORM.md); without a GPU, cudaErrorNoDevice.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // reset the last error, so a later CUDA_CHECK_LAUNCH does not report it
    return 0;
  }
  return count < 0 ? 0 : count;
}

std::string cuda_unavailable_reason() {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
  }
  return count > 0 ? std::string() : std::string("no CUDA device is visible");
}

int select_device_for_local_rank(int local_rank) {
  int count = cuda_device_count();
  if (count == 0)
    throw std::runtime_error("--device cuda needs a GPU, but " + cuda_unavailable_reason() +
                             "; run with --device cpu or on a GPU node");
  if (local_rank < 0)
    throw std::runtime_error("local rank " + std::to_string(local_rank) + " is negative");
  int device = local_rank % count;
  CUDA_CHECK(cudaSetDevice(device));
  return device;
}

DeviceInfo device_info(int device) {
  DeviceInfo info;
  info.index = device;
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  info.name = prop.name;
  info.cc_major = prop.major;
  info.cc_minor = prop.minor;
  info.sm_count = prop.multiProcessorCount;
  info.total_memory_bytes = prop.totalGlobalMem;
  // CUDA 13 dropped memoryClockRate from cudaDeviceProp; the attributes remain.
  int clock_khz = 0, bus_bits = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device));
  info.memory_bandwidth_gbs = 2.0 * double(clock_khz) * 1e3 * (bus_bits / 8.0) / 1e9;
  return info;
}

}  // namespace rampart::cuda
