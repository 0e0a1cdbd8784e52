// The parts AutoAttack's searches share (search_attacks.h): the dispatch and the check of
// every result, the predicted and ranked classes, distances, Gaussian draws, row gathers.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>

#include "runtime/attacks/search_attacks.h"
#include "runtime/errors.h"

namespace rampart {

int32_t predicted_class(const float* z, int64_t k) {
  int32_t a = 0;
  for (int32_t j = 1; j < int32_t(k); ++j)
    if (z[j] > z[a]) a = j;
  return a;
}

int32_t class_ranked(const float* z, int64_t k, int r) {
  std::vector<int32_t> order(static_cast<size_t>(k));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return z[a] > z[b]; });
  return order[size_t(r - 1)];
}

float standard_normal(Rng& g) {
  const float u1 = 1.f - g.uniform(), u2 = g.uniform();
  return std::sqrt(-2.f * std::log(u1)) * std::cos(6.28318530718f * u2);
}

void gather_rows(float* dst, const float* src, const std::vector<int64_t>& rows, int64_t dim) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < int64_t(rows.size()); ++i)
    std::memcpy(dst + i * dim, src + rows[size_t(i)] * dim, sizeof(float) * size_t(dim));
}

float distance(Norm norm, const float* a, const float* b, int64_t dim) {
  double d = 0;
  for (int64_t i = 0; i < dim; ++i) {
    const double t = double(a[i]) - b[i];
    d = norm == Norm::kLinf ? std::max(d, std::fabs(t)) : d + t * t;
  }
  return float(norm == Norm::kLinf ? d : std::sqrt(d));
}

SearchResult run_search_attack(Model& model, const SearchBatch& b, const AttackConfig& cfg, uint64_t seed) {
  if (model.device() != Device::kCpu)
    throw ConfigError(cfg.name + ": runs on --device cpu only (AutoAttack's searches have no GPU kernels yet)");
  const int64_t n = b.n(), dim = b.dim();
  SearchResult r;
  r.x_adv.resize(b.x->shape());
  std::memcpy(r.x_adv.data(), b.x->data(), sizeof(float) * size_t(b.x->size()));
  r.fooled.assign(size_t(n), 0);
  if (n == 0 || cfg.eps == 0) return r;
  switch (cfg.method) {
    case Method::kApgd: apgd_attack(model, b, cfg, seed, r); break;
    case Method::kFab: fab_attack(model, b, cfg, seed, r); break;
    case Method::kSquare: square_attack(model, b, cfg, seed, r); break;
    case Method::kPgd: throw std::logic_error("run_search_attack: PGD runs in the Attacker");
  }
  // Trust nothing the search says: a row counts as fooled only if the model misclassifies it
  // here and it lies inside the ball; every other row is the clean input.
  const Tensor& z = model.forward(r.x_adv, Mode::kEval);
  const int64_t k = z.dim(1);
  const float tol = cfg.norm == Norm::kLinf ? 1e-6f : 1e-5f * std::max(cfg.eps, 1.f);
  for (int64_t e = 0; e < n; ++e) {
    float* xa = r.x_adv.data() + e * dim;
    const float* x = b.x->data() + e * dim;
    const bool ok = r.fooled[size_t(e)] && predicted_class(z.data() + e * k, k) != b.labels[e] && distance(cfg.norm, xa, x, dim) <= cfg.eps + tol;
    r.fooled[size_t(e)] = ok;
    if (!ok) std::memcpy(xa, x, sizeof(float) * size_t(dim));
  }
  return r;
}

}  // namespace rampart
