// The Trainer's set-up (see trainer.h): data, model and optimizer, resumption, rank 0's
// state to every rank, the compute backend, and the scheduler calibrated from timed steps.
#include <algorithm>
#include <filesystem>

#include "cluster/comm/agreement.h"
#include "cluster/schedule/guard_probe.h"
#include "cluster/schedule/plan_table.h"
#include "cluster/schedule/train_schedule.h"
#include "cluster/train/held_out.h"
#include "cluster/train/resume_check.h"
#include "cluster/train/train_report.h"
#include "cluster/train/trainer.h"
#include "runtime/checkpoint.h"
#include "runtime/data/sampler.h"
#include "runtime/errors.h"
#include "runtime/model_state.h"

namespace rampart {

Trainer::Trainer(const TrainConfig& cfg, Communicator& comm, TrainObserver& obs)
    : cfg_(cfg), comm_(comm), obs_(obs), rank_(comm.rank()), world_(comm.size()), lead_(rank_ == 0),
      t_start_(Clock::now()) {
  validate(cfg_, world_);
  check_device(cfg_.device);
  adversarial_ = cfg_.attack != "none";
  if (adversarial_) attack_ = training_attack(cfg_);
  base_attack_ = attack_;
  augment_ = {parse_augment(cfg_.augment), cfg_.crop_padding, cfg_.min_crop_scale};
  policy_ = effective_policy(cfg_);
  scheduled_ = cfg_.budget.limited() || policy_ != Policy::kFixed || probe_interval(cfg_) > 0;
  ck_path_ = cfg_.out.empty() ? "" : cfg_.out + "/checkpoint.h5";
  best_path_ = cfg_.out.empty() || cfg_.val_split <= 0 ? "" : cfg_.out + "/best.h5";

  open_data();
  build_model();
  resume();
  // Rank 0's weights are everyone's (identical by construction from the seed; the
  // broadcast makes it so even if initialisation ever depended on the rank).
  comm_.broadcast(model_->flat_params(), model_->num_params() * sizeof(float), 0);
  comm_.broadcast(sgd_->momentum(), sgd_->size() * sizeof(float), 0);
  if (model_->num_buffer_values())
    comm_.broadcast(model_->flat_buffers(), model_->num_buffer_values() * sizeof(float), 0);
  make_backend();
  make_scheduler();
  report_start();

  // The guard's probe: PGD on the last of the held-out rows.
  const int64_t probe_first = n_images_ - n_probe_;
  probe_ = std::make_unique<GuardProbe>(*train_set_, probe_first, probe_every_ > 0 ? n_images_ : probe_first);
  total_steps_ = batches_ * cfg_.epochs;
  flops_per_image_ = model_->forward_flops();  // forward; see the summary for the total
  step_ = start_step_;
  last_good_step_ = start_step_ > 0 ? start_step_ : -1;
  adapt_every_ = probe_every_ > 0 ? probe_every_ : 50;
  t_epoch_ = Clock::now();
  if (probe_every_ > 0) take_snapshot();
  validate_pending();
  t_epoch_mark_ = Clock::now();
}

Trainer::~Trainer() = default;

// Every rank opens the file and reads only its rows. The last rows are held out (held_out.h):
// with the guard on, probe_images for its probe; with --val-split, the validation rows.
void Trainer::open_data() {
  train_set_.emplace(cfg_.data, cfg_.limit > 0 ? cfg_.limit : -1);
  n_images_ = train_set_->size();
  const HeldOut held = hold_out(cfg_, n_images_);  // ConfigError for a --val-split the data cannot take
  n_probe_ = held.n_probe;
  n_val_ = held.n_val;
  n_train_ = held.n_train;
  probe_every_ = n_probe_ > 0 ? probe_interval(cfg_) : 0;
  C_ = train_set_->channels(), H_ = train_set_->height(), W_ = train_set_->width();
  check_augment(augment_, H_, W_);  // before any work: a padding the images cannot take fails now
  img_ = C_ * H_ * W_;
  example_ = {C_, H_, W_};
  // Carried perturbations (--attack-init carry): one per training example, sharded over the ranks.
  carry_ = adversarial_ && carries_perturbations(cfg_);
  carried_.emplace(carry_, n_train_, img_, rank_, world_);
  if (!cfg_.test_data.empty()) n_test_ = Dataset(cfg_.test_data, cfg_.eval_limit > 0 ? cfg_.eval_limit : -1).size();
}

void Trainer::build_model() {
  model_.emplace(expand_model(cfg_.model, example_, train_set_->classes()), example_);
  // Needs the data, so checked here rather than in validate().
  if (model_->num_classes() < train_set_->classes())
    throw ConfigError("model: the last layer has " + std::to_string(model_->num_classes()) +
                      " outputs but the data has " + std::to_string(train_set_->classes()) + " classes");
  model_->init(cfg_.seed);
  sgd_.emplace(SgdConfig{cfg_.momentum, cfg_.weight_decay}, model_->num_params());
  batches_ = num_batches(n_train_, cfg_.batch);
  lr_.kind = parse_lr_kind(cfg_.lr_schedule);
  lr_.peak = effective_lr(cfg_);
  lr_.total_steps = batches_ * cfg_.epochs;
  lr_.warmup_fraction = cfg_.warmup;
  // Ranks must agree before any collective of the training loop.
  check_agreement(comm_, {{"model spec", hash_hex(model_->spec().dump())},
                          {"parameter count", std::to_string(model_->num_params())},
                          {"training images", std::to_string(n_train_)},
                          {"config", hash_hex(cfg_.config_text)}});
}

void Trainer::resume() {
  if (!cfg_.resume || ck_path_.empty() || !std::filesystem::exists(ck_path_)) return;
  Checkpoint ck = read_checkpoint(ck_path_);
  const std::string changed = check_resume_config(ck.config, cfg_.config_text, ck_path_);
  if (!changed.empty() && lead_) obs_.on_message(changed);
  if (ck.arch != model_->spec())
    throw ConfigError("--resume: " + ck_path_ + " holds a different model than the configuration asks for; "
                      "use another --out or the same --model");
  if (ck.world_size != world_ && lead_)
    obs_.on_message("resuming a checkpoint written by " + std::to_string(ck.world_size) + " ranks on " +
                    std::to_string(world_) + " ranks");
  // The file is the same on every device; only the rounding of what follows differs.
  if (ck.extra.is_object() && ck.extra.value("device", cfg_.device) != cfg_.device && lead_)
    obs_.on_message("resuming a checkpoint written with --device " + ck.extra["device"].get<std::string>() +
                    " on --device " + cfg_.device);
  load_model(ck, *model_, &*sgd_);
  if (!carried_->restore(ck, ck_path_) && carry_ && ck.step > 0 && lead_)
    obs_.on_message("resuming without carried perturbations (the checkpoint has none): attacks start at random "
                    "points until each example has been attacked once");
  start_step_ = ck.step;
  resumed_scheduler_ = ck.scheduler;
  if (ck.extra.is_object() && ck.extra.contains("validation"))
    val_ = ValidationRecord::from_json(ck.extra["validation"]);
  obs_.on_message("resumed from " + ck_path_ + " at step " + std::to_string(start_step_));
}

// Where the steps run (compute_backend.h); it starts from the host state. Gradients are
// all-reduced in buckets that start while backward runs.
void Trainer::make_backend() {
  backend_ = make_compute_backend(cfg_.device, *model_, &*sgd_, comm_, cfg_.local_rank,
                                  int64_t(cfg_.bucket_mb * 1024 * 1024));
  backend_->set_training_loss(cfg_.loss, {cfg_.beta});
  if (adversarial_) backend_->check_attack(attack_);
  // The final evaluation's settings and test set, checked now rather than after the training.
  if (!cfg_.test_data.empty()) test_eval_attacks(cfg_, *backend_, example_, model_->num_classes());
}

// The scheduler: calibrated from timed passes and whole steps (trainer_calibration.cpp), owned by rank 0. Rank 0 decides; every
// decision is broadcast, so every rank applies it from the same step.
void Trainer::make_scheduler() {
  spent_before_ = TrainingScheduler::spent_in(resumed_scheduler_);
  const bool restore = resumed_scheduler_.is_object() && resumed_scheduler_.contains("cost_model");
  CostModel cost;
  if (!restore) {
    const StepCosts sc = calibrate_costs();
    const double grad_bytes = double(model_->num_params()) * sizeof(float);
    cost = CostModel(sc, cfg_.network.value_or(NetworkModel{}), grad_bytes);
    if (world_ > 1) cost.update_allreduce({grad_bytes, world_, sc.allreduce_s});
  }
  if (!lead_) return;
  SchedulerSetup setup = scheduler_setup(cfg_, world_, batches_, cost, double(n_test_));
  // The first plan starts from what the set-up (calibration included) has spent already.
  setup.plan.spent_before = spent_now();
  if (restore) {
    setup.plan.cost = CostModel::from_json(resumed_scheduler_.at("cost_model"));
    sched_.emplace(TrainingScheduler::from_json(resumed_scheduler_, setup));
  } else {
    sched_.emplace(setup);
  }
}

void Trainer::report_start() {
  nlohmann::json info = {{"ranks", world_}, {"device", backend_->describe()}, {"model", cfg_.model},
                         {"parameters", model_->num_params()}, {"train_images", n_train_},
                         {"batches_per_epoch", batches_}, {"epochs", cfg_.epochs}, {"start_step", start_step_},
                         {"attack", adversarial_ ? attack_.name : "none"}, {"eps", cfg_.eps},
                         {"attack_steps", adversarial_ ? attack_.steps : 0}, {"loss", cfg_.loss},
                         {"lr", lr_.peak}, {"lr_scaling", cfg_.lr_scaling}, {"batch", cfg_.batch},
                         {"augment", cfg_.augment}};
  if (adversarial_) {
    info["attack_objective"] = attack_.objective;
    info["attack_bn"] = attack_.bn_batch_stats ? "train" : "eval";
    info["attack_precision"] = precision_name(attack_.precision);
  }
  if (cfg_.loss != "ce") info["beta"] = cfg_.beta;
  if (n_val_ > 0) info["val_images"] = n_val_;
  if (scheduled_) {
    info["schedule"] = to_string(policy_);
    info["probe_every"] = probe_every_;
    info["probe_holdout"] = n_probe_;
    if (sched_) info["plan"] = plan_to_json(sched_->plan());
  }
  obs_.on_start(info);
  if (sched_ && scheduled_) obs_.on_message("schedule " + to_string(policy_) + ":\n" + format_plan_table(sched_->plan()));
}

}  // namespace rampart
