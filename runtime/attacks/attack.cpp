// The PGD family of attacks (see attack.h).
#include "runtime/attacks/attack.h"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "kernels/cpu/pgd.h"
#include "kernels/cpu/softmax_xent.h"
#include "runtime/errors.h"

namespace rampart {

static std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

void validate(const AttackConfig& c, const std::string& where) {
  auto bad = [&](const std::string& what) { throw ConfigError(where + ": " + what); };
  if (!(c.eps >= 0) || !std::isfinite(c.eps)) bad("eps must be a number >= 0, found " + num(c.eps));
  if (c.steps < 1)
    bad("steps must be >= 1, found " + std::to_string(c.steps) +
        (where.find("training") != std::string::npos ? " (use --attack none for clean training)" : ""));
  if (!(c.alpha > 0) || !std::isfinite(c.alpha)) bad("step size must be > 0, found " + num(c.alpha));
  if (c.restarts < 1) bad("restarts must be >= 1, found " + std::to_string(c.restarts));
  if (c.norm == Norm::kLinf && c.eps > 1) bad("eps must be <= 1 for pixels in [0,1], found " + num(c.eps));
}

AttackConfig fgsm_config(float eps) {
  AttackConfig c;
  c.name = "fgsm"; c.eps = eps; c.alpha = eps > 0 ? eps : 1e-12f; c.steps = 1; c.random_start = false;
  return c;
}

AttackConfig fgsm_rs_config(float eps) {
  AttackConfig c;
  c.name = "fgsm-rs"; c.eps = eps; c.alpha = eps > 0 ? 1.25f * eps : 1e-12f; c.steps = 1; c.random_start = true;
  return c;
}

AttackConfig pgd_config(float eps, float alpha, int steps, int restarts) {
  AttackConfig c;
  c.name = "pgd"; c.eps = eps; c.alpha = alpha; c.steps = steps; c.restarts = restarts; c.random_start = true;
  return c;
}

AttackStats Attacker::run(Model& model, const Tensor& x, const int32_t* labels, const AttackConfig& cfg,
                          const RandomKey& key, Tensor& x_adv, const CarriedStart* carried) {
  AttackStats st;
  const int64_t n = x.dim(0);
  x_adv.resize(x.shape());
  if (cfg.eps == 0) {  // nothing to search: the clean point is the answer
    std::memcpy(x_adv.data(), x.data(), x.size() * sizeof(float));
    return st;
  }
  if (cfg.keep_best) {
    best_x_.resize(x.shape());
    best_loss_.assign(n, -INFINITY);
    best_fooled_.assign(n, 0);
  }
  for (int r = 0; r < cfg.restarts; ++r) {
    RandomKey k = key;
    k.sub = key.sub * 1000003ull + uint64_t(r);  // each restart its own start
    x_cur_.resize(x.shape());
    one_restart(model, x, labels, cfg, k, x_cur_, st, r == 0 ? carried : nullptr);
  }
  if (cfg.keep_best) {
    std::memcpy(x_adv.data(), best_x_.data(), x.size() * sizeof(float));
    for (int64_t e = 0; e < n; ++e) st.fooled += best_fooled_[e];
  } else {
    std::memcpy(x_adv.data(), x_cur_.data(), x.size() * sizeof(float));
  }
  return st;
}

// Records, per example, the iterate x_cur if it beats the best so far:
// misclassified beats correctly classified, then higher loss wins.
void Attacker::consider(const Tensor& x_cur, const Tensor& logits, const int32_t* labels, int64_t n) {
  const int64_t k = logits.dim(1), dim = x_cur.size() / n;
  loss_.resize(n);
  correct_.resize(n);
  kernels::softmax_xent_cpu(logits.data(), labels, n, k, 0.f, nullptr, loss_.data(), correct_.data());
  for (int64_t e = 0; e < n; ++e) {
    uint8_t fooled = !correct_[e];
    bool better = fooled > best_fooled_[e] || (fooled == best_fooled_[e] && loss_[e] > best_loss_[e]);
    if (better) {
      best_fooled_[e] = fooled;
      best_loss_[e] = loss_[e];
      std::memcpy(best_x_.data() + e * dim, x_cur.data() + e * dim, dim * sizeof(float));
    }
  }
}

void Attacker::one_restart(Model& model, const Tensor& x, const int32_t* labels, const AttackConfig& cfg,
                           const RandomKey& key, Tensor& xc, AttackStats& st, const CarriedStart* carried) {
  const int64_t n = x.dim(0), dim = x.size() / n, size = x.size();
  if (cfg.random_start) {
    if (cfg.norm == Norm::kLinf)
      kernels::random_start_cpu(xc.data(), x.data(), size, cfg.eps, key.seed, uint32_t(key.stream), key.sub,
                                key.first_example * dim);
    else
      kernels::random_start_l2_cpu(xc.data(), x.data(), n, dim, cfg.eps, key.seed, uint32_t(key.stream), key.sub,
                                   key.first_example);
  } else {
    std::memcpy(xc.data(), x.data(), size * sizeof(float));
  }
  if (carried && carried->delta && carried->has) {
    if (cfg.norm != Norm::kLinf) throw ConfigError(cfg.name + ": carried starts need the L-inf norm");
    kernels::carried_start_cpu(xc.data(), x.data(), carried->delta, carried->has, n, dim, cfg.eps);
  }
  const bool early = cfg.early_stop_tau >= 0;
  if (early) stop_in_.assign(n, -1);
  for (int t = 0; t < cfg.steps; ++t) {
    const Tensor& logits = model.forward(xc, Mode::kEval);
    const int64_t k = logits.dim(1);
    dlogits_.resize(logits.shape());
    loss_.resize(n);
    correct_.resize(n);
    // Gradient of the summed loss: each example's gradient is its own (sign() and
    // the L2 normalisation make the scale irrelevant anyway).
    auto tot = kernels::softmax_xent_cpu(logits.data(), labels, n, k, 1.f, dlogits_.data(), loss_.data(),
                                         correct_.data());
    st.step_loss.push_back(tot.loss_sum / double(n));
    if (cfg.keep_best) consider(xc, logits, labels, n);
    if (early) {
      // Examples already fooled get tau more steps, then stop moving (zero gradient rows).
      for (int64_t e = 0; e < n; ++e) {
        if (!correct_[e] && stop_in_[e] < 0) stop_in_[e] = cfg.early_stop_tau;
        if (stop_in_[e] == 0) std::memset(dlogits_.data() + e * k, 0, k * sizeof(float));
        else if (stop_in_[e] > 0) --stop_in_[e];
      }
    }
    const Tensor& g = model.backward(dlogits_, /*input_grad=*/true, /*param_grads=*/false);
    ++st.passes;
    if (cfg.norm == Norm::kLinf)
      kernels::pgd_linf_step_cpu(xc.data(), g.data(), x.data(), size, cfg.alpha, cfg.eps);
    else
      kernels::pgd_l2_step_cpu(xc.data(), g.data(), x.data(), n, dim, cfg.alpha, cfg.eps);
  }
  if (cfg.keep_best) consider(xc, model.forward(xc, Mode::kEval), labels, n);
}

}  // namespace rampart
