// FAB-T, the targeted Fast Adaptive Boundary attack (Croce & Hein 2020, "Minimally distorted
// adversarial examples with a fast adaptive boundary attack"), as AutoAttack's 'standard'
// version runs it (auto-attack: fab_base.py attack_single_run and perturb, fab_pt.py
// get_diff_logits_grads_batch_targeted, fab_projections.py): per target class (ranked
// 2nd..(targets+1)th by the clean logits), on the examples still robust, n_iter steps towards
// the linearised boundary z_t - z_y = 0, the smallest misclassified point kept per example.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <utility>
#include <vector>

#include "runtime/attacks/search_attacks.h"
#include "runtime/errors.h"

namespace rampart {

// The projection step of FAB (fab_projections.py's projection_linf and projection_l2): d such
// that t + d is the point of {z : w.z = b} ∩ [0,1]^dim nearest to t in `norm` (L-inf: the one
// that moves every coordinate with w_i != 0 by min(lambda, its room to the box), w_i = 0 not at
// all, which is the reference's and the only minimiser with those coordinates still). Where the
// hyperplane misses the box, the reference returns the box's corner nearest to the hyperplane:
// every coordinate that moves w.z towards b (w_i != 0; L2: |w_i| >= 1e-8) pushed to its bound,
// and so does this. t in [0,1]^dim. Declared here only: the test declares it too.
void fab_projection(Norm norm, const float* t, const float* w, double b, int64_t dim, float* d);

namespace {

float norm_of(Norm norm, const float* d, int64_t dim) {
  double s = 0;
  for (int64_t i = 0; i < dim; ++i) s = norm == Norm::kLinf ? std::max(s, double(std::fabs(d[i]))) : s + double(d[i]) * d[i];
  return float(norm == Norm::kLinf ? s : std::sqrt(s));
}

// Per-thread scratch for the projections' sorted breakpoints.
struct Breakpoint {
  double at;      // the radius (L-inf) or multiplier (L2) where the coordinate reaches the box
  double weight;  // how fast it moves w.z before then: |w_i| (L-inf) or w_i^2 (L2); after
                  // sorting, the sum over this and every later breakpoint
  double reach;   // the change of w.z it gives once there: |w_i| * room_i
};

std::vector<Breakpoint>& scratch() {
  thread_local std::vector<Breakpoint> s;
  return s;
}

// One FAB-T run (the reference's attack_single_run with is_targeted) on m examples.
class FabRun {
 public:
  FabRun(Model& model, const AttackConfig& cfg, const Shape& shape) : model_(model), cfg_(cfg), shape_(shape) {}

  // x0: m clean rows of dim; y, target: labels and target classes; index: the examples' keys.
  // On return found[i] says whether a misclassified point was seen, adv holds the nearest one.
  void run(const float* x0, const int32_t* y, const int32_t* target, const int64_t* index, int64_t m, uint64_t seed,
           uint32_t run_id, bool rand_start, std::vector<uint8_t>& found, std::vector<float>& adv) {
    const int64_t dim = numel(shape_) / shape_[0];
    const size_t md = size_t(m * dim);
    const float alpha_max = 0.1f, eta = 1.05f, beta = 0.9f;
    const Norm norm = cfg_.norm;
    x1_.assign(x0, x0 + md);
    adv.assign(x0, x0 + md);
    std::vector<float> best(size_t(m), 1e10f);  // res2: the distance of the nearest adversarial point
    if (rand_start) {
      // x0 + 0.5 min(res2, eps) t / ||t|| (L-inf: t uniform in [-1, 1]^d; L2: Gaussian), clamped.
#pragma omp parallel for schedule(static)
      for (int64_t e = 0; e < m; ++e) {
        Rng g = example_rng(seed, uint32_t(cfg_.slot), run_id, index[e]);
        float* x1 = x1_.data() + e * dim;
        for (int64_t i = 0; i < dim; ++i) x1[i] = norm == Norm::kLinf ? g.uniform(-1.f, 1.f) : standard_normal(g);
        const float s = 0.5f * std::min(best[size_t(e)], cfg_.eps) / norm_of(norm, x1, dim);
        for (int64_t i = 0; i < dim; ++i) x1[i] = std::clamp(x0[e * dim + i] + s * x1[i], 0.f, 1.f);
      }
    }
    d1_.resize(md);
    d2_.resize(md);
    std::vector<double> df(static_cast<size_t>(m));
    std::vector<uint8_t> is_adv(static_cast<size_t>(m));
    for (int it = 0; it < cfg_.steps; ++it) {
      // df = z_t - z_y at x1 and dg = its input gradient (fab_pt.py: -(y[la] - y[la_target])).
      const Tensor& z = forward(m);
      const int64_t k = z.dim(1);
      dz_.resize({m, k});
      dz_.zero();
      for (int64_t e = 0; e < m; ++e) {
        df[size_t(e)] = double(z[e * k + target[e]]) - z[e * k + y[e]];
        dz_[e * k + target[e]] = 1.f;
        dz_[e * k + y[e]] = -1.f;
      }
      const Tensor& dg = model_.backward(dz_, /*input_grad=*/true, /*param_grads=*/false);
#pragma omp parallel for schedule(dynamic, 1)
      for (int64_t e = 0; e < m; ++e) {
        // The boundary's linear approximation at x1: {u : w.u = b}, w = dg, b = w.x1 - df.
        const float* w = dg.data() + e * dim;
        float* x1 = x1_.data() + e * dim;
        const float* xc = x0 + e * dim;
        double wx = 0;
        for (int64_t i = 0; i < dim; ++i) wx += double(w[i]) * x1[i];
        const double b = wx - df[size_t(e)];
        float* d1 = d1_.data() + e * dim;
        float* d2 = d2_.data() + e * dim;
        fab_projection(norm, x1, w, b, dim, d1);
        fab_projection(norm, xc, w, b, dim, d2);
        const float a1 = std::max(norm_of(norm, d1, dim), 1e-8f), a2 = std::max(norm_of(norm, d2, dim), 1e-8f);
        const float alpha = std::clamp(a1 / (a1 + a2), 0.f, alpha_max);
        for (int64_t i = 0; i < dim; ++i)
          x1[i] = std::clamp((x1[i] + eta * d1[i]) * (1 - alpha) + (xc[i] + d2[i] * eta) * alpha, 0.f, 1.f);
      }
      const Tensor& zp = forward(m);
      for (int64_t e = 0; e < m; ++e) is_adv[size_t(e)] = predicted_class(zp.data() + e * k, k) != y[e];
#pragma omp parallel for schedule(static)
      for (int64_t e = 0; e < m; ++e) {
        if (!is_adv[size_t(e)]) continue;
        // Misclassified: keep it if nearer than the best so far, then step back towards x0.
        float* x1 = x1_.data() + e * dim;
        const float* xc = x0 + e * dim;
        const float t = distance(norm, x1, xc, dim);
        if (t < best[size_t(e)]) {
          std::copy_n(x1, dim, adv.data() + e * dim);
          best[size_t(e)] = t;
        }
        for (int64_t i = 0; i < dim; ++i) x1[i] = xc[i] + (x1[i] - xc[i]) * beta;
      }
    }
    found.resize(size_t(m));
    for (int64_t e = 0; e < m; ++e) found[size_t(e)] = best[size_t(e)] < 1e10f;
  }

 private:
  const Tensor& forward(int64_t m) {
    Shape s = shape_;
    s[0] = m;
    xin_.resize(s);
    std::memcpy(xin_.data(), x1_.data(), sizeof(float) * x1_.size());
    return model_.forward(xin_, Mode::kEval);
  }

  Model& model_;
  const AttackConfig& cfg_;
  Shape shape_;
  Tensor xin_, dz_;
  std::vector<float> x1_, d1_, d2_;
};

}  // namespace

void fab_projection(Norm norm, const float* t, const float* w, double b, int64_t dim, float* d) {
  // Orient the hyperplane so that t lies on its side w.t - b = c >= 0: the projection then
  // lowers w.z by c, moving coordinate i towards 0 where w_i > 0 and towards 1 where w_i < 0.
  double c = -b;
  for (int64_t i = 0; i < dim; ++i) c += double(w[i]) * t[i];
  const double sign = c >= 0 ? 1 : -1;
  c *= sign;
  // Which coordinates move: the reference's masks, w != 0 (L-inf) and |w| >= 1e-8 (L2).
  auto moves = [&](float wi) { return norm == Norm::kLinf ? wi != 0 : std::fabs(wi) >= 1e-8f; };
  std::vector<Breakpoint>& bp = scratch();
  bp.clear();
  double reach = 0;  // the most w.z can drop inside the box
  for (int64_t i = 0; i < dim; ++i) {
    if (!moves(w[i])) continue;
    const double ws = sign * w[i], aw = std::fabs(ws);
    const double room = ws > 0 ? t[i] : 1.0 - t[i];
    // L-inf: coordinate i moves by min(lambda, room); L2: by min(mu |w_i|, room).
    if (norm == Norm::kLinf)
      bp.push_back({room, aw, aw * room});
    else
      bp.push_back({room / aw, aw * aw, aw * room});
    reach += aw * room;
  }
  // The step of coordinate i at parameter s (lambda or mu): towards its bound, at most room.
  auto step = [&](int64_t i, double s) -> float {
    const double ws = sign * w[i];
    const double room = ws > 0 ? t[i] : 1.0 - t[i];
    const double move = norm == Norm::kLinf ? std::min(s, room) : std::min(s * std::fabs(ws), room);
    return float(ws > 0 ? -move : move);
  };
  if (c >= reach) {
    // The hyperplane misses the box (or touches it at the corner): the corner.
    for (int64_t i = 0; i < dim; ++i) d[i] = moves(w[i]) ? step(i, HUGE_VAL) : 0.f;
    return;
  }
  // The drop of w.z at parameter s is piecewise linear, increasing and concave: the reach of
  // the coordinates already at the box (at_i <= s) plus s times the weights of the others.
  // Walk the breakpoints in order to the piece where it reaches c (the reference bisects over
  // the same sorted breakpoints). The weights still moving are suffix sums, summed from the end.
  std::sort(bp.begin(), bp.end(), [](const Breakpoint& a, const Breakpoint& b) { return a.at < b.at; });
  for (size_t j = bp.size(); j-- > 1;) bp[j - 1].weight += bp[j].weight;
  double done = 0, s = 0;
  for (const Breakpoint& p : bp) {
    if (c <= done + p.at * p.weight) {
      s = (c - done) / p.weight;
      break;
    }
    done += p.reach;
  }
  s = std::max(s, 0.0);
  for (int64_t i = 0; i < dim; ++i) d[i] = moves(w[i]) ? step(i, s) : 0.f;
}

void fab_attack(Model& model, const SearchBatch& b, const AttackConfig& cfg, uint64_t seed, SearchResult& r) {
  const int64_t n = b.n(), dim = b.dim();
  const float* x = b.x->data();
  if (cfg.targets <= 0)
    throw ConfigError(cfg.name + ": only the targeted FAB (FAB-T, targets > 0) is implemented; found targets = " +
                      std::to_string(cfg.targets));
  r.x_adv.resize(b.x->shape());
  std::memcpy(r.x_adv.data(), x, sizeof(float) * size_t(b.x->size()));
  r.fooled.assign(size_t(n), 0);
  if (n == 0) return;
  const Tensor& z0 = model.forward(*b.x, Mode::kEval);
  const int64_t k = z0.dim(1);
  const std::vector<float> clean(z0.data(), z0.data() + n * k);
  std::vector<uint8_t> robust(static_cast<size_t>(n));  // the reference's acc
  for (int64_t e = 0; e < n; ++e) robust[size_t(e)] = predicted_class(clean.data() + e * k, k) == b.labels[e];
  FabRun fab(model, cfg, b.x->shape());
  const int targets = int(std::min<int64_t>(cfg.targets, k - 1));
  std::vector<uint8_t> found;
  std::vector<float> xs, adv;
  std::vector<int32_t> ys, ts;
  std::vector<int64_t> idx;
  Tensor xa_rows;
  for (int t = 0; t < targets; ++t) {
    for (int rs = 0; rs < cfg.restarts; ++rs) {
      std::vector<int64_t> rows;
      for (int64_t e = 0; e < n; ++e)
        if (robust[size_t(e)]) rows.push_back(e);
      if (rows.empty()) return;
      const int64_t m = int64_t(rows.size());
      xs.resize(size_t(m * dim));
      ys.resize(size_t(m));
      ts.resize(size_t(m));
      idx.resize(size_t(m));
      for (int64_t i = 0; i < m; ++i) {
        const int64_t e = rows[size_t(i)];
        std::memcpy(xs.data() + i * dim, x + e * dim, sizeof(float) * size_t(dim));
        ys[size_t(i)] = b.labels[e];
        ts[size_t(i)] = class_ranked(clean.data() + e * k, k, t + 2);
        idx[size_t(i)] = b.index[e];
      }
      fab.run(xs.data(), ys.data(), ts.data(), idx.data(), m, seed, uint32_t(t * cfg.restarts + rs), rs > 0, found, adv);
      // perturb's rule: broken only where the point found is misclassified and within eps.
      Shape sm = b.x->shape();
      sm[0] = m;
      xa_rows.resize(sm);
      std::memcpy(xa_rows.data(), adv.data(), sizeof(float) * adv.size());
      const Tensor& za = model.forward(xa_rows, Mode::kEval);
      for (int64_t i = 0; i < m; ++i) {
        const float* xa = adv.data() + i * dim;
        if (!found[size_t(i)] || predicted_class(za.data() + i * k, k) == ys[size_t(i)] ||
            distance(cfg.norm, xa, xs.data() + i * dim, dim) > cfg.eps)
          continue;
        const int64_t e = rows[size_t(i)];
        robust[size_t(e)] = 0;
        r.fooled[size_t(e)] = 1;
        std::memcpy(r.x_adv.data() + e * dim, xa, sizeof(float) * size_t(dim));
      }
    }
  }
}

}  // namespace rampart
