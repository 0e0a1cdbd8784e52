// The policies (fixed, budgeted, adaptive) fitted to the budget, re-planning, and the
// adaptive controller. Every plan's rows + reserve fit the budget left after what was spent.
#include "cluster/schedule/schedule_policy.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "runtime/errors.h"

namespace rampart {

Policy parse_policy(const std::string& name) {
  if (name == "fixed") return Policy::kFixed;
  if (name == "budgeted") return Policy::kBudgeted;
  if (name == "adaptive") return Policy::kAdaptive;
  throw ConfigError("--schedule expects fixed, budgeted or adaptive, found '" + name +
                    "'; give e.g. --schedule budgeted");
}

std::string to_string(Policy p) {
  switch (p) {
    case Policy::kFixed: return "fixed";
    case Policy::kBudgeted: return "budgeted";
    case Policy::kAdaptive: return "adaptive";
  }
  return "?";
}

const PlanRow* Plan::row(int epoch) const {
  for (const auto& r : rows)
    if (r.epoch == epoch) return &r;
  return nullptr;
}

namespace {

// Epochs spent ramping eps up; the last epoch is always at eps_target.
int ramp_epochs(const PlanInput& in, int epochs) {
  // Carried perturbations grow over the epochs by themselves: an eps ramp on top of
  // them only spends epochs at a smaller radius.
  if (epochs <= 1 || in.carry) return 0;
  return std::clamp(int(std::lround(in.eps_ramp_fraction * epochs)), 0, epochs - 1);
}

void check_input(const PlanInput& in) {
  auto bad = [](const std::string& what, double found, const std::string& fix) {
    std::ostringstream s;
    s << what << ", found " << found << "; " << fix;
    throw ConfigError(s.str());
  };
  if (!(in.eps_target > 0) || !std::isfinite(in.eps_target)) bad("--eps must be positive", in.eps_target, "give e.g. --eps 0.1");
  if (in.epochs < 1) bad("--epochs must be at least 1", in.epochs, "give e.g. --epochs 5");
  if (in.steps_per_epoch < 1) bad("steps per epoch must be at least 1", double(in.steps_per_epoch), "check --data and the batch size");
  if (in.world < 1) bad("--ranks must be at least 1", in.world, "give e.g. --ranks 2");
  if (in.fixed_k < 1) bad("--steps (K) must be at least 1", in.fixed_k, "give e.g. --steps 7");
  if (in.max_k < 1) bad("--max-steps must be at least 1", in.max_k, "give e.g. --max-steps 10");
  if (in.alpha_at_target && !(*in.alpha_at_target > 0)) bad("--alpha must be positive", *in.alpha_at_target, "give e.g. --alpha 0.025");
  validate(in.budget, in.price);
}

// Predicted wall seconds of one epoch at K, with the guard's probes and its checkpoints.
double epoch_wall(const PlanInput& in, const CostModel& cost, int K) {
  double w = cost.predict_epoch_wall(K, in.world, in.steps_per_epoch, in.eval_images_per_epoch) +
             in.checkpoint_writes_per_epoch * cost.checkpoint_write_s();
  if (in.probe.interval_steps > 0) {
    // A probe: probe.steps attack passes + one forward (counted as one more attack pass,
    // slightly high) over probe.images split across the ranks.
    const double attack_pass = cost.predict_step(1, 1) - cost.predict_step(0, 1);
    const double batches = in.probe.images / double(std::max(1, cost.base_costs().local_batch) * in.world);
    const double probes = double(in.steps_per_epoch / in.probe.interval_steps);
    w += probes * batches * (in.probe.steps + 1) * attack_pass;
  }
  return w;
}

// K of the budgeted ramp with peak P: FGSM with random start while eps is still ramping
// (small perturbations are found well by one step), then from PGD-2 up to PGD-P in the last
// epoch. Robustness at the target eps is bought mostly by the final epochs, so that is where
// the steps go; early steps at low eps would buy little.
int shape_k(const PlanInput& in, int epoch, int epochs, int P) {
  const int R = ramp_epochs(in, epochs);
  int k;
  if (epoch < R) {
    k = 1;
  } else if (epochs - 1 == R) {
    k = P;
  } else {
    const int k0 = std::min(2, P);
    k = int(std::lround(k0 + double(P - k0) * (epoch - R) / double(epochs - 1 - R)));
  }
  return k;
}

// Fills rows for epochs [first, first + Ks.size()).
void fill_rows(Plan& plan, const PlanInput& in, const CostModel& cost, int epochs, const std::vector<int>& Ks) {
  Spend cum = plan.spent_before;
  for (size_t i = 0; i < Ks.size(); ++i) {
    PlanRow r;
    r.epoch = plan.first_epoch + int(i);
    r.eps = in.policy == Policy::kFixed ? in.eps_target : curriculum_eps(in, r.epoch, epochs);
    r.K = Ks[i];
    r.alpha = step_size(in, r.eps, r.K);
    const Spend s = spend_of(epoch_wall(in, cost, r.K), in.world, in.price);
    r.wall_s = s.wall_s; r.gpu_hours = s.gpu_hours; r.usd = s.usd;
    cum = cum + s;
    r.cum_wall_s = cum.wall_s; r.cum_gpu_hours = cum.gpu_hours; r.cum_usd = cum.usd;
    plan.rows.push_back(r);
  }
  plan.total = cum + plan.reserve;
}

double sum_wall(const PlanInput& in, const CostModel& cost, const std::vector<int>& Ks) {
  double w = 0;
  for (int k : Ks) w += epoch_wall(in, cost, k);
  return w;
}

std::string describe_budget(const Budget& b) {
  std::ostringstream s;
  const char* sep = "";
  if (b.usd) { s << sep << "--budget-usd " << *b.usd; sep = ", "; }
  if (b.gpu_hours) { s << sep << "--budget-gpu-hours " << *b.gpu_hours; sep = ", "; }
  if (b.hours) { s << sep << "--budget-hours " << *b.hours; }
  return s.str();
}

// The plan for epochs [first, in.epochs) given what was spent; throws only for a first plan
// in which not a single epoch fits (a budget that cannot train is a configuration error).
Plan build(const PlanInput& in, int first, const Spend& spent, const CostModel& cost) {
  Plan plan;
  plan.input = in;
  plan.input.cost = cost;
  plan.first_epoch = first;
  plan.epochs_requested = in.epochs;
  plan.spent_before = spent;
  plan.priced = in.price.has_value();
  plan.early_stop = in.early_stop;
  plan.reserve = spend_of(reserve_wall_s(in.reserve, cost, in.world), in.world, in.price);

  const double allowed = wall_seconds_allowed(in.budget, spent, in.world, in.price);
  const double safety = std::clamp(in.reserve.safety_fraction, 0.0, 0.99);
  plan.allowance_wall_s = std::max(0.0, (allowed - plan.reserve.wall_s) * (1.0 - safety));
  const double allow = plan.allowance_wall_s;

  const int remaining = std::max(0, in.epochs - first);
  const int floor_k = std::max(1, in.k_floor);
  const int base_k = in.policy == Policy::kFixed ? std::max(in.fixed_k, floor_k) : floor_k;
  // Epochs that fit at the cheapest K this policy may use.
  const double cheapest = epoch_wall(in, cost, base_k);
  int n = remaining;
  if (std::isfinite(allow)) n = int(std::min<double>(remaining, std::floor(allow / cheapest * (1 + 1e-12))));
  while (n > 0 && n * cheapest > allow) --n;  // guard the rounding above
  n = std::max(0, n);
  plan.epochs_that_fit = first + n;
  const int epochs = first + n;  // the run's length if it is cut: the curriculum ends there

  if (n < remaining) {
    std::ostringstream s;
    s << "the budget covers " << n << " of the " << remaining << " remaining epochs at K=" << base_k
      << " (" << cheapest << " s each, " << allow << " s allowed after the reserve); the run stops early";
    plan.note = s.str();
  }
  // Only a budget that could never train is a configuration error: when the set-up (spent
  // before the first plan) has used the room for an epoch, the plan is empty and the run
  // stops for its final evaluation.
  const bool setup_ate_it =
      n == 0 && first == 0 && spent.wall_s > 0 &&
      (wall_seconds_allowed(in.budget, Spend{}, in.world, in.price) - plan.reserve.wall_s) * (1.0 - safety) >= cheapest;
  if (setup_ate_it) {
    std::ostringstream s;
    s << "the set-up spent " << spent.wall_s << " s; what is left of the budget (" << allow
      << " s after the reserve) does not cover one epoch at K=" << base_k << " (" << cheapest
      << " s): the run stops for its final evaluation";
    plan.note = s.str();
  }
  if (n == 0 && first == 0 && !setup_ate_it) {
    const double need_wall = cheapest / (1.0 - safety) + plan.reserve.wall_s;
    const Spend need = spend_of(need_wall, in.world, in.price);
    std::ostringstream s;
    s << "the budget (" << describe_budget(in.budget) << ") does not cover one epoch at K=" << base_k
      << " plus the final evaluation on " << in.world << " ranks: expected at least ";
    if (in.price) s << "$" << need.usd << ", ";
    s << need.gpu_hours << " GPU-hours, " << need.wall_s / 3600.0
      << " hours; raise the budget, use fewer ranks or fewer steps";
    throw ConfigError(s.str());
  }

  std::vector<int> Ks(n, base_k);
  if (in.policy != Policy::kFixed && n > 0) {
    const int max_k = std::max(in.max_k, floor_k);
    auto ks_for = [&](int P) {
      std::vector<int> v(n);
      for (int i = 0; i < n; ++i) v[i] = std::clamp(shape_k(in, first + i, epochs, P), floor_k, max_k);
      return v;
    };
    // The largest peak whose whole ramp fits (cost is monotone in P).
    int P = 1;
    for (int p = max_k; p >= 1; --p)
      if (sum_wall(in, cost, ks_for(p)) <= allow) { P = p; break; }
    Ks = ks_for(P);
    // Spend what is left on single extra steps, latest epochs first, keeping K non-decreasing
    // and below the next ramp: the epochs at full eps are where a step buys robustness.
    double used = sum_wall(in, cost, Ks);
    const std::vector<int> next = ks_for(std::min(P + 1, max_k));
    for (int i = n - 1; i >= 0; --i) {
      if (Ks[i] >= next[i] || (i + 1 < n && Ks[i] + 1 > Ks[i + 1])) continue;
      const double extra = epoch_wall(in, cost, Ks[i] + 1) - epoch_wall(in, cost, Ks[i]);
      if (used + extra > allow) break;  // earlier epochs are no cheaper per step
      ++Ks[i];
      used += extra;
    }
    if (P < max_k && plan.note.empty()) {
      std::ostringstream s;
      s << "the budget limits the attack to K=" << Ks.back() << " in the last epoch (max " << max_k << ")";
      plan.note = s.str();
    }
  }
  fill_rows(plan, in, cost, epochs, Ks);
  return plan;
}

}  // namespace

double curriculum_eps(const PlanInput& in, int epoch, int epochs) {
  if (in.policy == Policy::kFixed) return in.eps_target;
  const int R = ramp_epochs(in, epochs);
  if (epoch >= R) return in.eps_target;
  const double s = std::clamp(in.eps_start_fraction, 0.0, 1.0);
  return in.eps_target * (s + (1.0 - s) * double(epoch) / double(R));
}

double step_size(const PlanInput& in, double eps, int K) {
  if (in.alpha_at_target) return *in.alpha_at_target * eps / in.eps_target;
  if (in.carry) return in.carry_alpha_factor * eps / std::max(1, K);
  if (K <= 1) return in.fgsm_alpha_factor * eps;
  return in.alpha_factor * eps / K;
}

Plan make_plan(const PlanInput& in) {
  check_input(in);
  return build(in, 0, in.spent_before, in.cost);
}

Plan replan(const Plan& previous, int completed_epochs, const Spend& spent, const CostModel& updated, int k_floor) {
  PlanInput in = previous.input;
  in.k_floor = std::max(in.k_floor, k_floor);
  // Epochs cut by an earlier plan stay cut only if the money still says so: the new plan
  // is fitted from the original request again.
  return build(in, std::clamp(completed_epochs, 0, in.epochs), spent, updated);
}

double headroom_s(const Plan& p) {
  double planned = 0;
  for (const auto& r : p.rows) planned += r.wall_s;
  return p.allowance_wall_s - planned;
}

double extra_step_cost_s(const CostModel& cost, int world, int64_t steps) {
  return double(steps) * (cost.predict_step(2, world) - cost.predict_step(1, world));
}

AdaptiveDecision AdaptiveController::decide(int current_k, const AdaptiveSignal& s, double headroom_s,
                                            double extra_step_cost_s) const {
  const int k = std::clamp(current_k, cfg_.min_k, cfg_.max_k);
  int want = 0;
  std::ostringstream why;
  if (s.last_over_first_gain) {
    const double g = *s.last_over_first_gain;
    want = g > cfg_.add_above ? 1 : (g < cfg_.remove_below ? -1 : 0);
    why << "last/first step loss gain " << g;
  } else if (s.fosc) {
    const double f = *s.fosc;
    want = f > cfg_.fosc_add_above ? 1 : (f < cfg_.fosc_remove_below ? -1 : 0);
    why << "FOSC " << f;
  } else {
    return {k, "no signal"};
  }
  if (want > 0) {
    if (k >= cfg_.max_k) return {k, why.str() + ": attack not converged, but K is at its maximum"};
    if (headroom_s < extra_step_cost_s) return {k, why.str() + ": attack not converged, but the budget has no room"};
    return {k + 1, why.str() + ": attack not converged, one more step"};
  }
  if (want < 0 && k > cfg_.min_k) return {k - 1, why.str() + ": attack converged, one step fewer"};
  return {k, why.str() + ": keep K"};
}

}  // namespace rampart
