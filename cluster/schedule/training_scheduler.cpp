// The trainer's scheduler state machine (see training_scheduler.h).
#include "cluster/schedule/training_scheduler.h"

#include "cluster/schedule/plan_table.h"
#include "runtime/errors.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace rampart {

std::array<double, Decision::kPacked> Decision::pack() const {
  return {eps, alpha, double(K), stop ? 1.0 : 0.0, double(lr_total_steps), double(rollback_to_step)};
}

Decision Decision::unpack(const double* v) {
  Decision d;
  d.eps = v[0];
  d.alpha = v[1];
  d.K = int(std::lround(v[2]));
  d.stop = v[3] != 0;
  d.lr_total_steps = int64_t(std::llround(v[4]));
  d.rollback_to_step = int64_t(std::llround(v[5]));
  return d;
}

Decision decision_from_row(const PlanRow& r, const Plan& plan) {
  Decision d;
  d.eps = r.eps;
  d.alpha = r.alpha;
  d.K = r.K;
  d.lr_total_steps = int64_t(plan.epochs_that_fit) * plan.input.steps_per_epoch;
  return d;
}

TrainingScheduler::TrainingScheduler(SchedulerSetup setup)
    : setup_(setup), cost_(setup.plan.cost), guard_(setup.guard), adaptive_(setup.adaptive) {
  first_plan_ = plan_ = make_plan(setup_.plan);
}

Decision TrainingScheduler::row_decision(int epoch) const {
  const PlanRow* r = plan_.row(epoch);
  if (!r) {
    Decision d;
    d.stop = true;
    d.eps = setup_.plan.eps_target;
    d.lr_total_steps = int64_t(std::max(1, plan_.epochs_that_fit)) * setup_.plan.steps_per_epoch;
    return d;
  }
  return decision_from_row(*r, plan_);
}

Decision TrainingScheduler::epoch_decision(int epoch) const { return row_decision(epoch); }

void TrainingScheduler::end_epoch(int completed_epochs, int K, double step_s, const Spend& spent) {
  cost_.update_step(K, setup_.plan.world, step_s);
  plan_ = replan(plan_, completed_epochs, spent, cost_, guard_.k_floor());
}

Decision TrainingScheduler::on_probe(int64_t step, double acc, int current_k, const Spend& spent) {
  const GuardDecision g = guard_.observe(step, acc, current_k);
  guard_reason_ = g.reason;
  Decision d;
  d.rollback_to_step = -1;
  if (g.action == GuardAction::kOk) return d;  // rollback_to_step -1: nothing changes
  const int64_t to = std::max<int64_t>(0, g.rollback_to_step);
  const int epoch = int(to / std::max<int64_t>(1, setup_.plan.steps_per_epoch));
  if (g.action == GuardAction::kRollback) {
    plan_ = replan(plan_, epoch, spent, cost_, guard_.k_floor());
    d = row_decision(epoch);  // stop = true when redoing the lost steps no longer fits
  } else {
    d = row_decision(epoch);
    d.stop = true;
  }
  d.rollback_to_step = to;
  return d;
}

Decision TrainingScheduler::adapt(const Decision& current, const AdaptiveSignal& s, int64_t steps_left) {
  adapt_reason_.clear();
  if (policy() != Policy::kAdaptive || current.stop) return current;
  AdaptiveConfig cfg = setup_.adaptive;
  cfg.min_k = std::max(cfg.min_k, guard_.k_floor());
  cfg.max_k = std::max(cfg.min_k, std::min(cfg.max_k, setup_.plan.max_k));
  // Headroom: what the plan leaves unused, less what steps added earlier in this epoch cost.
  const int world = setup_.plan.world;
  const double per_step = extra_step_cost_s(cost_, world, steps_left);
  const PlanRow* row = plan_.rows.empty() ? nullptr : &plan_.rows.front();
  const int planned_k = row ? row->K : current.K;
  const double room = headroom_s(plan_) - std::max(0, current.K - planned_k) * per_step;
  const AdaptiveDecision a = AdaptiveController(cfg).decide(current.K, s, room, per_step);
  adapt_reason_ = a.reason;
  Decision d = current;
  d.K = a.K;
  d.alpha = step_size(setup_.plan, d.eps, d.K);
  return d;
}

bool TrainingScheduler::must_stop(const Spend& spent, int K) const {
  const auto& in = setup_.plan;
  if (!in.budget.limited()) return false;
  const double remaining = wall_seconds_allowed(in.budget, spent, in.world, in.price);
  double need = plan_.reserve.wall_s * 1.1 + 2 * cost_.predict_step(K, in.world);
  if (in.probe.interval_steps > 0) {
    const double attack_pass = cost_.predict_step(1, 1) - cost_.predict_step(0, 1);
    const double batches = std::ceil(in.probe.images / double(std::max(1, cost_.base_costs().local_batch) * in.world));
    need += batches * (in.probe.steps + 1) * attack_pass;
  }
  return remaining < need;
}

nlohmann::json TrainingScheduler::report(const Spend& spent, int completed_epochs) const {
  const bool priced = setup_.plan.price.has_value();
  auto usd = [&](double v) { return priced ? nlohmann::json(v) : nlohmann::json(nullptr); };
  // The first plan's cumulative prediction at this point ("spent against plan").
  Spend planned;
  for (const auto& r : first_plan_.rows)
    if (r.epoch < completed_epochs) planned = Spend{r.cum_usd, r.cum_gpu_hours, r.cum_wall_s};
  nlohmann::json j = {{"policy", to_string(policy())},
                      {"spent_usd", usd(spent.usd)},
                      {"spent_gpu_hours", spent.gpu_hours},
                      {"spent_hours", spent.wall_s / 3600.0},
                      {"planned_usd", usd(planned.usd)},
                      {"planned_gpu_hours", planned.gpu_hours},
                      {"planned_hours", planned.wall_s / 3600.0},
                      {"plan_total_usd", usd(plan_.total.usd)},
                      {"plan_total_gpu_hours", plan_.total.gpu_hours},
                      {"plan_total_hours", plan_.total.wall_s / 3600.0},
                      {"epochs_that_fit", plan_.epochs_that_fit},
                      {"k_floor", guard_.k_floor()},
                      {"rollbacks", guard_.rollbacks().size()},
                      {"budget", rampart::to_json(setup_.plan.budget)}};
  return j;
}

namespace {

nlohmann::json row_to_json(const PlanRow& r) {
  return {{"epoch", r.epoch}, {"eps", r.eps}, {"K", r.K}, {"alpha", r.alpha},
          {"wall_s", r.wall_s}, {"gpu_hours", r.gpu_hours}, {"usd", r.usd},
          {"cum_wall_s", r.cum_wall_s}, {"cum_gpu_hours", r.cum_gpu_hours}, {"cum_usd", r.cum_usd}};
}

PlanRow row_from_json(const nlohmann::json& j) {
  PlanRow r;
  r.epoch = j.at("epoch");
  r.eps = j.at("eps");
  r.K = j.at("K");
  r.alpha = j.at("alpha");
  r.wall_s = j.at("wall_s"); r.gpu_hours = j.at("gpu_hours"); r.usd = j.at("usd");
  r.cum_wall_s = j.at("cum_wall_s"); r.cum_gpu_hours = j.at("cum_gpu_hours"); r.cum_usd = j.at("cum_usd");
  return r;
}

}  // namespace

nlohmann::json TrainingScheduler::to_json(const Spend& spent, const Decision& current, int completed_epochs) const {
  // The first plan as runs of epochs planned alike (a checkpoint stays small for any --epochs).
  nlohmann::json first = nlohmann::json::array();
  for (const PlanRun& run : plan_runs(first_plan_.rows)) {
    nlohmann::json j = row_to_json(*run.first);
    j["epochs"] = run.epochs();
    first.push_back(j);
  }
  const auto packed = current.pack();
  return {{"version", 1},
          {"policy", to_string(policy())},
          {"cost_model", cost_.to_json()},
          {"guard", guard_.to_json()},
          {"spent", rampart::to_json(spent)},
          {"completed_epochs", completed_epochs},
          {"decision", std::vector<double>(packed.begin(), packed.end())},
          {"first_plan_runs", first},
          {"first_plan_total", rampart::to_json(first_plan_.total)},
          {"first_plan_epochs_that_fit", first_plan_.epochs_that_fit}};
}

TrainingScheduler TrainingScheduler::from_json(const nlohmann::json& j, SchedulerSetup setup) {
  TrainingScheduler s;
  s.setup_ = setup;
  s.cost_ = CostModel::from_json(j.at("cost_model"));
  s.setup_.plan.cost = s.cost_;
  s.guard_ = OverfitGuard::from_json(j.at("guard"));
  s.adaptive_ = AdaptiveController(setup.adaptive);
  const Spend spent = spent_in(j);
  // The plan from where the run stopped, as the uninterrupted run re-plans at that point.
  Plan seed;
  seed.input = s.setup_.plan;
  s.plan_ = replan(seed, j.value("completed_epochs", 0), spent, s.cost_, s.guard_.k_floor());
  s.first_plan_ = s.plan_;
  s.first_plan_.rows.clear();
  // Runs expand to one row per epoch, each epoch adding the run's per-epoch cost; checkpoints
  // written before runs hold one row per epoch ("first_plan_rows").
  for (const auto& r : j.value("first_plan_rows", nlohmann::json::array())) s.first_plan_.rows.push_back(row_from_json(r));
  for (const auto& run : j.value("first_plan_runs", nlohmann::json::array())) {
    PlanRow r = row_from_json(run);
    const int n = run.at("epochs").get<int>();
    if (n < 1 || n > 10000000) throw DataError("checkpoint scheduler state: a plan run of " + std::to_string(n) + " epochs");
    for (int k = 0; k < n; ++k) {
      s.first_plan_.rows.push_back(r);
      r.epoch += 1;
      r.cum_wall_s += r.wall_s;
      r.cum_gpu_hours += r.gpu_hours;
      r.cum_usd += r.usd;
    }
  }
  if (j.contains("first_plan_total")) s.first_plan_.total = spend_from_json(j.at("first_plan_total"));
  s.first_plan_.epochs_that_fit = j.value("first_plan_epochs_that_fit", s.plan_.epochs_that_fit);
  return s;
}

Spend TrainingScheduler::spent_in(const nlohmann::json& j) {
  return j.contains("spent") ? spend_from_json(j.at("spent")) : Spend{};
}

std::optional<Decision> TrainingScheduler::decision_in(const nlohmann::json& j) {
  if (!j.contains("decision")) return std::nullopt;
  const std::vector<double> v = j.at("decision").get<std::vector<double>>();
  if (v.size() != Decision::kPacked) return std::nullopt;
  return Decision::unpack(v.data());
}

}  // namespace rampart
