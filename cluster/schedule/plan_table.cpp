// Formatting of a Plan as a fixed-width table and as the `rampart plan --json` object.
#include "cluster/schedule/plan_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace rampart {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string duration(double s) {
  if (s < 120) return fmt("%.1fs", s);
  if (s < 7200) return fmt("%.1fm", s / 60);
  return fmt("%.2fh", s / 3600);
}

std::string money(const Plan& p, double usd) { return p.priced ? fmt("%.2f", usd) : "-"; }

std::string epochs_label(const PlanRun& run) {
  if (run.epochs() == 1) return std::to_string(run.first->epoch + 1);
  return std::to_string(run.first->epoch + 1) + "-" + std::to_string(run.last->epoch + 1);
}

}  // namespace

std::vector<PlanRun> plan_runs(const std::vector<PlanRow>& rows) {
  std::vector<PlanRun> out;
  for (const PlanRow& r : rows) {
    if (!out.empty()) {
      const PlanRow& a = *out.back().last;
      const bool same = a.epoch + 1 == r.epoch && a.eps == r.eps && a.K == r.K && a.alpha == r.alpha &&
                        std::abs(a.wall_s - r.wall_s) <= 1e-9 * std::max(1.0, std::abs(a.wall_s));
      if (same) {
        out.back().last = &r;
        continue;
      }
    }
    out.push_back({&r, &r});
  }
  return out;
}

std::string format_plan_table(const Plan& p) {
  std::ostringstream o;
  const auto& in = p.input;
  o << "policy " << to_string(in.policy) << ", " << in.world << " ranks, " << in.steps_per_epoch
    << " steps/epoch, eps " << in.eps_target << "; " << p.epochs_that_fit << " of " << p.epochs_requested
    << " epochs fit\n";
  char line[256];
  // time, GPU-h and USD are per epoch; the cumulative columns are at the end of each run of epochs.
  std::snprintf(line, sizeof line, "%15s %8s %3s %8s %9s %10s %9s %10s %10s %9s\n", "epoch", "eps", "K", "alpha",
                "time", "GPU-h", "USD", "cum time", "cum GPU-h", "cum USD");
  o << line;
  for (const PlanRun& run : plan_runs(p.rows)) {
    const PlanRow& r = *run.first;
    const PlanRow& e = *run.last;
    std::snprintf(line, sizeof line, "%15s %8.4f %3d %8.4f %9s %10.3f %9s %10s %10.3f %9s\n", epochs_label(run).c_str(),
                  r.eps, r.K, r.alpha, duration(r.wall_s).c_str(), r.gpu_hours, money(p, r.usd).c_str(),
                  duration(e.cum_wall_s).c_str(), e.cum_gpu_hours, money(p, e.cum_usd).c_str());
    o << line;
  }
  std::snprintf(line, sizeof line, "%15s %8s %3s %8s %9s %10.3f %9s\n", "final", "", "", "",
                duration(p.reserve.wall_s).c_str(), p.reserve.gpu_hours, money(p, p.reserve.usd).c_str());
  o << line << "(final evaluation and checkpoint, reserved)\n";
  o << "total: " << duration(p.total.wall_s) << ", " << fmt("%.3f", p.total.gpu_hours) << " GPU-hours";
  if (p.priced) o << ", $" << fmt("%.2f", p.total.usd);
  if (in.budget.limited()) {
    o << "  (budget:";
    if (in.budget.usd) o << " $" << *in.budget.usd;
    if (in.budget.gpu_hours) o << " " << *in.budget.gpu_hours << " GPU-hours";
    if (in.budget.hours) o << " " << *in.budget.hours << " hours";
    o << ")";
  }
  o << "\n";
  if (p.spent_before.wall_s > 0)
    o << "already spent: " << duration(p.spent_before.wall_s) << ", " << fmt("%.3f", p.spent_before.gpu_hours)
      << " GPU-hours" << (p.priced ? ", $" + fmt("%.2f", p.spent_before.usd) : std::string()) << "\n";
  if (!p.note.empty()) o << "note: " << p.note << "\n";
  return o.str();
}

nlohmann::json plan_to_json(const Plan& p) {
  using nlohmann::json;
  json rows = json::array();
  // One row per run of epochs planned alike: "epoch" is its first (0-based), "epochs" how many;
  // wall_s, gpu_hours and usd are per epoch, the cum_ values at the run's last epoch.
  for (const PlanRun& run : plan_runs(p.rows)) {
    const PlanRow& r = *run.first;
    const PlanRow& e = *run.last;
    json jr = {{"epoch", r.epoch},           {"epochs", run.epochs()},
               {"eps", r.eps},               {"K", r.K},
               {"alpha", r.alpha},           {"wall_s", r.wall_s},
               {"gpu_hours", r.gpu_hours},   {"cum_wall_s", e.cum_wall_s},
               {"cum_gpu_hours", e.cum_gpu_hours}};
    jr["usd"] = p.priced ? json(r.usd) : json(nullptr);
    jr["cum_usd"] = p.priced ? json(e.cum_usd) : json(nullptr);
    rows.push_back(jr);
  }
  json j = {{"policy", to_string(p.input.policy)},
            {"world", p.input.world},
            {"eps", p.input.eps_target},
            {"steps_per_epoch", p.input.steps_per_epoch},
            {"epochs_requested", p.epochs_requested},
            {"epochs_that_fit", p.epochs_that_fit},
            {"first_epoch", p.first_epoch},
            {"rows", rows},
            {"budget", to_json(p.input.budget)},
            {"spent_before", to_json(p.spent_before)},
            {"reserve", to_json(p.reserve)},
            {"allowance_s", p.allowance_wall_s},
            {"early_stop", {{"enabled", p.early_stop.enabled}, {"tau", p.early_stop.tau}}},
            {"total_gpu_hours", p.total.gpu_hours},
            {"total_hours", p.total.wall_s / 3600.0},
            {"note", p.note}};
  // What the rows are made of: the calibration (passes and whole steps), the scales the
  // prediction applies to the passes, and the per-epoch overheads.
  const CostModel& c = p.input.cost;
  j["cost_model"] = {{"calibration", c.base_costs().to_json()},
                     {"attack_scale", c.attack_scale()},
                     {"fixed_scale", c.fixed_scale()},
                     {"calibrated_attack_scale", c.calibrated_attack_scale()},
                     {"calibrated_fixed_scale", c.calibrated_fixed_scale()},
                     {"checkpoint_write_s", c.checkpoint_write_s()},
                     {"checkpoint_writes_per_epoch", p.input.checkpoint_writes_per_epoch},
                     {"eval_images_per_epoch", p.input.eval_images_per_epoch},
                     {"probe_interval_steps", p.input.probe.interval_steps}};
  j["total_usd"] = p.priced ? json(p.total.usd) : json(nullptr);
  if (!std::isfinite(p.allowance_wall_s)) j["allowance_s"] = nullptr;
  return j;
}

}  // namespace rampart
