// The final evaluation and the decision record of a training run (see train_report.h).
#include "cluster/train_report.h"

#include <chrono>
#include <cstdio>

#include "runtime/data/dataset.h"
#include "runtime/errors.h"
#include "runtime/evaluate.h"

namespace rampart {

nlohmann::json evaluate_test_set(const TrainConfig& cfg, ComputeBackend& backend, const Shape& example) {
  Dataset test_set(cfg.test_data, cfg.eval_limit > 0 ? cfg.eval_limit : -1);
  const Shape found = {test_set.channels(), test_set.height(), test_set.width()};
  if (found != example)
    throw DataError(cfg.test_data + ": images are " + shape_str(found) + " but the training images are " +
                    shape_str(example));
  std::vector<AttackConfig> attacks;
  if (cfg.eval_fgsm) attacks.push_back(fgsm_config(cfg.eps));
  AttackConfig pgd = pgd_config(cfg.eps, cfg.eval_alpha, cfg.eval_steps, cfg.eval_restarts);
  validate(pgd, "evaluation attack");
  attacks.push_back(pgd);
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& a : attacks) backend.check_attack(a);
  EvalCounts counts = backend.evaluate_shard(test_set, test_set.size(), attacks, cfg.seed, cfg.batch);
  nlohmann::json r = eval_report(counts, attacks);
  r["eval_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::string budget_line(const nlohmann::json& r) {
  char buf[400];
  if (r["spent_usd"].is_number())
    std::snprintf(buf, sizeof buf, "budget: spent $%.4f (%.5f GPU-h) against $%.4f planned by now; plan total $%.4f",
                  r["spent_usd"].get<double>(), r["spent_gpu_hours"].get<double>(), r["planned_usd"].get<double>(),
                  r["plan_total_usd"].get<double>());
  else
    std::snprintf(buf, sizeof buf,
                  "budget: spent %.5f GPU-h (%.1f s) against %.5f GPU-h planned by now; plan total %.5f GPU-h",
                  r["spent_gpu_hours"].get<double>(), 3600 * r["spent_hours"].get<double>(),
                  r["planned_gpu_hours"].get<double>(), r["plan_total_gpu_hours"].get<double>());
  return buf;
}

nlohmann::json decisions_report(const std::vector<std::string>& traces) {
  nlohmann::json by_rank = nlohmann::json::array();
  bool agree = true;
  for (const auto& t : traces) {
    by_rank.push_back(nlohmann::json::parse(t));
    agree = agree && t == traces[0];
  }
  return {{"decisions", by_rank.empty() ? nlohmann::json::array() : by_rank[0]},
          {"decisions_by_rank", by_rank},
          {"decisions_agree", agree}};
}

}  // namespace rampart
