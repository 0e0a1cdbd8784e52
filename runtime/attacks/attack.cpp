// The attack engine (see attack.h): restarts of [start, K x (objective, stopping rules,
// input gradient, step and projection)], keeping the last or the best iterate.
#include "runtime/attacks/attack.h"

#include <algorithm>
#include <cstring>

#include "kernels/dispatch/ops.h"

#include "runtime/attacks/threat_ball.h"
#include "runtime/errors.h"

namespace rampart {

const Objective& Attacker::objective(const std::string& name) {
  if (!objective_ || objective_->name() != name) objective_ = make_objective(name);
  return *objective_;
}

AttackStats Attacker::run(Model& model, const Tensor& x, const int32_t* labels, const AttackConfig& cfg,
                          const RandomKey& key, Tensor& x_adv, const CarriedStart* carried) {
  AttackStats st;
  const Device d = model.device();
  for (Tensor* t : {&x_adv, &x_cur_, &dlogits_, &reference_, &loss_}) t->set_device(d);
  correct_.set_device(d);
  x_adv.resize(x.shape());
  if (cfg.eps == 0) {  // nothing to search: the clean point is the answer
    ops::copy(d, x_adv.data(), x.data(), x.size());
    return st;
  }
  // Every pass of the attack (the reference forward included) at its precision.
  PassPrecision precision(model, cfg.precision);
  // Losses of two predictions (TRADES) compare each iterate's with the clean input's.
  has_reference_ = objective(cfg.objective).needs_reference();
  if (has_reference_) reference_.copy_from(model.forward(x, Mode::kEval));
  if (cfg.keep_best) best_.reset(x.shape(), d);
  for (int r = 0; r < cfg.restarts; ++r) {
    RandomKey k = key;
    k.sub = key.sub * 1000003ull + uint64_t(r);  // each restart its own start
    start(x, cfg, k, r == 0 ? carried : nullptr);
    one_restart(model, x, labels, cfg, st);
  }
  if (cfg.keep_best) {
    ops::copy(d, x_adv.data(), best_.best().data(), x.size());
    st.fooled = best_.fooled();
  } else {
    ops::copy(d, x_adv.data(), x_cur_.data(), x.size());
  }
  return st;
}

// x_cur_ = the restart's first iterate: random in the ball or the clean point, then the
// carried offsets where there are some.
void Attacker::start(const Tensor& x, const AttackConfig& cfg, const RandomKey& key, const CarriedStart* carried) {
  const int64_t n = x.dim(0), dim = x.size() / n;
  const Device d = x.device();
  const ThreatBall& ball = threat_ball(cfg.norm);
  x_cur_.resize(x.shape());
  const float radius = cfg.start_radius >= 0 ? std::min(cfg.start_radius, cfg.eps) : cfg.eps;
  if (cfg.random_start) ball.random_start(d, x_cur_.data(), x.data(), n, dim, radius, key);
  else ops::copy(d, x_cur_.data(), x.data(), x.size());
  if (carried && carried->delta && carried->has) {
    try {
      ball.place_offsets(d, x_cur_.data(), x.data(), carried->delta, carried->has, n, dim, cfg.eps);
    } catch (const ConfigError& e) {
      throw ConfigError(cfg.name + ": " + e.what());
    }
  }
}

ObjectiveTotals Attacker::score(const Tensor& logits, const int32_t* labels, bool with_grad) {
  const int64_t n = logits.dim(0), k = logits.dim(1);
  loss_.resize({n});
  correct_.resize(n);
  LossOutput out;
  if (with_grad) {
    // Gradient of the summed loss: each example's gradient is its own (sign() and the L2
    // normalisation make the scale irrelevant anyway).
    dlogits_.resize(logits.shape());
    out.grad_scale = 1.f;
    out.dlogits = dlogits_.data();
  } else {
    out.grad_scale = 0.f;
  }
  out.per_loss = loss_.data();
  out.correct = correct_.data();
  return objective_->evaluate({logits.data(), labels, n, k, has_reference_ ? reference_.data() : nullptr,
                               logits.device()},
                              out);
}

void Attacker::one_restart(Model& model, const Tensor& x, const int32_t* labels, const AttackConfig& cfg,
                           AttackStats& st) {
  const int64_t n = x.dim(0), dim = x.size() / n;
  const ThreatBall& ball = threat_ball(cfg.norm);
  early_.reset(cfg.early_stop_tau, n);
  for (int t = 0; t < cfg.steps; ++t) {
    const Tensor& logits = model.forward(x_cur_, cfg.bn_batch_stats ? Mode::kTrain : Mode::kEval);
    const ObjectiveTotals tot = score(logits, labels, /*with_grad=*/true);
    st.step_loss.push_back(tot.loss_sum / double(n));
    if (cfg.keep_best) best_.consider(x_cur_, loss_.data(), correct_.data());
    if (early_.on()) early_.apply(x.device(), correct_.data(), dlogits_.data(), n, logits.dim(1));
    const Tensor& g = model.backward(dlogits_, /*input_grad=*/true, /*param_grads=*/false);
    ++st.passes;
    ball.step(x.device(), x_cur_.data(), g.data(), x.data(), n, dim, cfg.alpha, cfg.eps);
  }
  if (cfg.keep_best) {  // the last iterate has not been scored yet
    score(model.forward(x_cur_, cfg.bn_batch_stats ? Mode::kTrain : Mode::kEval), labels, /*with_grad=*/false);
    best_.consider(x_cur_, loss_.data(), correct_.data());
  }
}

}  // namespace rampart
