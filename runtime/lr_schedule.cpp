// Learning-rate schedules (see lr_schedule.h).
#include "runtime/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "runtime/errors.h"

namespace rampart {

double LrSchedule::at(int64_t s) const {
  const double pi = 3.14159265358979323846;
  switch (kind) {
    case Kind::kConstant:
      return peak;
    case Kind::kStep:
      return step_every > 0 ? peak * std::pow(gamma, double(s / step_every)) : peak;
    case Kind::kCosine:
      return 0.5 * peak * (1 + std::cos(pi * std::min<double>(s, total_steps) / std::max<int64_t>(total_steps, 1)));
    case Kind::kWarmupCosine: {
      int64_t warm = std::max<int64_t>(1, int64_t(std::llround(warmup_fraction * total_steps)));
      if (s < warm) return peak * double(s + 1) / double(warm);
      int64_t rest = std::max<int64_t>(1, total_steps - warm);
      double t = std::min<double>(double(s - warm), double(rest)) / double(rest);
      return 0.5 * peak * (1 + std::cos(pi * t));
    }
  }
  return peak;
}

LrSchedule::Kind parse_lr_kind(const std::string& name) {
  if (name == "constant") return LrSchedule::Kind::kConstant;
  if (name == "step") return LrSchedule::Kind::kStep;
  if (name == "cosine") return LrSchedule::Kind::kCosine;
  if (name == "warmup-cosine") return LrSchedule::Kind::kWarmupCosine;
  throw ConfigError("lr-schedule: expected constant, step, cosine or warmup-cosine, found \"" + name + "\"");
}

}  // namespace rampart
