// The threat model's geometry: the ball of radius eps around the clean input, in the L-inf
// or the L2 norm, intersected with the pixel box [0,1]. It holds every part of an attack
// that depends on the norm, and is the only caller of the CPU attack kernels
// (kernels/cpu/pgd.h), one call each, so routing them to a device is one change here:
//   start       a random point of the ball (uniform per pixel for L-inf; for L2 a Gaussian
//               direction at radius eps * u), clamped to the box; or carried offsets
//   step rule   x += alpha * sign(g) (L-inf), x += alpha * g / ||g||_2 per example (L2)
//   projection  back onto ball ∩ box
// The step rule and the projection run fused, as one kernel pass over the pixels (DESIGN.md:
// "sign, step, project, clamp"); a new norm (L1, say) is one more subclass in threat_ball.cpp,
// a Norm value and a line in threat_ball().
// All arrays: n examples of dim floats, row-major; x is the clean input, in [0,1].
#pragma once
#include "kernels/common/device.h"
#include <cstdint>

#include "runtime/attacks/attack_types.h"

namespace rampart {

class ThreatBall {
 public:
  virtual ~ThreatBall() = default;
  virtual Norm norm() const = 0;
  // x_start = clamp(x + a random point of the ball, 0, 1); numbers drawn under `key` by the
  // examples' global indices (key.first_example + e), so any split of a batch draws the same.
  virtual void random_start(Device d, float* x_start, const float* x, int64_t n, int64_t dim, float eps,
                            const RandomKey& key) const = 0;
  // One ascent step on the gradient g of the loss, then the projection: x_adv stays in ball ∩ box.
  virtual void step(Device d, float* x_adv, const float* g, const float* x, int64_t n, int64_t dim, float alpha,
                    float eps) const = 0;
  // For the examples e with has[e] != 0: x_adv = projection of x + delta; others unchanged.
  // ConfigError for a norm whose carried perturbations the store cannot hold (carry.h is L-inf).
  virtual void place_offsets(Device d, float* x_adv, const float* x, const float* delta, const uint8_t* has, int64_t n,
                             int64_t dim, float eps) const = 0;
};

// The ball of `norm` (stateless; one instance per norm).
const ThreatBall& threat_ball(Norm norm);

}  // namespace rampart
