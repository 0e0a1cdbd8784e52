// train(): the data-parallel PGD adversarial training as a loop over a Trainer's steps, and
// the Trainer's end: the final checkpoint of a stopped run, the evaluation, the summary.
#include "cluster/train/trainer.h"

#include <algorithm>

#include "cluster/train/train_report.h"
#include "runtime/errors.h"

namespace rampart {

nlohmann::json train(const TrainConfig& cfg, Communicator& comm, TrainObserver& obs) {
  Trainer trainer(cfg, comm, obs);
  while (trainer.next()) trainer.after_step(trainer.step());
  return trainer.finish();
}

nlohmann::json Trainer::finish() {
  if (!stop_reason_.empty()) {
    if (last_checkpoint_step_ != step_) write_checkpoint(step_);
    if (lead_) obs_.on_message("stopped early (" + stop_reason_ + ") after step " + std::to_string(step_) +
                               "; final checkpoint written, evaluating");
  }
  nlohmann::json s = summary();
  obs_.on_eval(s);
  return s;
}

// Throughput, the final evaluation (each rank on its shard of the test set), carried
// starts, cost, and the scheduler's record.
nlohmann::json Trainer::summary() {
  nlohmann::json out;
  out["train_images_per_s"] = images_per_s();
  out["train_seconds"] = train_seconds_;
  out["attack_seconds"] = attack_seconds_;
  out["allreduce_seconds"] = comm_total_;
  out["allreduce_exposed_seconds"] = comm_exposed_;
  out["forward_mflop_per_image"] = flops_per_image_ / 1e6;
  out["steps"] = step_;
  out["ranks"] = world_;
  out["device"] = backend_->describe();
  best_summary(out);
  if (!cfg_.test_data.empty()) {
    try {
      out.update(evaluate_test_set(cfg_, *backend_, example_, model_->num_classes()));
    } catch (const Interrupted& e) {
      throw Interrupted(std::string(e.what()) + (ck_path_.empty()
                                                     ? "; nothing was saved (no --out)"
                                                     : "; the final checkpoint " + ck_path_ +
                                                           " is written: run again with --resume to evaluate it"));
    }
  }
  // Every rank's applied decisions, so that agreement can be checked from the outside.
  const std::vector<std::string> traces = comm_.allgather(trace_.dump());
  if (carry_) out["carried"] = carried_->report(comm_);
  out["wall_seconds"] = seconds_since(t_start_);
  out["rank_hours"] = out["wall_seconds"].get<double>() * world_ / 3600.0;
  if (scheduled_) {
    nlohmann::json s = schedule_summary(traces);
    out["schedule"] = s;
    for (const char* k : {"spent_usd", "spent_gpu_hours", "spent_hours"})
      if (s.contains(k)) out[k] = s[k];
  }
  return out;
}

nlohmann::json Trainer::schedule_summary(const std::vector<std::string>& traces) {
  nlohmann::json s = {{"policy", to_string(policy_)}, {"stop_reason", stop_reason_.empty() ? "done" : stop_reason_},
                      {"epochs_completed", step_ / batches_}, {"epochs_run", double(step_) / double(batches_)},
                      {"probe_every", probe_every_}, {"probe_holdout", n_probe_}};
  s.update(decisions_report(traces));
  if (sched_) {
    const Spend spent = spent_now();
    s.update(sched_->report(spent, int(step_ / batches_)));
    s["within_budget"] = within(spent, cfg_.budget);
    s["guard"] = sched_->guard().to_json();
    s["cost_model"] = sched_->cost().to_json();
  }
  return s;
}

}  // namespace rampart
