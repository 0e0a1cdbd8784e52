// Which GPUs this process sees, which one it uses, and what they can do.
#pragma once
#include <cstddef>
#include <string>

namespace rampart::cuda {

// Number of visible CUDA devices; 0 on any error (no driver, no device), never throws.
int cuda_device_count();

// Why cuda_device_count() is 0 ("CUDA driver version is insufficient ...", or
// "no CUDA device is visible"); empty when there is a device. For skip messages.
std::string cuda_unavailable_reason();

// Makes device (local_rank % count) current for this thread and returns its index.
// Several ranks on one node each take their own GPU; more ranks than GPUs share.
// Throws std::runtime_error when there is no device.
int select_device_for_local_rank(int local_rank);

struct DeviceInfo {
  int index = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  size_t total_memory_bytes = 0;
  // Theoretical peak DRAM bandwidth: 2 (double data rate) x memory clock x bus width.
  double memory_bandwidth_gbs = 0;
};

// Throws std::runtime_error for a device that does not exist.
DeviceInfo device_info(int device);

}  // namespace rampart::cuda
