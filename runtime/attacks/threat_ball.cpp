// L-inf and L2 balls (see threat_ball.h): each part one kernel call.
#include "runtime/attacks/threat_ball.h"

#include "kernels/dispatch/ops.h"
#include "runtime/errors.h"

namespace rampart {
namespace {

// The kernels' Philox key: (seed, stream), counter sub, and the first element (L-inf)
// or example (L2) of this batch in the global batch.
ops::RandomKey key(const RandomKey& k, int64_t first) {
  ops::RandomKey o;
  o.seed = k.seed;
  o.stream = uint32_t(k.stream);
  o.sub = k.sub;
  o.first = first;
  return o;
}

class LinfBall final : public ThreatBall {
 public:
  Norm norm() const override { return Norm::kLinf; }
  void random_start(Device d, float* xs, const float* x, int64_t n, int64_t dim, float eps,
                    const RandomKey& k) const override {
    // Keyed per pixel: the batch's first pixel is pixel first_example * dim of the global batch.
    ops::random_start_linf(d, xs, x, n * dim, eps, key(k, k.first_example * dim));
  }
  void step(Device d, float* xa, const float* g, const float* x, int64_t n, int64_t dim, float alpha,
            float eps) const override {
    ops::pgd_linf_step(d, xa, g, x, n * dim, alpha, eps);
  }
  void place_offsets(Device d, float* xa, const float* x, const float* delta, const uint8_t* has, int64_t n,
                     int64_t dim, float eps) const override {
    ops::carried_start(d, xa, x, delta, has, n, dim, eps);
  }
};

class L2Ball final : public ThreatBall {
 public:
  Norm norm() const override { return Norm::kL2; }
  void random_start(Device d, float* xs, const float* x, int64_t n, int64_t dim, float eps,
                    const RandomKey& k) const override {
    ops::random_start_l2(d, xs, x, n, dim, eps, key(k, k.first_example));
  }
  void step(Device d, float* xa, const float* g, const float* x, int64_t n, int64_t dim, float alpha,
            float eps) const override {
    ops::pgd_l2_step(d, xa, g, x, n, dim, alpha, eps);
  }
  void place_offsets(Device, float*, const float*, const float*, const uint8_t*, int64_t, int64_t,
                     float) const override {
    // The perturbation store quantizes in units of eps / 127 per pixel: an L-inf box.
    throw ConfigError("carried starts need the L-inf norm");
  }
};

}  // namespace

const ThreatBall& threat_ball(Norm norm) {
  static const LinfBall linf;
  static const L2Ball l2;
  return norm == Norm::kLinf ? static_cast<const ThreatBall&>(linf) : l2;
}

}  // namespace rampart
