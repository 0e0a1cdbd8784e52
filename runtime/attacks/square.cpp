// The Square attack (Andriushchenko et al. 2020, "Square Attack: a query-efficient black-box
// adversarial attack via random search"), as AutoAttack runs it (auto-attack,
// autoattack/square.py, SquareAttack; autoattack.py builds it with p_init 0.8, 5000 queries,
// one restart, the margin loss and resc_schedule=False): random search over squares of
// shrinking side, a candidate kept where it lowers the margin z_y - max_{i!=y} z_i, an example
// left alone once its margin is <= 0. L-inf and L2.
//
// x: [n, C, H, W] stored channels-last, so feature (c, h, w) of a row sits at (h * W + w) * C + c.
//
// By design, unlike the reference: every random number is drawn per example from
// example_rng(seed, slot, restart, index), in a fixed order per iteration (the window's
// position, for L2 the second window's, for L2 the pattern's transpose, then one sign per
// channel), where the reference shares the window and the transpose across the batch.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/attacks/search_attacks.h"
#include "runtime/errors.h"

namespace rampart {

// Not in search_attacks.h: the schedule's two pure parts, exported for the tests.

// The reference's p_selection: the fraction of the image a square covers at iteration `it`
// (0-based), p_init halved at it = 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 (p_init / 512
// after 8000). rescale maps it to int(it / n_queries * 10000) first.
double square_p_selection(double p_init, int64_t it, int64_t n_queries, bool rescale) {
  if (rescale) it = int64_t(double(it) / double(n_queries) * 10000);  // Python's it / n * 10000
  static const int64_t kBreaks[] = {10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000};
  double p = p_init;
  for (int j = 0; j < 9; ++j)
    if (it > kBreaks[j]) p = p_init / double(int64_t(2) << j);
  return p;
}

// The side of the square for fraction p of a c x h x w image: round(sqrt(p h w)) (Python's
// round, half to even), at least 1 (L-inf) or at least 3 and odd (L2), at most min(h, w).
int64_t square_side(Norm norm, double p, int64_t c, int64_t h, int64_t w) {
  const double n_features = double(c * h * w);
  int64_t s = int64_t(std::nearbyint(std::sqrt(p * n_features / double(c))));
  if (norm == Norm::kLinf) {
    s = std::max<int64_t>(s, 1);
  } else {
    s = std::max<int64_t>(s, 3);
    if (s % 2 == 0) ++s;
  }
  return std::min(s, std::min(h, w));
}

namespace {

// AutoAttack's settings (autoattack.py: SquareAttack(..., p_init=.8, resc_schedule=False)).
constexpr double kPInit = 0.8;
constexpr bool kRescaleSchedule = false;
// Below this many floats of candidates a step is too small to share among threads (a few
// microseconds: the fork and join would cost more).
constexpr int64_t kParallelMin = int64_t(1) << 15;

// The reference's margin (its loss for loss='margin', untargeted): z_y - max_{i!=y} z_i.
float margin(const float* z, int64_t k, int32_t y) {
  float other = -INFINITY;
  for (int64_t j = 0; j < k; ++j)
    if (j != y) other = std::max(other, z[j]);
  return z[y] - other;
}

// The reference's random_choice: sign(2u - 1), u uniform in [0, 1) (0 where u is exactly 1/2).
float random_sign(Rng& g) {
  const float t = 2.f * g.uniform() - 1.f;
  return t > 0 ? 1.f : t < 0 ? -1.f : 0.f;
}

// The reference's random_int(0, n): uniform in [0, n), 0 when n is 0.
int64_t random_int(Rng& g, int64_t n) { return n > 0 ? int64_t(g.below(uint64_t(n))) : 0; }

// The reference's eta_rectangles (L2): an a x b block of nested rectangles around its centre,
// the k-th (k = 1, 2, ...) adding 1 / k^2, scaled to unit L2 norm. Row-major.
std::vector<float> eta_rectangles(int64_t a, int64_t b) {
  std::vector<float> d(size_t(a * b), 0.f);
  const int64_t xc = a / 2 + 1, yc = b / 2 + 1;
  int64_t c0 = xc - 1, c1 = yc - 1;
  for (int64_t k = 0; k < std::max(xc, yc); ++k, --c0, --c1) {
    const float add = 1.f / float((k + 1) * (k + 1));
    for (int64_t i = std::max<int64_t>(c0, 0); i < std::min(c0 + 2 * k + 1, a); ++i)
      for (int64_t j = std::max<int64_t>(c1, 0); j < std::min(c1 + 2 * k + 1, b); ++j) d[size_t(i * b + j)] += add;
  }
  double sq = 0;
  for (float v : d) sq += double(v) * v;
  if (sq > 0)
    for (float& v : d) v = float(v / std::sqrt(sq));
  return d;
}

// The reference's eta(s) before its random transpose (L2): the top s/2 rows one block of
// rectangles, the bottom s - s/2 rows another with the opposite sign, unit L2 norm. s x s.
std::vector<float> eta(int64_t s) {
  std::vector<float> d(size_t(s * s));
  const std::vector<float> top = eta_rectangles(s / 2, s), bottom = eta_rectangles(s - s / 2, s);
  std::copy(top.begin(), top.end(), d.begin());
  for (size_t i = 0; i < bottom.size(); ++i) d[top.size() + i] = -bottom[i];
  double sq = 0;
  for (float v : d) sq += double(v) * v;
  for (float& v : d) v = float(v / std::sqrt(sq));
  return d;
}

// One restart (the reference's attack_single_run) on m examples.
class SquareRun {
 public:
  SquareRun(Model& model, const AttackConfig& cfg, const Shape& shape)
      : model_(model), cfg_(cfg), c_(shape[1]), h_(shape[2]), w_(shape[3]), dim_(c_ * h_ * w_) {
    // eta(s) for every side L2 can use (up to max(h, w)), computed once: the threads read it.
    if (cfg.norm == Norm::kL2) {
      etas_.resize(size_t(std::max(h_, w_) + 1));
      for (int64_t s = 1; s < int64_t(etas_.size()); ++s) etas_[size_t(s)] = eta(s);
    }
  }

  // x: m rows of dim_; y: labels; index: the examples' keys. Returns x_best (m rows) and
  // margin_min (m).
  void run(const float* x, const int32_t* y, const int64_t* index, int64_t m, uint64_t seed, uint32_t restart,
           std::vector<float>& x_best, std::vector<float>& margin_min) {
    rng_.clear();
    for (int64_t i = 0; i < m; ++i) rng_.push_back(example_rng(seed, uint32_t(cfg_.slot), restart, index[i]));
    x_best.resize(size_t(m * dim_));
    margin_min.resize(size_t(m));
#pragma omp parallel for schedule(static) if (m * dim_ >= kParallelMin)
    for (int64_t i = 0; i < m; ++i) {
      if (cfg_.norm == Norm::kLinf)
        init_linf(x + i * dim_, rng_[size_t(i)], x_best.data() + i * dim_);
      else
        init_l2(x + i * dim_, rng_[size_t(i)], x_best.data() + i * dim_);
    }
    std::vector<int64_t> rows(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) rows[size_t(i)] = i;
    evaluate(x_best.data(), rows, y, margin_min.data());

    for (int64_t it = 0; it < cfg_.queries; ++it) {
      rows.clear();
      for (int64_t i = 0; i < m; ++i)
        if (margin_min[size_t(i)] > 0) rows.push_back(i);
      if (rows.empty()) break;
      const int64_t na = int64_t(rows.size());
      const double p = square_p_selection(kPInit, it, cfg_.queries, kRescaleSchedule);
      const int64_t s = square_side(cfg_.norm, p, c_, h_, w_);
      cand_.resize({na, c_, h_, w_});
#pragma omp parallel for schedule(static) if (na * dim_ >= kParallelMin)
      for (int64_t a = 0; a < na; ++a) {
        const int64_t i = rows[size_t(a)];
        if (cfg_.norm == Norm::kLinf)
          step_linf(x + i * dim_, x_best.data() + i * dim_, s, rng_[size_t(i)], cand_.data() + a * dim_);
        else
          step_l2(x + i * dim_, x_best.data() + i * dim_, s, rng_[size_t(i)], cand_.data() + a * dim_);
      }
      const Tensor& z = model_.forward(cand_, Mode::kEval);
      const int64_t k = z.dim(1);
      for (int64_t a = 0; a < na; ++a) {
        const int64_t i = rows[size_t(a)];
        // The reference keeps the candidate where the loss (here the margin) improved or the
        // candidate is misclassified (margin <= 0).
        const float mg = margin(z.data() + a * k, k, y[i]);
        if (mg < margin_min[size_t(i)] || mg <= 0) {
          margin_min[size_t(i)] = mg;
          std::memcpy(x_best.data() + i * dim_, cand_.data() + a * dim_, sizeof(float) * size_t(dim_));
        }
      }
    }
  }

 private:
  int64_t at(int64_t ch, int64_t hh, int64_t ww) const { return (hh * w_ + ww) * c_ + ch; }

  // Forwards rows `rows` of xs (m rows of dim_) and writes their margins into out[row].
  void evaluate(const float* xs, const std::vector<int64_t>& rows, const int32_t* y, float* out) {
    const int64_t na = int64_t(rows.size());
    cand_.resize({na, c_, h_, w_});
    for (int64_t a = 0; a < na; ++a)
      std::memcpy(cand_.data() + a * dim_, xs + rows[size_t(a)] * dim_, sizeof(float) * size_t(dim_));
    const Tensor& z = model_.forward(cand_, Mode::kEval);
    const int64_t k = z.dim(1);
    for (int64_t a = 0; a < na; ++a) out[rows[size_t(a)]] = margin(z.data() + a * k, k, y[rows[size_t(a)]]);
  }

  // Vertical stripes: x + eps * (a sign per (channel, column), the same on every row), in [0, 1].
  void init_linf(const float* x, Rng& g, float* out) const {
    std::vector<float> sign(size_t(c_ * w_));
    for (int64_t ch = 0; ch < c_; ++ch)
      for (int64_t ww = 0; ww < w_; ++ww) sign[size_t(ch * w_ + ww)] = random_sign(g);
    for (int64_t hh = 0; hh < h_; ++hh)
      for (int64_t ww = 0; ww < w_; ++ww)
        for (int64_t ch = 0; ch < c_; ++ch) {
          const int64_t f = at(ch, hh, ww);
          out[f] = std::clamp(x[f] + cfg_.eps * sign[size_t(ch * w_ + ww)], 0.f, 1.f);
        }
  }

  // A square of side s at a random place gets x_best + 2 eps * (a sign per channel), projected
  // onto the eps-ball around x and clamped to [0, 1]; outside the square the projection leaves
  // x_best as it is (x_best is already a projected point).
  void step_linf(const float* x, const float* xb, int64_t s, Rng& g, float* out) const {
    const int64_t vh = random_int(g, h_ - s), vw = random_int(g, w_ - s);
    std::vector<float> colour(static_cast<size_t>(c_));
    for (auto& v : colour) v = 2.f * cfg_.eps * random_sign(g);
    std::memcpy(out, xb, sizeof(float) * size_t(dim_));
    const float eps = cfg_.eps;
    for (int64_t hh = vh; hh < vh + s; ++hh)
      for (int64_t ww = vw; ww < vw + s; ++ww)
        for (int64_t ch = 0; ch < c_; ++ch) {
          const int64_t f = at(ch, hh, ww);
          const float v = std::min(std::max(xb[f] + colour[size_t(ch)], x[f] - eps), x[f] + eps);
          out[f] = std::clamp(v, 0.f, 1.f);
        }
  }

  // eta(s), transposed where the draw says so (the reference: torch.rand([1]) > 0.5).
  const float* eta_drawn(int64_t s, Rng& g, std::vector<float>& buf) const {
    const std::vector<float>& e = etas_[size_t(s)];
    if (!(g.uniform() > 0.5f)) return e.data();
    buf.resize(size_t(s * s));
    for (int64_t i = 0; i < s; ++i)
      for (int64_t j = 0; j < s; ++j) buf[size_t(i * s + j)] = e[size_t(j * s + i)];
    return buf.data();
  }

  // x + eps * delta / ||delta||_2 in [0, 1] (the reference's clamp(x + normalize(delta) * eps)).
  void place_l2(const float* x, const float* delta, float* out) const {
    double sq = 0;
    for (int64_t f = 0; f < dim_; ++f) sq += double(delta[f]) * delta[f];
    const float t = float(std::sqrt(sq)) + 1e-12f;
    for (int64_t f = 0; f < dim_; ++f) out[f] = std::clamp(x[f] + delta[f] / t * cfg_.eps, 0.f, 1.f);
  }

  // The reference's L2 start: squares of side h/5 tiled from ((h - 5 (h/5)) / 2, same), h/s
  // rows by w/s columns of them, each eta(side) (randomly transposed) times a sign per
  // channel; scaled to L2 norm eps. Where a square runs past the image (the reference fails
  // there, a shape mismatch, e.g. h = 12) only its part inside is added.
  void init_l2(const float* x, Rng& g, float* out) const {
    const int64_t s = h_ / 5, sp = (h_ - s * 5) / 2;
    std::vector<float> delta(size_t(dim_), 0.f), buf, sign(static_cast<size_t>(c_));
    for (int64_t bh = 0, vh = sp; bh < h_ / s; ++bh, vh += s)
      for (int64_t bw = 0, vw = sp; bw < w_ / s; ++bw, vw += s) {
        const float* e = eta_drawn(s, g, buf);
        for (auto& v : sign) v = random_sign(g);
        for (int64_t i = 0; i < s && vh + i < h_; ++i)
          for (int64_t j = 0; j < s && vw + j < w_; ++j)
            for (int64_t ch = 0; ch < c_; ++ch) delta[size_t(at(ch, vh + i, vw + j))] += e[i * s + j] * sign[size_t(ch)];
      }
    place_l2(x, delta.data(), out);
  }

  // The reference's L2 step: with delta = x_best - x, a square (vh, vw) of side s gets, per
  // channel, eta(s) * sign + its old content / its old norm, rescaled to norm
  // sqrt(max(eps^2 - ||delta||^2, 0) / C + (the channel's norm over both squares)^2); a second
  // square (vh2, vw2) is zeroed first; the result is scaled to norm eps and clamped to [0, 1].
  void step_l2(const float* x, const float* xb, int64_t s, Rng& g, float* out) const {
    const int64_t vh = random_int(g, h_ - s), vw = random_int(g, w_ - s);
    const int64_t vh2 = random_int(g, h_ - s), vw2 = random_int(g, w_ - s);
    std::vector<float> buf, sign(static_cast<size_t>(c_));
    const float* e = eta_drawn(s, g, buf);
    for (auto& v : sign) v = random_sign(g);

    float* delta = out;  // delta is built in place, then turned into the candidate
    double image_sq = 0;
    for (int64_t f = 0; f < dim_; ++f) {
      delta[f] = xb[f] - x[f];
      image_sq += double(delta[f]) * delta[f];
    }
    const float norm_image = float(std::sqrt(image_sq));
    auto in1 = [&](int64_t hh, int64_t ww) { return hh >= vh && hh < vh + s && ww >= vw && ww < vw + s; };
    auto in2 = [&](int64_t hh, int64_t ww) { return hh >= vh2 && hh < vh2 + s && ww >= vw2 && ww < vw2 + s; };
    std::vector<double> win1_sq(size_t(c_), 0), both_sq(size_t(c_), 0);
    for (int64_t hh = std::min(vh, vh2); hh < std::max(vh, vh2) + s; ++hh)
      for (int64_t ww = std::min(vw, vw2); ww < std::max(vw, vw2) + s; ++ww) {
        const bool a = in1(hh, ww), b = in2(hh, ww);
        if (!a && !b) continue;
        for (int64_t ch = 0; ch < c_; ++ch) {
          const double d = delta[at(ch, hh, ww)];
          if (a) win1_sq[size_t(ch)] += d * d;
          both_sq[size_t(ch)] += d * d;
        }
      }
    const float eps = cfg_.eps;
    const float room = std::max(eps * eps - norm_image * norm_image, 0.f) / float(c_);
    std::vector<float> fresh(size_t(c_ * s * s));  // [ch][i][j]
    for (int64_t ch = 0; ch < c_; ++ch) {
      const float n1 = 1e-12f + float(std::sqrt(win1_sq[size_t(ch)]));
      float* nd = fresh.data() + ch * s * s;
      double sq = 0;
      for (int64_t i = 0; i < s; ++i)
        for (int64_t j = 0; j < s; ++j) {
          const float v = e[i * s + j] * sign[size_t(ch)] + delta[at(ch, vh + i, vw + j)] / n1;
          nd[i * s + j] = v;
          sq += double(v) * v;
        }
      const float both = float(std::sqrt(both_sq[size_t(ch)]));
      const float scale = std::sqrt(room + both * both);
      const float nn = 1e-12f + float(std::sqrt(sq));
      for (int64_t q = 0; q < s * s; ++q) nd[q] = nd[q] / nn * scale;
    }
    for (int64_t i = 0; i < s; ++i)
      for (int64_t j = 0; j < s; ++j)
        for (int64_t ch = 0; ch < c_; ++ch) delta[at(ch, vh2 + i, vw2 + j)] = 0.f;
    for (int64_t i = 0; i < s; ++i)
      for (int64_t j = 0; j < s; ++j)
        for (int64_t ch = 0; ch < c_; ++ch) delta[at(ch, vh + i, vw + j)] = fresh[size_t((ch * s + i) * s + j)];
    std::vector<float> d(delta, delta + dim_);
    place_l2(x, d.data(), out);
  }

  Model& model_;
  const AttackConfig& cfg_;
  const int64_t c_, h_, w_, dim_;
  std::vector<Rng> rng_;
  std::vector<std::vector<float>> etas_;
  Tensor cand_;
};

}  // namespace

void square_attack(Model& model, const SearchBatch& b, const AttackConfig& cfg, uint64_t seed, SearchResult& r) {
  const Shape& shape = b.x->shape();
  if (shape.size() != 4)
    throw ConfigError(cfg.name + ": square needs image inputs [n, C, H, W], found " + std::to_string(shape.size()) +
                      " dimensions; use apgd or fab on flat inputs");
  if (cfg.norm != Norm::kLinf && cfg.norm != Norm::kL2)
    throw ConfigError(cfg.name + ": square supports the L-inf and L2 norms only");
  if (cfg.norm == Norm::kL2 && shape[2] < 5)
    throw ConfigError(cfg.name + ": square L2 tiles its start with squares of side H/5, so needs H >= 5, found H = " +
                      std::to_string(shape[2]));
  const int64_t n = b.n(), dim = b.dim();
  const float* x = b.x->data();
  r.x_adv.resize(shape);
  std::memcpy(r.x_adv.data(), x, sizeof(float) * size_t(b.x->size()));
  r.fooled.assign(size_t(n), 0);
  if (n == 0) return;

  // The reference attacks only the examples the model classifies correctly (perturb: acc).
  std::vector<uint8_t> robust(static_cast<size_t>(n));
  {
    const Tensor& z = model.forward(*b.x, Mode::kEval);
    const int64_t k = z.dim(1);
    for (int64_t e = 0; e < n; ++e) robust[size_t(e)] = predicted_class(z.data() + e * k, k) == b.labels[e];
  }
  SquareRun square(model, cfg, shape);
  // AutoAttack's acceptance test (run_search_attack's): eps plus float rounding.
  const float tol = cfg.norm == Norm::kLinf ? 1e-6f : 1e-5f * std::max(cfg.eps, 1.f);
  std::vector<float> xs, x_best, margin_min;
  std::vector<int32_t> ys;
  std::vector<int64_t> idx, rows;
  for (int rs = 0; rs < cfg.restarts; ++rs) {
    rows.clear();
    for (int64_t e = 0; e < n; ++e)
      if (robust[size_t(e)]) rows.push_back(e);
    if (rows.empty()) break;
    const int64_t m = int64_t(rows.size());
    xs.resize(size_t(m * dim));
    ys.resize(size_t(m));
    idx.resize(size_t(m));
    for (int64_t i = 0; i < m; ++i) {
      const int64_t e = rows[size_t(i)];
      std::memcpy(xs.data() + i * dim, x + e * dim, sizeof(float) * size_t(dim));
      ys[size_t(i)] = b.labels[e];
      idx[size_t(i)] = b.index[e];
    }
    square.run(xs.data(), ys.data(), idx.data(), m, seed, uint32_t(rs), x_best, margin_min);
    // As the reference (perturb): a restart's point counts where the model misclassifies it.
    Tensor adv(Shape{m, shape[1], shape[2], shape[3]});
    std::memcpy(adv.data(), x_best.data(), sizeof(float) * size_t(m * dim));
    const Tensor& z = model.forward(adv, Mode::kEval);
    const int64_t k = z.dim(1);
    for (int64_t i = 0; i < m; ++i) {
      const int64_t e = rows[size_t(i)];
      const float* xa = x_best.data() + i * dim;
      if (predicted_class(z.data() + i * k, k) == b.labels[e]) continue;
      if (!(distance(cfg.norm, xa, x + e * dim, dim) <= cfg.eps + tol)) continue;
      robust[size_t(e)] = 0;
      r.fooled[size_t(e)] = 1;
      std::memcpy(r.x_adv.data() + e * dim, xa, sizeof(float) * size_t(dim));
    }
  }
}

}  // namespace rampart
