// Model::forward and Model::backward: the module graph's program run forwards,
// then backwards in reverse order, where a value read by two steps (a residual
// block's branch point) sums the gradients of both.
#include <chrono>
#include <stdexcept>

#include "runtime/errors.h"
#include "runtime/model.h"

namespace rampart {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// y = a + b, elementwise (a residual join; the shapes were checked at construction).
void add_into(const Tensor& a, const Tensor& b, Tensor& y) {
  if (a.shape() != b.shape())
    throw std::logic_error("residual add: branch shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) +
                           " differ at run time");
  if (y.shape() != a.shape()) y.resize(a.shape());
  ops::add(a.device(), y.data(), a.data(), b.data(), a.size());
}

}  // namespace

const Tensor& Model::forward(const Tensor& x, Mode mode) {
  if (x.ndim() != 4 || x.dim(1) != input_[0] || x.dim(2) != input_[1] || x.dim(3) != input_[2])
    throw DataError("model input: expected a batch [N, " + std::to_string(input_[0]) + ", " +
                    std::to_string(input_[1]) + ", " + std::to_string(input_[2]) + "], found " +
                    shape_str(x.shape()));
  if (x.device() != device_)
    throw std::logic_error(std::string("Model::forward: a batch on ") + device_name(x.device()) + " for a model on " +
                           device_name(device_));
  input_ptr_ = &x;
  for (size_t k = 0; k < steps_.size(); ++k) {
    const Step& st = steps_[k];
    auto t = profiling_ ? Clock::now() : Clock::time_point();
    if (st.exec)
      st.exec->forward(value(st.in), vals_[st.out], mode);
    else
      add_into(value(st.in), value(st.in2), vals_[st.out]);
    if (profiling_) prof_fwd_[k] += since(t);
  }
  return value(output_);
}

// Adds g to value v's gradient. The first gradient a value receives is only
// pointed at (an add hands the same gradient to both branches); a second one
// is summed into v's own buffer.
void Model::add_grad(int v, const Tensor& g) {
  const Tensor* cur = gptr_[v];
  if (!cur) {
    gptr_[v] = &g;
    return;
  }
  if (cur == &vgrads_[v]) {
    add_into(vgrads_[v], g, vgrads_[v]);
    return;
  }
  add_into(*cur, g, vgrads_[v]);
  gptr_[v] = &vgrads_[v];
}

const Tensor& Model::backward(const Tensor& dlogits, bool input_grad, bool param_grads,
                              const GradReadyFn& on_grad_ready, bool accumulate) {
  static const Tensor kEmpty;
  accumulate = accumulate && param_grads;
  if (accumulate) {  // the layers overwrite: keep what is there, add it back per leaf
    accum_.resize({num_params()});
    ops::copy(device_, accum_.data(), work_grads(), num_params());
  }
  std::fill(gptr_.begin(), gptr_.end(), nullptr);
  gptr_[output_] = &dlogits;
  // The input's gradient is only wanted by attacks; any other value's is needed
  // to reach a layer with parameters below it (or the input).
  auto need = [&](int v) { return input_grad || (v != 0 && param_grads && param_upstream_[v]); };
  for (int k = int(steps_.size()) - 1; k >= 0; --k) {
    const Step& st = steps_[k];
    const Tensor* dy = gptr_[st.out];
    if (!dy) continue;  // nothing below this step needs a gradient
    auto t = profiling_ ? Clock::now() : Clock::time_point();
    if (!st.exec) {  // an add passes its gradient to both branches
      if (need(st.in)) add_grad(st.in, *dy);
      if (need(st.in2)) add_grad(st.in2, *dy);
      if (profiling_) prof_bwd_[k] += since(t);
      continue;
    }
    const bool need_dx = need(st.in);
    const bool pg = param_grads && st.has_params;
    if (!need_dx && !pg) continue;
    // Where dx goes: the input's own buffer unless it already holds a
    // gradient there (then a scratch buffer, summed in after).
    const Tensor* prior = need_dx ? gptr_[st.in] : nullptr;
    Tensor* dx = !need_dx ? nullptr : prior == &vgrads_[st.in] ? &scratch_ : &vgrads_[st.in];
    st.exec->backward(value(st.in), vals_[st.out], *dy, dx, pg);
    if (dx == &scratch_) {
      add_into(vgrads_[st.in], scratch_, vgrads_[st.in]);
    } else if (dx) {
      if (prior) add_into(vgrads_[st.in], *prior, vgrads_[st.in]);  // prior: a gradient passed on by an add
      gptr_[st.in] = &vgrads_[st.in];
    }
    if (profiling_) prof_bwd_[k] += since(t);
    if (pg)  // per leaf, last to first, as without fusion
      for (int i = st.last; i >= st.first; --i) {
        if (!layers_[i]->has_params()) continue;
        if (accumulate) {
          auto [b, e] = layer_ranges_[i];
          ops::accumulate(device_, work_grads() + b, accum_.data() + b, e - b);
        }
        if (on_grad_ready) on_grad_ready(i);
      }
  }
  return input_grad && gptr_[0] ? *gptr_[0] : kEmpty;
}

}  // namespace rampart
