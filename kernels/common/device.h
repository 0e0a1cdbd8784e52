// Where a tensor's memory lives and, so, which kernels run on it. Everything above
// kernels/ is written once; kernels/dispatch/ turns (device, op) into a CPU or CUDA kernel.
#pragma once
#include <cstdint>

namespace rampart {

enum class Device : uint8_t { kCpu = 0, kCuda = 1 };

inline const char* device_name(Device d) { return d == Device::kCuda ? "cuda" : "cpu"; }

}  // namespace rampart
