// The arithmetic a pass runs in. FP32 everywhere by default; BF16 is offered for the
// attack's passes (`--attack-precision bf16`): convolutions read BF16 copies of their input
// and weights and accumulate and write FP32, so every tensor between layers stays FP32 and
// the weight update and the evaluation never see BF16.
#pragma once
#include <cstdint>
#include <string>

namespace rampart {

enum class Precision : uint8_t { kFp32 = 0, kBf16 = 1 };

inline const char* precision_name(Precision p) { return p == Precision::kBf16 ? "bf16" : "fp32"; }

}  // namespace rampart
