// What FAB's tests share (test_fab_projection.cpp, test_search_fab.cpp): fab.cpp's projection
// step, a projection problem, and the range of w.u over the L-inf ball ∩ box.
#pragma once
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "runtime/attacks/attack_types.h"

namespace rampart {

// fab.cpp's projection step (defined there, not part of search_attacks.h's interface): t + d is
// the point of {z : w.z = b} ∩ [0,1]^dim nearest t, or the box's corner nearest the hyperplane.
void fab_projection(Norm norm, const float* t, const float* w, double b, int64_t dim, float* d);

// Project t onto {u : w.u = b} ∩ [0,1]^dim.
struct Problem {
  std::vector<float> t, w;
  double b = 0;
};

// The range [lo, hi] of w.u over u in the L-inf ball of radius rho around t, within the box.
inline std::pair<double, double> reach_linf(const Problem& p, double rho) {
  double lo = 0, hi = 0;
  for (size_t i = 0; i < p.t.size(); ++i) {
    const double a = std::max(0.0, p.t[i] - rho), c = std::min(1.0, p.t[i] + rho);
    lo += std::min(p.w[i] * a, p.w[i] * c);
    hi += std::max(p.w[i] * a, p.w[i] * c);
  }
  return {lo, hi};
}

}  // namespace rampart
