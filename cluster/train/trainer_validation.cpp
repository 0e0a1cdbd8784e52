// The Trainer's per-epoch validation (see trainer.h, held_out.h): PGD-10 on the held-out rows
// after every epoch, the best epoch so far, and best.h5. Rice et al. (2020): robust accuracy on
// held-out data peaks early in PGD training and then falls (robust overfitting), so the
// checkpoint to keep is the one that validated best, not the last.
#include <cstdio>

#include "cluster/train/held_out.h"
#include "cluster/train/trainer.h"
#include "runtime/errors.h"

namespace rampart {

nlohmann::json ValidationRecord::to_json() const {
  return {{"epochs_validated", epochs_validated}, {"best_epoch", best_epoch}, {"best_val_robust_accuracy", best_robust},
          {"best_val_clean_accuracy", best_clean}};
}

ValidationRecord ValidationRecord::from_json(const nlohmann::json& j) {
  ValidationRecord r;
  if (!j.is_object()) return r;
  r.epochs_validated = j.value("epochs_validated", int64_t(0));
  r.best_epoch = j.value("best_epoch", 0);
  r.best_robust = j.value("best_val_robust_accuracy", -1.0);
  r.best_clean = j.value("best_val_clean_accuracy", 0.0);
  return r;
}

void Trainer::validate_epoch(int epoch, nlohmann::json& line) {
  if (n_val_ <= 0) return;
  const AttackConfig pgd = held_out_attack(cfg_.eps, kValidationSteps);
  EvalCounts c;
  try {
    c = evaluate_held_out(*backend_, comm_, *train_set_, n_images_ - n_val_, n_images_, pgd, cfg_.seed, cfg_.batch,
                          /*stoppable=*/true);
  } catch (const Interrupted&) {
    // Stopped at the epoch's end, before its validation: the checkpoint records the epoch as
    // not validated, and --resume validates it first (validate_pending), as the run would have.
    if (ck_path_.empty())
      throw Interrupted("stopped by a signal at step " + std::to_string(step_) +
                        " (validating); nothing was saved (no --out): give --out to be able to resume");
    write_checkpoint(step_);
    throw Interrupted("stopped by a signal at step " + std::to_string(step_) + " (validating epoch " +
                      std::to_string(epoch) + ") after writing " + ck_path_ + "; run again with --resume to continue");
  }
  const double clean = c.n > 0 ? double(c.clean_correct) / double(c.n) : 0.0;
  const double robust = c.n > 0 ? double(c.robust_correct[0]) / double(c.n) : 0.0;
  line["val_clean_accuracy"] = clean;
  line["val_robust_accuracy"] = robust;
  val_.epochs_validated = epoch;
  // Strictly better: on a tie the earlier epoch stays the best.
  if (robust > val_.best_robust) {
    val_.best_epoch = epoch;
    val_.best_robust = robust;
    val_.best_clean = clean;
    write_best_ = true;
  }
  if (lead_) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "validation: epoch %d, %lld held-out images: clean %.4f, PGD-%d %.4f%s", epoch,
                  (long long)c.n, clean, kValidationSteps, robust,
                  write_best_ ? (best_path_.empty() ? " (best so far)" : " (best so far: best.h5)") : "");
    obs_.on_message(buf);
  }
}

void Trainer::validate_pending() {
  if (n_val_ <= 0 || step_ <= 0 || step_ % batches_ != 0) return;
  const int epoch = int(step_ / batches_);
  if (val_.epochs_validated >= epoch) return;
  nlohmann::json line;
  validate_epoch(epoch, line);
  write_checkpoint(step_);  // the record (and best.h5 when this epoch is the best)
}

void Trainer::best_summary(nlohmann::json& out) const {
  if (n_val_ <= 0) return;
  out["val_images"] = n_val_;
  out["best_epoch"] = val_.best_epoch;
  out["best_val_robust_accuracy"] = val_.best_epoch > 0 ? nlohmann::json(val_.best_robust) : nlohmann::json();
  out["best_val_clean_accuracy"] = val_.best_epoch > 0 ? nlohmann::json(val_.best_clean) : nlohmann::json();
  out["best_checkpoint"] = best_path_.empty() || val_.best_epoch == 0 ? nlohmann::json() : nlohmann::json(best_path_);
}

}  // namespace rampart
