// L-inf and L2 balls (see threat_ball.h): each part one kernel call.
#include "runtime/attacks/threat_ball.h"

#include "kernels/cpu/pgd.h"
#include "runtime/errors.h"

namespace rampart {
namespace {

class LinfBall final : public ThreatBall {
 public:
  Norm norm() const override { return Norm::kLinf; }
  void random_start(float* xs, const float* x, int64_t n, int64_t dim, float eps, const RandomKey& k) const override {
    // Keyed per pixel: the batch's first pixel is pixel first_example * dim of the global batch.
    kernels::random_start_cpu(xs, x, n * dim, eps, k.seed, uint32_t(k.stream), k.sub, k.first_example * dim);
  }
  void step(float* xa, const float* g, const float* x, int64_t n, int64_t dim, float alpha, float eps) const override {
    kernels::pgd_linf_step_cpu(xa, g, x, n * dim, alpha, eps);
  }
  void place_offsets(float* xa, const float* x, const float* delta, const uint8_t* has, int64_t n, int64_t dim,
                     float eps) const override {
    kernels::carried_start_cpu(xa, x, delta, has, n, dim, eps);
  }
};

class L2Ball final : public ThreatBall {
 public:
  Norm norm() const override { return Norm::kL2; }
  void random_start(float* xs, const float* x, int64_t n, int64_t dim, float eps, const RandomKey& k) const override {
    kernels::random_start_l2_cpu(xs, x, n, dim, eps, k.seed, uint32_t(k.stream), k.sub, k.first_example);
  }
  void step(float* xa, const float* g, const float* x, int64_t n, int64_t dim, float alpha, float eps) const override {
    kernels::pgd_l2_step_cpu(xa, g, x, n, dim, alpha, eps);
  }
  void place_offsets(float*, const float*, const float*, const uint8_t*, int64_t, int64_t, float) const override {
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
