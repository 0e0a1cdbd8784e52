// APGD (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of
// diverse parameter-free attacks"), as the reference implementation (auto-attack,
// autopgd_base.py) runs it in AutoAttack: 100 iterations, step size 2 eps halved at the
// checkpoints p_j where the loss oscillated or stalled, momentum 0.75, the best point kept per
// example; the cross-entropy or the DLR loss, untargeted or over the target classes ranked
// 2nd..(targets+1)th by the clean logits.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "runtime/attacks/search_attacks.h"
#include "runtime/errors.h"
#include "runtime/objectives/objective.h"

namespace rampart {
namespace {

// One run of APGD (the reference's attack_single_run) on m examples: the start drawn per
// example, n_iter iterations; returns acc (still correctly classified at every iterate) and
// x_best_adv (the last misclassified iterate, where there is one).
class ApgdRun {
 public:
  ApgdRun(Model& model, const AttackConfig& cfg, const Shape& shape) : model_(model), cfg_(cfg), shape_(shape) {}

  // x: m rows of dim; y: labels; target: target classes (or null: untargeted); index: keys.
  void run(const float* x, const int32_t* y, const int32_t* target, const int64_t* index, int64_t m,
           uint64_t seed, uint32_t run_id, std::vector<uint8_t>& acc, std::vector<float>& x_best_adv) {
    const int64_t dim = numel(shape_) / shape_[0];
    const float eps = cfg_.eps;
    const int n_iter = cfg_.steps;
    const std::vector<ApgdCheckpoint> checks = apgd_checkpoints(n_iter);
    size_t next = 0;
    const float rho = 0.75f;
    const size_t md = size_t(m * dim);
    x_adv_.assign(md, 0.f);
    // The start: x + eps * t / ||t|| (L-inf: t uniform in [-1, 1]^d, divided by max |t|;
    // L2: t Gaussian), clamped to the box.
#pragma omp parallel for schedule(static)
    for (int64_t e = 0; e < m; ++e) {
      Rng g = example_rng(seed, uint32_t(cfg_.slot), run_id, index[e]);
      float* xa = x_adv_.data() + e * dim;
      double norm = 0;
      for (int64_t i = 0; i < dim; ++i) {
        const float t = cfg_.norm == Norm::kLinf ? g.uniform(-1.f, 1.f) : standard_normal(g);
        xa[i] = t;
        norm = cfg_.norm == Norm::kLinf ? std::max(norm, double(std::fabs(t))) : norm + double(t) * t;
      }
      if (cfg_.norm == Norm::kL2) norm = std::sqrt(norm);
      const float s = float(eps / (norm + 1e-12));
      for (int64_t i = 0; i < dim; ++i) xa[i] = std::clamp(x[e * dim + i] + s * xa[i], 0.f, 1.f);
    }
    x_best_ = x_adv_;
    x_best_adv = x_adv_;
    std::vector<float> loss_steps(size_t(n_iter) * size_t(m), 0.f);
    grad_.assign(md, 0.f);
    std::vector<uint8_t> pred(static_cast<size_t>(m));
    std::vector<float> loss(static_cast<size_t>(m));
    evaluate(y, target, m, pred, loss);
    grad_best_ = grad_;
    acc.assign(pred.begin(), pred.end());
    std::vector<float> loss_best = loss;
    std::vector<float> step(static_cast<size_t>(m), 2.f * eps);
    x_old_ = x_adv_;
    std::vector<float> loss_best_last = loss_best;
    std::vector<uint8_t> reduced_last(static_cast<size_t>(m), 1);
    for (int it = 0; it < n_iter; ++it) {
      const float a = it > 0 ? 0.75f : 1.f;
#pragma omp parallel for schedule(static)
      for (int64_t e = 0; e < m; ++e) step_one(x + e * dim, e * dim, dim, step[size_t(e)], a);
      evaluate(y, target, m, pred, loss);
      for (int64_t e = 0; e < m; ++e) {
        acc[size_t(e)] = acc[size_t(e)] && pred[size_t(e)];
        if (!pred[size_t(e)]) std::copy_n(x_adv_.data() + e * dim, dim, x_best_adv.data() + e * dim);
        loss_steps[size_t(it) * size_t(m) + size_t(e)] = loss[size_t(e)];
        if (loss[size_t(e)] > loss_best[size_t(e)]) {
          std::copy_n(x_adv_.data() + e * dim, dim, x_best_.data() + e * dim);
          std::copy_n(grad_.data() + e * dim, dim, grad_best_.data() + e * dim);
          loss_best[size_t(e)] = loss[size_t(e)];
        }
      }
      if (next == checks.size() || it != checks[next].iteration) continue;
      const int k = checks[next++].window;
      // A checkpoint: halve the step where the loss rose in at most rho k of the last k
      // iterations, or where the step was not halved last time and the best loss did not move;
      // restart those examples from their best point.
      for (int64_t e = 0; e < m; ++e) {
        int rises = 0;
        for (int c = 0; c < k; ++c) {
          // The reference indexes loss_steps[i - c - 1] in Python: -1 is the last row, still zero.
          const int i1 = it - c, i0 = it - c - 1 < 0 ? n_iter + (it - c - 1) : it - c - 1;
          rises += loss_steps[size_t(i1) * size_t(m) + size_t(e)] > loss_steps[size_t(i0) * size_t(m) + size_t(e)];
        }
        const bool oscillation = float(rises) <= float(k) * rho;
        const bool no_improvement = !reduced_last[size_t(e)] && loss_best_last[size_t(e)] >= loss_best[size_t(e)];
        const bool reduce = oscillation || no_improvement;
        reduced_last[size_t(e)] = reduce;
        loss_best_last[size_t(e)] = loss_best[size_t(e)];
        if (reduce) {
          step[size_t(e)] /= 2.f;
          std::copy_n(x_best_.data() + e * dim, dim, x_adv_.data() + e * dim);
          std::copy_n(grad_best_.data() + e * dim, dim, grad_.data() + e * dim);
        }
      }
    }
  }

 private:
  // The step of one example at row offset o: a projected gradient step, then momentum with the
  // previous move, projected again (for L2 each candidate is projected onto the ball, then
  // clamped to the box, as the reference does).
  void step_one(const float* x, int64_t o, int64_t dim, float step, float a) {
    float* xa = x_adv_.data() + o;
    float* xo = x_old_.data() + o;
    const float* g = grad_.data() + o;
    const float eps = cfg_.eps;
    float* z = scratch(dim);
    if (cfg_.norm == Norm::kLinf) {
      for (int64_t i = 0; i < dim; ++i) {
        const float s = g[i] > 0 ? 1.f : g[i] < 0 ? -1.f : 0.f;
        const float z1 = std::clamp(std::clamp(xa[i] + step * s, x[i] - eps, x[i] + eps), 0.f, 1.f);
        const float z2 = xa[i] + (z1 - xa[i]) * a + (xa[i] - xo[i]) * (1 - a);
        z[i] = std::clamp(std::clamp(z2, x[i] - eps, x[i] + eps), 0.f, 1.f);
      }
    } else {
      double gn = 0;
      for (int64_t i = 0; i < dim; ++i) gn += double(g[i]) * g[i];
      const float gs = float(1.0 / (std::sqrt(gn) + 1e-12));
      for (int64_t i = 0; i < dim; ++i) z[i] = xa[i] + step * g[i] * gs;
      project_l2(z, x, dim, eps);
      for (int64_t i = 0; i < dim; ++i) z[i] = xa[i] + (z[i] - xa[i]) * a + (xa[i] - xo[i]) * (1 - a);
      project_l2(z, x, dim, eps);
    }
    std::copy_n(xa, dim, xo);
    std::copy_n(z, dim, xa);
  }

  // z = clamp(x + (z - x) / ||z - x|| * min(eps, ||z - x||), 0, 1) (the reference's order).
  static void project_l2(float* z, const float* x, int64_t dim, float eps) {
    double n2 = 0;
    for (int64_t i = 0; i < dim; ++i) n2 += double(z[i] - x[i]) * (z[i] - x[i]);
    const double nrm = std::sqrt(n2);
    const float s = float(std::min(double(eps), nrm) / (nrm + 1e-12));
    for (int64_t i = 0; i < dim; ++i) z[i] = std::clamp(x[i] + (z[i] - x[i]) * s, 0.f, 1.f);
  }

  float* scratch(int64_t dim) {
    thread_local std::vector<float> s;
    if (int64_t(s.size()) < dim) s.resize(size_t(dim));
    return s.data();
  }

  // Loss, prediction and input gradient at x_adv_ for all m examples.
  void evaluate(const int32_t* y, const int32_t* target, int64_t m, std::vector<uint8_t>& pred,
                std::vector<float>& loss) {
    Shape s = shape_;
    s[0] = m;
    xin_.resize(s);
    std::memcpy(xin_.data(), x_adv_.data(), sizeof(float) * x_adv_.size());
    const Tensor& z = model_.forward(xin_, Mode::kEval);
    const int64_t kc = z.dim(1);
    dz_.resize({m, kc});
    if (cfg_.objective == "ce") {
      if (!ce_) ce_ = make_objective("ce");
      LossOutput out{1.f, dz_.data(), nullptr, loss.data(), pred.data()};
      ce_->evaluate({z.data(), y, m, kc, nullptr, Device::kCpu}, out);
    } else {  // dlr
      for (int64_t e = 0; e < m; ++e) {
        loss[size_t(e)] = dlr_loss(z.data() + e * kc, kc, y[e], target ? target[e] : -1, dz_.data() + e * kc);
        pred[size_t(e)] = predicted_class(z.data() + e * kc, kc) == y[e];
      }
    }
    const Tensor& g = model_.backward(dz_, /*input_grad=*/true, /*param_grads=*/false);
    std::memcpy(grad_.data(), g.data(), sizeof(float) * grad_.size());
  }

  Model& model_;
  const AttackConfig& cfg_;
  Shape shape_;
  std::unique_ptr<Objective> ce_;
  Tensor xin_, dz_;
  std::vector<float> x_adv_, x_old_, x_best_, grad_, grad_best_;
};

}  // namespace

std::vector<ApgdCheckpoint> apgd_checkpoints(int n_iter) {
  // The reference's counter: a checkpoint after k iterations, k from 0.22 n down by 0.03 n a
  // time to 0.06 n (each at least 1).
  const int size_decr = std::max(int(0.03 * n_iter), 1), k_min = std::max(int(0.06 * n_iter), 1);
  std::vector<ApgdCheckpoint> c;
  int k = std::max(int(0.22 * n_iter), 1), it = k - 1;
  while (it < n_iter) {
    c.push_back({it, k});
    k = std::max(k - size_decr, k_min);
    it += k;
  }
  return c;
}

float dlr_loss(const float* z, int64_t k, int32_t y, int32_t target, float* dz) {
  // The three or four largest logits' classes, p[0] >= p[1] >= ...
  int32_t p[4] = {-1, -1, -1, -1};
  for (int32_t j = 0; j < int32_t(k); ++j) {
    for (int r = 0; r < 4; ++r) {
      if (p[r] < 0 || z[j] > z[p[r]]) {
        for (int s = 3; s > r; --s) p[s] = p[s - 1];
        p[r] = j;
        break;
      }
    }
  }
  if (dz) std::fill_n(dz, k, 0.f);
  if (target < 0) {
    const int32_t o = p[0] == y ? p[1] : p[0];  // the largest other class
    const double num = double(z[y]) - z[o], den = double(z[p[0]]) - z[p[2]] + 1e-12;
    if (dz) {
      dz[y] += float(-1 / den);
      dz[o] += float(1 / den);
      dz[p[0]] += float(num / (den * den));
      dz[p[2]] -= float(num / (den * den));
    }
    return float(-num / den);
  }
  const double num = double(z[y]) - z[target], den = double(z[p[0]]) - 0.5 * (double(z[p[2]]) + z[p[3]]) + 1e-12;
  if (dz) {
    dz[y] += float(-1 / den);
    dz[target] += float(1 / den);
    dz[p[0]] += float(num / (den * den));
    dz[p[2]] -= float(0.5 * num / (den * den));
    dz[p[3]] -= float(0.5 * num / (den * den));
  }
  return float(-num / den);
}

void apgd_attack(Model& model, const SearchBatch& b, const AttackConfig& cfg, uint64_t seed, SearchResult& r) {
  const int64_t n = b.n(), dim = b.dim();
  const float* x = b.x->data();
  const Tensor& z0 = model.forward(*b.x, Mode::kEval);
  const int64_t k = z0.dim(1);
  if (cfg.objective == "dlr" && k < (cfg.targets > 0 ? 4 : 3))
    throw ConfigError(cfg.name + ": the DLR loss needs at least " + std::to_string(cfg.targets > 0 ? 4 : 3) +
                      " classes, found " + std::to_string(k) + "; use apgd-ce");
  const std::vector<float> clean(z0.data(), z0.data() + n * k);
  std::vector<uint8_t> robust(static_cast<size_t>(n));  // still correctly classified
  for (int64_t e = 0; e < n; ++e) robust[size_t(e)] = predicted_class(clean.data() + e * k, k) == b.labels[e];
  ApgdRun apgd(model, cfg, b.x->shape());
  const int targets = std::min<int64_t>(cfg.targets, k - 1);
  const int runs = cfg.targets > 0 ? targets : 1;
  std::vector<uint8_t> acc;
  std::vector<float> xs, adv;
  std::vector<int32_t> ys, ts;
  std::vector<int64_t> idx;
  for (int t = 0; t < runs; ++t) {
    for (int rs = 0; rs < cfg.restarts; ++rs) {
      std::vector<int64_t> rows;
      for (int64_t e = 0; e < n; ++e)
        if (robust[size_t(e)]) rows.push_back(e);
      if (rows.empty()) break;
      const int64_t m = int64_t(rows.size());
      xs.resize(size_t(m * dim));
      gather_rows(xs.data(), x, rows, dim);
      ys.resize(size_t(m));
      idx.resize(size_t(m));
      ts.resize(size_t(m));
      for (int64_t i = 0; i < m; ++i) {
        const int64_t e = rows[size_t(i)];
        ys[size_t(i)] = b.labels[e];
        idx[size_t(i)] = b.index[e];
        if (cfg.targets > 0) ts[size_t(i)] = class_ranked(clean.data() + e * k, k, t + 2);
      }
      apgd.run(xs.data(), ys.data(), cfg.targets > 0 ? ts.data() : nullptr, idx.data(), m, seed,
               uint32_t(t * cfg.restarts + rs), acc, adv);
      for (int64_t i = 0; i < m; ++i) {
        if (acc[size_t(i)]) continue;
        const int64_t e = rows[size_t(i)];
        robust[size_t(e)] = 0;
        std::copy_n(adv.data() + i * dim, dim, r.x_adv.data() + e * dim);
        r.fooled[size_t(e)] = 1;
      }
    }
  }
}

}  // namespace rampart
