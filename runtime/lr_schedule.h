// Learning-rate schedules, as a pure function of the global step.
#pragma once
#include <cstdint>
#include <string>

namespace rampart {

struct LrSchedule {
  enum class Kind { kConstant, kStep, kCosine, kWarmupCosine };
  Kind kind = Kind::kWarmupCosine;
  double peak = 0.05;
  int64_t total_steps = 1;
  double warmup_fraction = 0.1;  // kWarmupCosine
  int64_t step_every = 0;        // kStep: multiply by gamma every step_every steps
  double gamma = 0.1;

  // The rate for global step s (0-based), updated every step.
  double at(int64_t s) const;
};

// "constant", "step", "cosine", "warmup-cosine"; ConfigError for anything else.
LrSchedule::Kind parse_lr_kind(const std::string& name);

}  // namespace rampart
