// Per-element math of the PGD attack, shared by kernels/cpu and kernels/cuda.
#pragma once
#include "kernels/common/hd.h"

namespace rampart::kernels {

RAMPART_HD float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

// sign() as in PyTorch: sign(0) = 0, so a pixel with no gradient does not move.
RAMPART_HD float signf(float g) { return g > 0.f ? 1.f : (g < 0.f ? -1.f : 0.f); }

// One L-inf PGD step for one pixel:
//   clamp(clip(x_adv + alpha * sign(g), x_clean - eps, x_clean + eps), 0, 1)
RAMPART_HD float pgd_linf_update(float x_adv, float g, float x_clean, float alpha, float eps) {
  float v = x_adv + alpha * signf(g);
  v = clampf(v, x_clean - eps, x_clean + eps);
  return clampf(v, 0.f, 1.f);
}

// The random start for one pixel: clamp(x + eps * (2u - 1), 0, 1), u uniform in [0, 1).
RAMPART_HD float random_start_update(float x_clean, float u, float eps) {
  return clampf(x_clean + eps * (2.f * u - 1.f), 0.f, 1.f);
}

// A carried start for one pixel: the stored perturbation d, projected onto the
// current eps-ball (eps may have changed since it was stored) and into [0, 1].
RAMPART_HD float carried_start_update(float x_clean, float d, float eps) {
  return clampf(x_clean + clampf(d, -eps, eps), 0.f, 1.f);
}

// One L2 PGD step for one pixel given the example's gradient norm and, after the
// step, the projection factor onto the eps-ball (computed per example).
RAMPART_HD float pgd_l2_step(float x_adv, float g, float alpha, float inv_gnorm) {
  return x_adv + alpha * g * inv_gnorm;
}
RAMPART_HD float pgd_l2_project(float x_adv, float x_clean, float scale) {
  return clampf(x_clean + (x_adv - x_clean) * scale, 0.f, 1.f);
}

}  // namespace rampart::kernels
