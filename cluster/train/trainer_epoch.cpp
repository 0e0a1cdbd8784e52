// The Trainer's bookkeeping around its steps (see trainer.h): the scheduler's decisions,
// signals and the budget, progress, the guard's probe, adaptive K, epochs.
#include <algorithm>

#include "cluster/schedule/guard_probe.h"
#include "cluster/schedule/train_schedule.h"
#include "cluster/train/train_report.h"
#include "cluster/train/trainer.h"
#include "runtime/errors.h"

namespace rampart {

std::atomic<int>& stop_requested() {
  static std::atomic<int> flag{0};
  return flag;
}

Spend Trainer::spent_now() const {
  return spent_before_ + spend_of(seconds_since(t_start_), world_, cfg_.price);
}

double Trainer::images_per_s() const { return images_done_ / std::max(1e-9, train_seconds_); }

// Rank 0's decision to every rank.
Decision Trainer::share(Decision d) {
  auto packed = d.pack();
  if (world_ > 1) comm_.broadcast(packed.data(), int64_t(packed.size() * sizeof(double)), 0);
  return Decision::unpack(packed.data());
}

void Trainer::apply(const Decision& d, int64_t from_step) {
  lr_.total_steps = std::max<int64_t>(1, d.lr_total_steps);
  if (!adversarial_) return;
  attack_ = scheduled_attack(base_attack_, policy_, d, cfg_.early_stop_tau);
  trace_.push_back({from_step, attack_.eps, attack_.steps, attack_.alpha});
}

bool Trainer::next() {
  if (!stop_reason_.empty() || step_ >= total_steps_) return false;
  if (!need_decision_) return true;
  const int epoch = int(step_ / batches_);
  const int64_t b = step_ % batches_;
  Decision d;
  if (lead_) {
    auto stored = TrainingScheduler::decision_in(resumed_scheduler_);
    // A run resumed mid-epoch continues the decision it had; at an epoch start, the plan's row.
    d = (step_ == start_step_ && b != 0 && stored) ? *stored : sched_->epoch_decision(epoch);
  }
  dec_ = share(d);
  need_decision_ = false;
  if (dec_.stop) {
    stop_reason_ = "budget";
    return false;
  }
  apply(dec_, step_);
  if (lead_ && scheduled_)
    obs_.on_message("epoch " + std::to_string(epoch + 1) + ": eps " + std::to_string(dec_.eps) + ", K " +
                    std::to_string(dec_.K) + ", alpha " + std::to_string(dec_.alpha) + ", LR over " +
                    std::to_string(dec_.lr_total_steps) + " steps");
  return true;
}

void Trainer::after_step(const StepMetrics& m) {
  if (stop_or_log(m)) return;
  if (guard_probe()) return;
  const int64_t b = m.batch_in_epoch;
  adapt(b);
  if (cfg_.checkpoint_every > 0 && step_ % cfg_.checkpoint_every == 0 && b + 1 != batches_) {
    // Not a step's time: the plan counts checkpoint writes apart (checkpoint_writes_per_epoch).
    const auto t_write = Clock::now();
    write_checkpoint(step_);
    ep_aside_s_ += seconds_since(t_write);
  }
  if (b + 1 == batches_) end_epoch(m.epoch);
}

// Preemption: any rank's signal stops every rank at this same step boundary (1); rank 0's
// budget check stops them all before the budget is spent (0.5). True when the budget stops.
bool Trainer::stop_or_log(const StepMetrics& m) {
  double stop = stop_requested().load() ? 1.0 : 0.0;
  if (lead_ && sched_ && stop == 0 && sched_->must_stop(spent_now(), m.attack_steps)) stop = 0.5;
  if (world_ > 1) comm_.allreduce_max(&stop, 1);
  if (lead_ && (step_ % std::max(1, cfg_.log_every) == 0 || m.batch_in_epoch + 1 == batches_)) {
    StepInfo s;
    s.epoch = m.epoch; s.step = step_; s.steps_total = total_steps_; s.batch_in_epoch = m.batch_in_epoch + 1;
    s.batches_per_epoch = batches_; s.loss = m.loss_sum / std::max<double>(1, m.n_local);
    s.adv_accuracy = m.correct / std::max<double>(1, m.n_local); s.lr = m.lr; s.seconds = m.seconds;
    s.images_per_s = images_per_s();
    s.eps = adversarial_ ? attack_.eps : 0; s.attack_steps = adversarial_ ? attack_.steps : 0;
    obs_.on_step(s);
  }
  if (stop >= 1.0) {
    if (ck_path_.empty())
      throw Interrupted("stopped by a signal at step " + std::to_string(step_) +
                        "; nothing was saved (no --out): give --out to be able to resume");
    write_checkpoint(step_);
    throw Interrupted("stopped by a signal at step " + std::to_string(step_) + " after writing " + ck_path_ +
                      "; run again with --resume to continue");
  }
  if (stop == 0) return false;
  if (lead_) obs_.on_message("budget: stopping at step " + std::to_string(step_) +
                             " to keep the reserve for the final checkpoint and evaluation");
  stop_reason_ = "budget";
  return true;
}

// The guard: a PGD probe on the held-out rows; a collapse rolls back to the last healthy
// snapshot and raises K. True when it rolled back or stopped (the step's bookkeeping ends).
bool Trainer::guard_probe() {
  if (probe_every_ <= 0 || step_ % probe_every_ != 0) return false;
  const auto t_probe = Clock::now();
  double acc = probe_->run(*backend_, comm_, cfg_);
  if (cfg_.probe_filter) acc = cfg_.probe_filter(step_, acc);
  Decision g;
  if (lead_) g = sched_->on_probe(step_, acc, attack_.steps, spent_now());
  g = share(g);
  ep_aside_s_ += seconds_since(t_probe);
  if (g.rollback_to_step < 0 && !g.stop) {
    take_snapshot();
    return false;
  }
  if (lead_) obs_.on_message("guard: " + sched_->last_guard_reason());
  if (snapshot_.step >= 0) {
    snapshot_.restore(*model_, *sgd_);
    backend_->upload_state();
    step_ = snapshot_.step;
  }
  if (g.stop) {
    stop_reason_ = "guard";
    return true;
  }
  dec_ = g;
  dec_.rollback_to_step = -1;
  apply(dec_, step_);
  loaded_epoch_ = -1;  // re-read the epoch of the restored step (its stats start over)
  gain_first_ = gain_last_ = 0;
  return true;
}

// Adaptive: one attack step more or fewer from the attack's measured convergence.
void Trainer::adapt(int64_t b) {
  if (policy_ != Policy::kAdaptive || step_ % adapt_every_ != 0 || b + 1 == batches_) return;
  Decision d = dec_;
  if (lead_) {
    AdaptiveSignal sig;
    if (gain_first_ > 0) sig.last_over_first_gain = gain_last_ / gain_first_;
    d = sched_->adapt(dec_, sig, batches_ - (b + 1));
    if (d.K != dec_.K) obs_.on_message("adaptive: " + sched_->last_adapt_reason());
  }
  d = share(d);
  gain_first_ = gain_last_ = 0;
  if (d.K != dec_.K) {
    dec_ = d;
    apply(dec_, step_);
  }
}

// The epoch's loss and accuracy over all ranks, the cost model's update and re-plan, the
// validation (after the step time is measured: it is not a training step's), the epoch's
// checkpoint (and best.h5) and its summary line; the next step takes a new decision.
void Trainer::end_epoch(int epoch) {
  double ep[3] = {ep_loss_, ep_correct_, ep_n_};
  comm_.allreduce_sum(ep, 3);
  nlohmann::json line = {{"epoch", epoch + 1}, {"step", step_}, {"train_loss", ep[0] / std::max(1.0, ep[2])},
                         {"train_adv_accuracy", ep[1] / std::max(1.0, ep[2])},
                         {"seconds", seconds_since(t_epoch_)}, {"images_per_s", images_per_s()}};
  if (sched_) {
    // The cost model learns the mean wall seconds of a training step (data loading
    // included; probes apart, the plan counts them), then the rest is re-planned.
    int64_t steps_run = 0, most = -1;
    int k_main = dec_.K;
    for (auto [k, n] : ep_steps_at_k_) {
      steps_run += n;
      if (n > most) { most = n; k_main = k; }
    }
    const double step_s = (seconds_since(t_epoch_) - ep_aside_s_) / double(std::max<int64_t>(1, steps_run));
    if (scheduled_ && adversarial_) sched_->end_epoch(epoch + 1, std::max(1, k_main), step_s, spent_now());
  }
  validate_epoch(epoch + 1, line);
  write_checkpoint(step_);
  if (sched_ && scheduled_) {
    line.update(sched_->report(spent_now(), epoch + 1));
    line["eps"] = attack_.eps;
    line["K"] = attack_.steps;
    line["alpha"] = attack_.alpha;
  }
  // The epoch's whole cost (data, steps, probes, validation, checkpoints) against the first
  // plan's row for it: how honest the plan made before training was.
  line["epoch_wall_s"] = seconds_since(t_epoch_mark_);
  if (sched_ && scheduled_)
    if (const PlanRow* r = sched_->first_plan().row(epoch)) line["planned_epoch_wall_s"] = r->wall_s;
  obs_.on_epoch(line);
  if (sched_ && scheduled_) obs_.on_message(budget_line(line));
  t_epoch_mark_ = Clock::now();
  need_decision_ = true;
}

}  // namespace rampart
