// The final evaluation and the decision record of a training run (see train_report.h).
#include "cluster/train/train_report.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "runtime/data/dataset.h"
#include "runtime/errors.h"
#include "runtime/evaluate.h"

namespace rampart {

std::vector<AttackConfig> test_eval_attacks(const TrainConfig& cfg, const ComputeBackend& backend,
                                            const Shape& example, int64_t classes) {
  Dataset test_set(cfg.test_data, cfg.eval_limit > 0 ? cfg.eval_limit : -1);
  const Shape found = {test_set.channels(), test_set.height(), test_set.width()};
  if (found != example)
    throw DataError(cfg.test_data + ": images are " + shape_str(found) + " but the training images are " +
                    shape_str(example) + "; give a --test-data of the same kind as --data");
  const std::vector<int32_t>& labels = test_set.labels();
  const int64_t max_label = labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end());
  if (max_label >= classes)
    throw DataError(cfg.test_data + ": has label " + std::to_string(max_label) + " but the model has " +
                    std::to_string(classes) + " outputs (labels 0.." + std::to_string(classes - 1) +
                    "); give the test set of the same dataset as --data");
  std::vector<AttackConfig> attacks;
  const AttackParams params{cfg.eps, cfg.eval_alpha, cfg.eval_steps, cfg.eval_restarts};
  if (cfg.eval_fgsm) attacks.push_back(make_attack("fgsm", params));
  const AttackConfig pgd = make_attack("pgd", params);
  validate(pgd, "evaluation attack (--eval-steps, --eval-alpha, --eval-restarts)");
  attacks.push_back(pgd);
  if (cfg.eval_autoattack) {
    AttackParams aa = params;
    for (const AttackConfig& a : parse_attacks("autoattack", aa, AttackWords::kNamesNoneOrAll)) attacks.push_back(a);
  }
  for (const auto& a : attacks) backend.check_attack(a);
  return attacks;
}

nlohmann::json evaluate_test_set(const TrainConfig& cfg, ComputeBackend& backend, const Shape& example,
                                 int64_t classes) {
  const std::vector<AttackConfig> attacks = test_eval_attacks(cfg, backend, example, classes);
  Dataset test_set(cfg.test_data, cfg.eval_limit > 0 ? cfg.eval_limit : -1);
  const auto t0 = std::chrono::steady_clock::now();
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
