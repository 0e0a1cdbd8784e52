// The overfitting guard's decisions and its (de)serialisation for checkpoints.
#include "cluster/schedule/overfit_guard.h"

#include <algorithm>
#include <sstream>

namespace rampart {

GuardDecision OverfitGuard::observe(int64_t step, double acc, int current_k) {
  GuardDecision d;
  d.new_k = std::max(current_k, k_floor_);
  double recent_max = -1;
  const size_t w = size_t(std::max(1, cfg_.window));
  for (size_t i = good_.size() > w ? good_.size() - w : 0; i < good_.size(); ++i)
    recent_max = std::max(recent_max, good_[i].accuracy);

  // A drop against the recent best, or a fall to chance once the model had learned.
  // Noise in a 256-image probe is a few points, well under max_drop.
  std::ostringstream why;
  bool collapse = false;
  double reference = recent_max;
  if (recent_max >= 0 && acc < recent_max - cfg_.max_drop) {
    collapse = true;
    why << "robust accuracy " << acc << " at step " << step << " fell more than " << cfg_.max_drop
        << " below the best of the last probes (" << recent_max << ")";
  } else if (best_ever_ > cfg_.chance + cfg_.armed_above && acc < cfg_.chance + cfg_.floor_margin) {
    collapse = true;
    reference = best_ever_;
    why << "robust accuracy " << acc << " at step " << step << " fell to chance (" << cfg_.chance
        << ") after reaching " << best_ever_;
  }

  if (!collapse) {
    good_.push_back({step, acc});
    if (good_.size() > w) good_.erase(good_.begin(), good_.end() - long(w));
    best_ever_ = std::max(best_ever_, acc);
    d.reason = "ok";
    return d;
  }

  if (int(rollbacks_.size()) >= cfg_.max_rollbacks) {
    d.action = GuardAction::kExhausted;
    d.rollback_to_step = good_.empty() ? -1 : good_.back().step;
    d.reason = why.str() + "; " + std::to_string(rollbacks_.size()) +
               " rollbacks already: stop and evaluate the last good checkpoint";
    return d;
  }
  const int to_k = std::min(cfg_.max_k, d.new_k + std::max(1, cfg_.k_increment));
  d.action = GuardAction::kRollback;
  d.rollback_to_step = good_.empty() ? 0 : good_.back().step;
  d.new_k = std::max(to_k, d.new_k);
  rollbacks_.push_back({step, d.rollback_to_step, acc, reference, current_k, d.new_k});
  k_floor_ = std::max(k_floor_, d.new_k);
  why << "; roll back to step " << d.rollback_to_step << " and raise K from " << current_k << " to " << d.new_k;
  if (to_k <= current_k) why << " (K is at its maximum " << cfg_.max_k << ")";
  d.reason = why.str();
  // Probes after the rollback point describe weights that are gone; the restored model's
  // probe stays as the reference.
  if (!good_.empty()) good_.erase(good_.begin(), good_.end() - 1);
  return d;
}

nlohmann::json OverfitGuard::to_json() const {
  nlohmann::json good = nlohmann::json::array(), rb = nlohmann::json::array();
  for (const auto& p : good_) good.push_back({{"step", p.step}, {"accuracy", p.accuracy}});
  for (const auto& r : rollbacks_)
    rb.push_back({{"at_step", r.at_step}, {"to_step", r.to_step}, {"accuracy", r.accuracy},
                  {"reference", r.reference}, {"from_k", r.from_k}, {"to_k", r.to_k}});
  return {{"config",
           {{"probe_interval_steps", cfg_.probe_interval_steps}, {"probe_steps", cfg_.probe_steps},
            {"probe_images", cfg_.probe_images}, {"max_drop", cfg_.max_drop}, {"window", cfg_.window},
            {"chance", cfg_.chance}, {"floor_margin", cfg_.floor_margin}, {"armed_above", cfg_.armed_above}, {"k_increment", cfg_.k_increment},
            {"max_k", cfg_.max_k}, {"max_rollbacks", cfg_.max_rollbacks}}},
          {"probes", good},
          {"best", best_ever_},
          {"k_floor", k_floor_},
          {"rollbacks", rb}};
}

OverfitGuard OverfitGuard::from_json(const nlohmann::json& j) {
  GuardConfig c;
  const auto& jc = j.at("config");
  c.probe_interval_steps = jc.at("probe_interval_steps");
  c.probe_steps = jc.at("probe_steps");
  c.probe_images = jc.at("probe_images");
  c.max_drop = jc.at("max_drop");
  c.window = jc.at("window");
  c.chance = jc.at("chance");
  c.floor_margin = jc.at("floor_margin");
  c.armed_above = jc.value("armed_above", c.armed_above);
  c.k_increment = jc.at("k_increment");
  c.max_k = jc.at("max_k");
  c.max_rollbacks = jc.at("max_rollbacks");
  OverfitGuard g(c);
  for (const auto& p : j.at("probes")) g.good_.push_back({p.at("step"), p.at("accuracy")});
  g.best_ever_ = j.at("best");
  g.k_floor_ = j.at("k_floor");
  for (const auto& r : j.at("rollbacks"))
    g.rollbacks_.push_back({r.at("at_step"), r.at("to_step"), r.at("accuracy"), r.at("reference"),
                            r.at("from_k"), r.at("to_k")});
  return g;
}

}  // namespace rampart
