// FAB's projection step (runtime/attacks/fab.cpp): onto the hyperplane ∩ box, in L-inf and
// L2, against brute force on random small problems (feasible and infeasible, boxes active).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "fab_projection_check.h"
#include "runtime/attacks/search_attacks.h"

namespace rampart {

namespace {

double dot(const std::vector<float>& w, const std::vector<double>& u) {
  double s = 0;
  for (size_t i = 0; i < w.size(); ++i) s += double(w[i]) * u[i];
  return s;
}

// Small random problems: some coordinates on the box's faces, some weights zero, b from a point
// far from t (so the box is active), or outside what the box reaches (infeasible), or at t.
Problem random_problem(std::mt19937& g, int dim, int kind) {
  std::uniform_real_distribution<float> u(0, 1);
  std::normal_distribution<float> nd(0, 1);
  Problem p;
  for (int i = 0; i < dim; ++i) {
    const uint32_t r = g() % 8;
    p.t.push_back(r == 0 ? 0.f : r == 1 ? 1.f : u(g));
    p.w.push_back(g() % 6 == 0 ? 0.f : nd(g));
  }
  double lo = 0, hi = 0;
  for (int i = 0; i < dim; ++i) {
    lo += std::min(0.0, double(p.w[size_t(i)]));
    hi += std::max(0.0, double(p.w[size_t(i)]));
  }
  if (kind == 0) {  // a random point of the box, often a corner
    std::vector<double> z;
    for (int i = 0; i < dim; ++i) z.push_back(g() % 3 == 0 ? double(g() % 2) : double(u(g)));
    p.b = dot(p.w, z);
  } else if (kind == 1) {  // outside [lo, hi]: the hyperplane misses the box
    p.b = g() % 2 ? hi + 0.1 + u(g) : lo - 0.1 - u(g);
  } else {  // near t
    std::vector<double> z(p.t.begin(), p.t.end());
    p.b = dot(p.w, z) + 0.05 * nd(g);
  }
  return p;
}

// Where the hyperplane misses the box: the corner nearest it (every coordinate that moves w.u
// towards b at its bound, the others at t).
std::vector<double> corner(const Problem& p, bool below, bool l2) {
  std::vector<double> z(p.t.begin(), p.t.end());
  for (size_t i = 0; i < z.size(); ++i) {
    if (l2 ? std::fabs(p.w[i]) < 1e-8f : p.w[i] == 0) continue;
    z[i] = (p.w[i] > 0) == below ? 0.0 : 1.0;
  }
  return z;
}

TEST(FabProjection, LinfMatchesBruteForce) {
  std::mt19937 g(17);
  int feasible = 0, infeasible = 0, active = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const int dim = 1 + trial % 6;
    const Problem p = random_problem(g, dim, trial % 3);
    std::vector<float> d(static_cast<size_t>(dim));
    fab_projection(Norm::kLinf, p.t.data(), p.w.data(), p.b, dim, d.data());
    std::vector<double> z(static_cast<size_t>(dim));
    for (int i = 0; i < dim; ++i) z[size_t(i)] = double(p.t[size_t(i)]) + d[size_t(i)];
    SCOPED_TRACE("trial " + std::to_string(trial));
    const auto [lo1, hi1] = reach_linf(p, 1.0);
    if (p.b < lo1 - 1e-9 || p.b > hi1 + 1e-9) {
      ++infeasible;
      const std::vector<double> c = corner(p, p.b < lo1, false);
      for (int i = 0; i < dim; ++i) ASSERT_NEAR(z[size_t(i)], c[size_t(i)], 1e-6) << i;
      continue;
    }
    ++feasible;
    // The smallest radius whose ball ∩ box reaches the hyperplane, by bisection.
    double a = 0, c = 1;
    for (int it = 0; it < 60; ++it) {
      const double m = 0.5 * (a + c);
      const auto [lo, hi] = reach_linf(p, m);
      (p.b >= lo && p.b <= hi ? c : a) = m;
    }
    double dist = 0;
    for (int i = 0; i < dim; ++i) {
      ASSERT_GE(z[size_t(i)], -1e-7);  // t + d rounds as floats
      ASSERT_LE(z[size_t(i)], 1 + 1e-7);
      dist = std::max(dist, std::fabs(double(d[size_t(i)])));
      if (p.w[size_t(i)] == 0) {
        ASSERT_EQ(d[size_t(i)], 0.f) << i;
      }
    }
    ASSERT_NEAR(dot(p.w, z), p.b, 1e-5);
    ASSERT_NEAR(dist, c, 1e-6);
    // At the smallest radius w.u reaches b only at the extreme of the radius-c box (clipped to
    // [0,1]) in every coordinate with w_i != 0: that point is the only minimiser.
    const bool down = p.b < dot(p.w, std::vector<double>(p.t.begin(), p.t.end()));
    for (int i = 0; i < dim; ++i) {
      if (p.w[size_t(i)] == 0) continue;
      const double t = p.t[size_t(i)];
      const double e = (p.w[size_t(i)] > 0) == down ? std::max(0.0, t - c) : std::min(1.0, t + c);
      ASSERT_NEAR(z[size_t(i)], e, 1e-5) << i;
      active += e == 0.0 || e == 1.0;
    }
  }
  EXPECT_GT(feasible, 1500);
  EXPECT_GT(infeasible, 500);
  EXPECT_GT(active, 500);  // the box bound many of the answers
}

// The L2 projection onto hyperplane ∩ box by enumeration: the answer has each coordinate at 0,
// at 1, or free; free coordinates move along -mu w (mu fixed by the hyperplane). The nearest
// candidate that lies on the hyperplane inside the box is the projection.
std::vector<double> l2_brute_force(const Problem& p) {
  const int dim = int(p.t.size());
  int combos = 1;
  for (int i = 0; i < dim; ++i) combos *= 3;
  std::vector<double> best;
  double best_d = HUGE_VAL;
  for (int code = 0; code < combos; ++code) {
    std::vector<int> s(static_cast<size_t>(dim));
    for (int i = 0, c = code; i < dim; ++i, c /= 3) s[size_t(i)] = c % 3;  // 0, 1: at the bound; 2: free
    double fixed = 0, ww = 0, wt = 0;
    for (int i = 0; i < dim; ++i) {
      if (s[size_t(i)] < 2)
        fixed += p.w[size_t(i)] * double(s[size_t(i)]);
      else {
        ww += double(p.w[size_t(i)]) * p.w[size_t(i)];
        wt += double(p.w[size_t(i)]) * p.t[size_t(i)];
      }
    }
    double mu = 0;
    if (ww > 0)
      mu = (fixed + wt - p.b) / ww;
    else if (std::fabs(fixed + wt - p.b) > 1e-9)
      continue;
    std::vector<double> z(static_cast<size_t>(dim));
    bool inside = true;
    double dist = 0;
    for (int i = 0; i < dim; ++i) {
      z[size_t(i)] = s[size_t(i)] < 2 ? double(s[size_t(i)]) : p.t[size_t(i)] - mu * p.w[size_t(i)];
      inside = inside && z[size_t(i)] >= -1e-12 && z[size_t(i)] <= 1 + 1e-12;
      dist += (z[size_t(i)] - p.t[size_t(i)]) * (z[size_t(i)] - p.t[size_t(i)]);
    }
    if (inside && dist < best_d) {
      best_d = dist;
      best = z;
    }
  }
  return best;  // empty: the hyperplane misses the box
}

TEST(FabProjection, L2MatchesBruteForce) {
  std::mt19937 g(23);
  int feasible = 0, infeasible = 0, active = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const int dim = 1 + trial % 6;
    const Problem p = random_problem(g, dim, trial % 3);
    std::vector<float> d(static_cast<size_t>(dim));
    fab_projection(Norm::kL2, p.t.data(), p.w.data(), p.b, dim, d.data());
    SCOPED_TRACE("trial " + std::to_string(trial));
    const std::vector<double> bf = l2_brute_force(p);
    const auto [lo1, hi1] = reach_linf(p, 1.0);
    const std::vector<double> want = bf.empty() ? corner(p, p.b < lo1, true) : bf;
    (bf.empty() ? infeasible : feasible)++;
    for (int i = 0; i < dim; ++i) {
      ASSERT_NEAR(p.t[size_t(i)] + double(d[size_t(i)]), want[size_t(i)], 2e-5) << i;
      active += !bf.empty() && (want[size_t(i)] == 0.0 || want[size_t(i)] == 1.0) && p.w[size_t(i)] != 0 &&
                p.t[size_t(i)] != want[size_t(i)];
    }
  }
  EXPECT_GT(feasible, 1500);
  EXPECT_GT(infeasible, 500);
  EXPECT_GT(active, 200);
}

}  // namespace
}  // namespace rampart
