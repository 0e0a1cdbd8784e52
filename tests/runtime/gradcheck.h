// Finite-difference checks of a layer's backward (input and parameter
// gradients), reusable by every layer test. The loss is L = sum(y * r) for a
// fixed random r, so dL/dy = r; the numerical gradient is the central
// difference (L(v + eps) - L(v - eps)) / (2 eps) with L summed in double
// around the float forward pass.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "runtime/layers/layer.h"
#include "runtime/rng.h"
#include "runtime/tensor.h"

namespace rampart::testing {

// A layer with storage of its own for parameters, gradients and buffers (what
// the model's flat buffers provide in real use), initialised by reset_parameters.
class BoundLayer {
 public:
  explicit BoundLayer(std::unique_ptr<Layer> layer, uint64_t seed = 1) : layer_(std::move(layer)) {
    auto ps = layer_->param_shapes();
    values_.resize(ps.size());
    grads_.resize(ps.size());
    params_.reserve(ps.size());
    for (size_t i = 0; i < ps.size(); ++i) {
      values_[i].resize(ps[i].second);
      grads_[i].resize(ps[i].second);
      grads_[i].zero();
      params_.push_back({ps[i].first, ps[i].second, values_[i].data(), grads_[i].data(), 0});
    }
    auto bs = layer_->buffer_shapes();
    bufs_.resize(bs.size());
    buffers_.reserve(bs.size());
    for (size_t i = 0; i < bs.size(); ++i) {
      bufs_[i].resize({std::max<int64_t>(1, numel(bs[i].second))});
      bufs_[i].zero();
      buffers_.push_back({bs[i].first, bs[i].second, bufs_[i].data()});
    }
    std::vector<ParamView*> pv;
    for (auto& p : params_) pv.push_back(&p);
    if (!pv.empty()) layer_->bind_params(pv);
    std::vector<BufferView*> bv;
    for (auto& b : buffers_) bv.push_back(&b);
    if (!bv.empty()) layer_->bind_buffers(bv);
    Rng rng(seed, Stream::kInit, 0);
    layer_->reset_parameters(rng);
  }
  Layer& layer() { return *layer_; }
  Layer* operator->() { return layer_.get(); }
  std::vector<ParamView>& params() { return params_; }
  std::vector<BufferView>& buffers() { return buffers_; }
  ParamView& param(const std::string& name) {
    for (auto& p : params_)
      if (p.name == name) return p;
    throw std::runtime_error("no parameter " + name);
  }
  BufferView& buffer(const std::string& name) {
    for (auto& b : buffers_)
      if (b.name == name) return b;
    throw std::runtime_error("no buffer " + name);
  }

 private:
  std::unique_ptr<Layer> layer_;
  std::vector<Tensor> values_, grads_, bufs_;
  std::vector<ParamView> params_;
  std::vector<BufferView> buffers_;
};

// Uniform in [lo, hi), shape given logically (a 4-D shape is stored nhwc; the
// values are i.i.d., so the layout does not matter here).
inline Tensor random_tensor(const Shape& shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(shape);
  Rng rng(seed, Stream::kProbe, 7);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = rng.uniform(lo, hi);
  return t;
}

// Values spaced at least `gap` apart in random order: no ties and no two
// values within a finite-difference step of each other (for max-pool).
inline Tensor distinct_tensor(const Shape& shape, uint64_t seed, float gap = 0.05f) {
  Tensor t(shape);
  std::vector<int64_t> order(t.size());
  std::iota(order.begin(), order.end(), 0);
  Rng rng(seed, Stream::kProbe, 8);
  for (int64_t i = t.size() - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = (float(order[i]) - 0.5f * float(t.size())) * gap;
  return t;
}

// Values whose magnitude is at least `margin` (for relu: no input within a
// finite-difference step of the kink at 0).
inline Tensor away_from_zero(const Shape& shape, uint64_t seed, float margin = 0.1f) {
  Tensor t = random_tensor(shape, seed, -1.0f, 1.0f);
  for (int64_t i = 0; i < t.size(); ++i) t[i] = t[i] < 0 ? t[i] - margin : t[i] + margin;
  return t;
}

struct GradCheckOptions {
  double eps = 1e-2;         // perturbation of one input or parameter value
  double rtol = 1e-2;        // relative tolerance (float32 forward)
  double atol_rel = 2e-3;    // absolute tolerance, as a fraction of the largest |gradient|
  int max_checks = 150;      // values checked per tensor (a random subset beyond this)
  uint64_t seed = 11;
};

namespace detail {

inline double weighted_sum(const Tensor& y, const Tensor& r) {
  double s = 0;
  for (int64_t i = 0; i < y.size(); ++i) s += double(y[i]) * double(r[i]);
  return s;
}

inline std::vector<int64_t> pick(int64_t n, int max_checks, uint64_t seed) {
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  if (n <= max_checks) return idx;
  Rng rng(seed, Stream::kProbe, 9);
  for (int i = 0; i < max_checks; ++i) std::swap(idx[i], idx[i + rng.below(n - i)]);
  idx.resize(max_checks);
  return idx;
}

// Compares analytic[i] with the central difference obtained by perturbing v[i].
inline int compare(const std::string& what, float* v, const float* analytic, int64_t n,
                   const std::function<double()>& loss, const GradCheckOptions& o) {
  double scale = 0;
  for (int64_t i = 0; i < n; ++i) scale = std::max(scale, std::fabs(double(analytic[i])));
  double atol = o.atol_rel * scale + 1e-6;
  int bad = 0;
  std::string first;  // the first few mismatches, reported as one failure per tensor
  for (int64_t i : pick(n, o.max_checks, o.seed)) {
    float saved = v[i];
    v[i] = float(saved + o.eps);
    double lp = loss();
    v[i] = float(saved - o.eps);
    double lm = loss();
    v[i] = saved;
    // The step actually taken in float, not the one asked for.
    double h = double(float(saved + o.eps)) - double(float(saved - o.eps));
    double numeric = (lp - lm) / h;
    double a = analytic[i];
    if (!(std::fabs(a - numeric) <= atol + o.rtol * std::max(std::fabs(a), std::fabs(numeric)))) {
      if (bad < 5)
        first += "\n  " + what + "[" + std::to_string(i) + "]: analytic " + std::to_string(a) + ", numeric " +
                 std::to_string(numeric);
      ++bad;
    }
  }
  if (bad)
    ADD_FAILURE() << what << ": " << bad << " mismatches (atol " << atol << ", rtol " << o.rtol << ")" << first;
  return bad;
}

}  // namespace detail

// Checks dL/dx and every parameter gradient of bl's layer at x in the given
// mode; returns the number of mismatches (each is also a test failure).
// Also checks that gradients are overwritten (not added to), and that passing
// dx = nullptr or param_grads = false changes nothing else.
inline int gradcheck(BoundLayer& bl, Tensor x, Mode mode, const GradCheckOptions& o = {}) {
  Layer& layer = bl.layer();
  Tensor y;
  layer.forward(x, y, mode);
  Tensor r = random_tensor(y.shape(), o.seed + 1);
  // Analytic gradients; garbage in the outputs first, to catch accumulation.
  Tensor dx(x.shape());
  dx.fill(1e30f);
  for (auto& p : bl.params()) std::fill(p.grad, p.grad + p.size(), 123.0f);
  layer.backward(x, y, r, &dx, true);
  std::vector<std::vector<float>> pgrads;
  for (auto& p : bl.params()) pgrads.emplace_back(p.grad, p.grad + p.size());

  int bad = 0;
  // Input-only and parameter-only passes must agree with the full one.
  {
    for (auto& p : bl.params()) std::fill(p.grad, p.grad + p.size(), -7.0f);
    Tensor dx2;
    layer.forward(x, y, mode);
    layer.backward(x, y, r, &dx2, false);
    for (auto& p : bl.params())
      for (int64_t i = 0; i < p.size(); ++i)
        if (p.grad[i] != -7.0f) { ADD_FAILURE() << p.name << " written with param_grads=false"; ++bad; break; }
    for (int64_t i = 0; i < dx.size(); ++i)
      if (dx2[i] != dx[i]) { ADD_FAILURE() << "dx differs without param_grads at " << i; ++bad; break; }
    layer.forward(x, y, mode);
    layer.backward(x, y, r, nullptr, true);
    for (size_t k = 0; k < pgrads.size(); ++k)
      for (int64_t i = 0; i < bl.params()[k].size(); ++i)
        if (bl.params()[k].grad[i] != pgrads[k][i]) {
          ADD_FAILURE() << bl.params()[k].name << " differs with dx=nullptr at " << i;
          ++bad;
          break;
        }
  }

  Tensor yy;
  auto loss = [&] {
    layer.forward(x, yy, mode);
    return detail::weighted_sum(yy, r);
  };
  bad += detail::compare(layer.type() + " dx", x.data(), dx.data(), x.size(), loss, o);
  for (size_t k = 0; k < bl.params().size(); ++k) {
    auto& p = bl.params()[k];
    bad += detail::compare(layer.type() + " d" + p.name, p.value, pgrads[k].data(), p.size(), loss, o);
  }
  return bad;
}

}  // namespace rampart::testing
