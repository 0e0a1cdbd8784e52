// The data-parallel PGD adversarial training loop (see trainer.h).
#include "cluster/train/trainer.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>

#include "cluster/comm/agreement.h"
#include "cluster/train/carried_starts.h"
#include "cluster/train/checkpoint_health.h"
#include "cluster/train/compute_backend.h"
#include "cluster/schedule/guard_probe.h"
#include "cluster/schedule/plan_table.h"
#include "cluster/train/resume_check.h"
#include "cluster/train/snapshot.h"
#include "cluster/schedule/step_calibration.h"
#include "cluster/train/train_report.h"
#include "cluster/schedule/train_schedule.h"
#include "cluster/schedule/training_scheduler.h"
#include "runtime/checkpoint.h"
#include "runtime/data/dataset.h"
#include "runtime/data/sampler.h"
#include "runtime/errors.h"
#include "runtime/evaluate.h"
#include "runtime/lr_schedule.h"
#include "runtime/model_state.h"
#include "runtime/optimizer.h"

namespace rampart {

std::atomic<int>& stop_requested() {
  static std::atomic<int> flag{0};
  return flag;
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A loaded split of a dataset (this rank's rows), in uint8 as stored.
struct Rows {
  std::vector<uint8_t> images, labels;
  std::vector<int64_t> index;  // each row's index in the training set
};

}  // namespace

nlohmann::json train(const TrainConfig& cfg, Communicator& comm, TrainObserver& obs) {
  const int rank = comm.rank(), world = comm.size();
  const bool lead = rank == 0;
  const auto t_start = Clock::now();

  // --- Configuration checks that need no data --------------------------------
  if (cfg.epochs < 1) throw ConfigError("epochs must be >= 1, found " + std::to_string(cfg.epochs));
  if (cfg.batch < world)
    throw ConfigError("batch (the global batch) must be at least the number of ranks: batch " +
                      std::to_string(cfg.batch) + ", ranks " + std::to_string(world));
  if (!(cfg.lr > 0)) throw ConfigError("lr must be > 0, found " + std::to_string(cfg.lr));
  check_device(cfg.device);
  const bool adversarial = cfg.attack != "none";
  AttackConfig attack_cfg;
  if (adversarial) attack_cfg = training_attack(cfg);
  const AttackConfig base_attack = attack_cfg;
  validate_schedule(cfg);
  const Policy policy = effective_policy(cfg);
  // The scheduler speaks (console lines, plan) only when it has something to decide.
  const bool scheduled = cfg.budget.limited() || policy != Policy::kFixed || probe_interval(cfg) > 0;

  // --- Data: every rank opens the file and reads only its rows ---------------
  // With the guard on, the last probe_images rows are held out for its probe.
  Dataset train_set(cfg.data, cfg.limit > 0 ? cfg.limit : -1);
  const int64_t n_images = train_set.size();
  const int64_t n_probe = adversarial ? probe_holdout(cfg, n_images) : 0;
  const int64_t n_train = n_images - n_probe;
  const int64_t probe_every = n_probe > 0 ? probe_interval(cfg) : 0;
  const int64_t C = train_set.channels(), H = train_set.height(), W = train_set.width();
  const int64_t img = C * H * W;
  const Shape example = {C, H, W};
  // Carried perturbations (--attack-init carry): one per training example, on every rank.
  const bool carry = adversarial && carries_perturbations(cfg);
  if (carry && attack_cfg.norm != Norm::kLinf)
    throw ConfigError("attack-init carry works with L-inf attacks (pgd, fgsm-rs), found attack " + cfg.attack +
                      "; use --attack-init random");
  CarriedStarts carried(carry, n_train, img);
  int64_t n_test = 0;
  if (!cfg.test_data.empty()) n_test = Dataset(cfg.test_data, cfg.eval_limit > 0 ? cfg.eval_limit : -1).size();

  // --- Model, optimizer, schedule ---------------------------------------------
  Model model(expand_model(cfg.model, example), example);
  if (model.num_classes() < train_set.classes())
    throw ConfigError("model: the last layer has " + std::to_string(model.num_classes()) +
                      " outputs but the data has " + std::to_string(train_set.classes()) + " classes");
  model.init(cfg.seed);
  Sgd sgd({cfg.momentum, cfg.weight_decay}, model.num_params());
  const int64_t batches = num_batches(n_train, cfg.batch);
  LrSchedule lr;
  lr.kind = parse_lr_kind(cfg.lr_schedule);
  lr.peak = cfg.lr;
  lr.total_steps = batches * cfg.epochs;
  lr.warmup_fraction = cfg.warmup;

  // Ranks must agree before any collective of the training loop.
  check_agreement(comm, {{"model spec", hash_hex(model.spec().dump())},
                         {"parameter count", std::to_string(model.num_params())},
                         {"training images", std::to_string(n_train)},
                         {"config", hash_hex(cfg.config_text)}});

  // --- Resume or start --------------------------------------------------------
  const std::string ck_path = cfg.out.empty() ? "" : cfg.out + "/checkpoint.h5";
  int64_t start_step = 0;
  nlohmann::json resumed_scheduler;
  if (cfg.resume && !ck_path.empty() && std::filesystem::exists(ck_path)) {
    Checkpoint ck = read_checkpoint(ck_path);
    const std::string changed = check_resume_config(ck.config, cfg.config_text, ck_path);
    if (!changed.empty() && lead) obs.on_message(changed);
    if (ck.arch != model.spec())
      throw ConfigError("--resume: " + ck_path + " holds a different model than the configuration asks for; "
                        "use another --out or the same --model");
    if (ck.world_size != world && lead)
      obs.on_message("resuming a checkpoint written by " + std::to_string(ck.world_size) + " ranks on " +
                     std::to_string(world) + " ranks");
    // The file is the same on every device; only the rounding of what follows differs.
    if (ck.extra.is_object() && ck.extra.value("device", cfg.device) != cfg.device && lead)
      obs.on_message("resuming a checkpoint written with --device " + ck.extra["device"].get<std::string>() +
                     " on --device " + cfg.device);
    load_model(ck, model, &sgd);
    if (!carried.restore(ck, ck_path) && carry && ck.step > 0 && lead)
      obs.on_message("resuming without carried perturbations (the checkpoint has none): attacks start at random "
                     "points until each example has been attacked once");
    start_step = ck.step;
    resumed_scheduler = ck.scheduler;
    obs.on_message("resumed from " + ck_path + " at step " + std::to_string(start_step));
  }
  // Rank 0's weights are everyone's (identical by construction from the seed; the
  // broadcast makes it so even if initialisation ever depended on the rank).
  comm.broadcast(model.flat_params(), model.num_params() * sizeof(float), 0);
  comm.broadcast(sgd.momentum(), sgd.size() * sizeof(float), 0);
  if (model.num_buffer_values())
    comm.broadcast(model.flat_buffers(), model.num_buffer_values() * sizeof(float), 0);

  // Where the steps run (compute_backend.h); it starts from the host state above.
  // Gradients are all-reduced in buckets that start while backward runs.
  std::unique_ptr<ComputeBackend> backend =
      make_compute_backend(cfg.device, model, &sgd, comm, cfg.local_rank, int64_t(cfg.bucket_mb * 1024 * 1024));
  if (adversarial) backend->check_attack(attack_cfg);
  // The final evaluation's settings and test set, checked now rather than after the training.
  if (!cfg.test_data.empty()) test_eval_attacks(cfg, *backend, example, model.num_classes());

  // --- The scheduler: calibrated from timed passes, owned by rank 0 ------------
  // Rank 0 decides; every decision is broadcast, so every rank applies it from the same step.
  const Spend spent_before = TrainingScheduler::spent_in(resumed_scheduler);
  auto spent_now = [&] { return spent_before + spend_of(seconds_since(t_start), world, cfg.price); };
  std::optional<TrainingScheduler> sched;
  {
    const int64_t steps_per_epoch = batches;
    const bool restore = resumed_scheduler.is_object() && resumed_scheduler.contains("cost_model");
    CostModel cost;
    if (!restore) {
      // This rank's part of the first global batch, as read from the file (not trained on).
      auto [lb, le] = rank_slice(0, std::min(cfg.batch, n_train), rank, world);
      std::vector<uint8_t> im((le - lb) * img), lab(le - lb);
      if (le > lb) train_set.read_range(lb, le, im.data(), lab.data());
      Tensor xc;
      images_to_tensor(im.data(), le - lb, C, H, W, xc);
      std::vector<int32_t> yc(lab.begin(), lab.end());
      StepCosts sc = backend->calibrate(xc, yc.data(), calibration_for(cfg));
      cost = CostModel(sc, cfg.network.value_or(NetworkModel{}), double(model.num_params()) * sizeof(float));
      if (world > 1) cost.update_allreduce({double(model.num_params()) * sizeof(float), world, sc.allreduce_s});
    }
    if (lead) {
      SchedulerSetup setup = scheduler_setup(cfg, world, steps_per_epoch, cost, double(n_test));
      if (restore) {
        setup.plan.cost = CostModel::from_json(resumed_scheduler.at("cost_model"));
        sched.emplace(TrainingScheduler::from_json(resumed_scheduler, setup));
      } else {
        sched.emplace(setup);
      }
    }
  }

  Snapshot snapshot;  // the last state whose guard probe was healthy
  auto scheduler_state = [&](int64_t step, const Decision& current) {
    return sched ? sched->to_json(spent_now(), current, int(step / batches)) : nlohmann::json();
  };
  Decision dec;
  int64_t last_checkpoint_step = -1;
  int64_t last_good_step = start_step > 0 ? start_step : -1;  // the step of the checkpoint on disk
  // The batch this rank trained on last: the health check's forward runs on it.
  Tensor x;
  std::vector<int32_t> labels;
  auto write_checkpoint_now = [&](int64_t step) {
    if (ck_path.empty()) return;
    check_checkpoint_health(*backend, model, sgd, x, labels.data(), cfg.seed, comm, step, ck_path, last_good_step);
    if (lead) {
      Checkpoint ck;
      store_model(model, &sgd, ck);
      ck.extra = {{"device", backend->device()}};
      ck.config = cfg.config_text;
      ck.epoch = step / batches;
      ck.step = step;
      ck.world_size = world;
      ck.rng = {{"seed", cfg.seed}, {"note", "counter-based: every draw is keyed by (seed, step, example)"}};
      ck.scheduler = scheduler_state(step, dec);
      carried.save(ck);
      write_checkpoint(ck_path, ck);
    }
    last_checkpoint_step = last_good_step = step;
    comm.barrier();  // nobody runs ahead of a checkpoint that may be needed
  };

  nlohmann::json start_info = {{"ranks", world}, {"device", backend->describe()}, {"model", cfg.model}, {"parameters", model.num_params()},
                               {"train_images", n_train}, {"batches_per_epoch", batches},
                               {"epochs", cfg.epochs}, {"start_step", start_step},
                               {"attack", adversarial ? attack_cfg.name : "none"},
                               {"eps", cfg.eps}, {"attack_steps", adversarial ? attack_cfg.steps : 0}};
  if (scheduled) {
    start_info["schedule"] = to_string(policy);
    start_info["probe_every"] = probe_every;
    start_info["probe_holdout"] = n_probe;
    if (sched) start_info["plan"] = plan_to_json(sched->plan());
  }
  obs.on_start(start_info);
  if (sched && scheduled) obs.on_message("schedule " + to_string(policy) + ":\n" + format_plan_table(sched->plan()));

  // --- Decisions: rank 0's, broadcast, applied by every rank -----------------
  auto share = [&](Decision d) {
    auto packed = d.pack();
    if (world > 1) comm.broadcast(packed.data(), int64_t(packed.size() * sizeof(double)), 0);
    return Decision::unpack(packed.data());
  };
  nlohmann::json trace = nlohmann::json::array();  // [step, eps, K, alpha] as applied here
  auto apply = [&](const Decision& d, int64_t from_step) {
    lr.total_steps = std::max<int64_t>(1, d.lr_total_steps);
    if (!adversarial) return;
    attack_cfg = scheduled_attack(base_attack, policy, d, cfg.early_stop_tau);
    trace.push_back({from_step, attack_cfg.eps, attack_cfg.steps, attack_cfg.alpha});
  };
  // The guard's probe: PGD on the held-out rows (this rank's part).
  const GuardProbe probe(train_set, n_train, probe_every > 0 ? n_images : n_train, rank, world);
  // --- The loop ----------------------------------------------------------------
  Rows rows;
  std::vector<int64_t> offsets;  // where each batch's part begins in this rank's rows
  const int64_t total_steps = batches * cfg.epochs;
  const double flops_per_image = model.forward_flops();  // forward; see summary for the total
  double train_seconds = 0, attack_seconds = 0, comm_exposed = 0, comm_total = 0;
  int64_t images_done = 0;
  int64_t step = start_step;
  int loaded_epoch = -1;
  bool need_decision = true;
  std::string stop_reason;
  // Per epoch, for the cost model: wall time, what is not training steps, steps run per K.
  auto t_epoch = Clock::now();
  double ep_loss = 0, ep_correct = 0, ep_n = 0, ep_aside_s = 0;
  std::map<int, int64_t> ep_steps_at_k;
  // Adaptive signal, rank 0's batches: loss gained by the first and by the last attack step.
  double gain_first = 0, gain_last = 0;
  const int64_t adapt_every = probe_every > 0 ? probe_every : 50;
  auto take_snapshot = [&] {
    backend->download_state();
    snapshot.take(step, model, sgd);
  };
  if (probe_every > 0) take_snapshot();
  while (step < total_steps) {
    const int epoch = int(step / batches);
    const int64_t b = step % batches;
    if (need_decision) {
      Decision d;
      if (lead) {
        auto stored = TrainingScheduler::decision_in(resumed_scheduler);
        // A run resumed mid-epoch continues the decision it had; at an epoch start, the plan's row.
        d = (step == start_step && b != 0 && stored) ? *stored : sched->epoch_decision(epoch);
      }
      dec = share(d);
      need_decision = false;
      if (dec.stop) { stop_reason = "budget"; break; }
      apply(dec, step);
      if (lead && scheduled)
        obs.on_message("epoch " + std::to_string(epoch + 1) + ": eps " + std::to_string(dec.eps) + ", K " +
                       std::to_string(dec.K) + ", alpha " + std::to_string(dec.alpha) + ", LR over " +
                       std::to_string(dec.lr_total_steps) + " steps");
    }
    if (epoch != loaded_epoch) {
      std::vector<int64_t> perm = epoch_permutation(n_train, cfg.seed, epoch);
      rows.index = rank_epoch_indices(perm, cfg.batch, rank, world);
      rows.images.resize(rows.index.size() * img);
      rows.labels.resize(rows.index.size());
      train_set.read_rows(rows.index, rows.images.data(), rows.labels.data());
      offsets.assign(batches + 1, 0);
      for (int64_t i = 0; i < batches; ++i) {
        auto [gb, ge] = batch_slice(i, n_train, cfg.batch);
        auto [lb, le] = rank_slice(gb, ge, rank, world);
        offsets[i + 1] = offsets[i] + (le - lb);
      }
      loaded_epoch = epoch;
      t_epoch = Clock::now();
      ep_loss = ep_correct = ep_n = ep_aside_s = 0;
      ep_steps_at_k.clear();
    }
    auto [gb, ge] = batch_slice(b, n_train, cfg.batch);
    auto [lb, le] = rank_slice(gb, ge, rank, world);
    const int64_t n_local = le - lb, n_global = ge - gb;
    const int64_t first_example = lb - gb;  // position of this rank's part in the global batch
    const int64_t local_pos = offsets[b];
    const auto t_step = Clock::now();

    images_to_tensor(rows.images.data() + local_pos * img, n_local, C, H, W, x);
    labels.resize(n_local);
    for (int64_t e = 0; e < n_local; ++e) labels[e] = rows.labels[local_pos + e];

    // Attack (no communication), then train on the adversarial batch.
    backend->set_batch(x, labels.data());
    AttackStats ast;
    if (adversarial && n_local > 0) {
      const auto t_att = Clock::now();
      RandomKey key{cfg.seed, Stream::kRandomStart, uint64_t(step), first_example};
      const int64_t* idx = rows.index.data() + local_pos;
      ast = backend->attack(attack_cfg, key, carried.start(idx, n_local));
      if (carry) carried.record(idx, n_local, backend->adversarial_host().data(), x.data(), attack_cfg.eps);
      attack_seconds += seconds_since(t_att);
    }
    // Every rank's new perturbations to every rank: the stores stay identical, since
    // an example is attacked by another rank in the next epoch.
    carried.exchange(comm, rows.index.data() + local_pos, n_local);
    // Mean over the global batch: each rank scales by 1/n_global, the all-reduce sums.
    const LossTotals tot = backend->forward_loss(1.0f / float(n_global));
    if (!std::isfinite(tot.loss_sum))
      throw DataError("training diverged: the loss is " + std::to_string(tot.loss_sum) + " at step " +
                      std::to_string(step) + " (rank " + std::to_string(rank) + "); " +
                      kept_checkpoint_note(ck_path, last_good_step) + "; lower --lr or check the data");
    const GradReducer::Stats rs = backend->backward_allreduce();
    comm_exposed += rs.exposed_wait_s;
    comm_total += rs.allreduce_s_total;
    const double rate = lr.at(step);
    backend->sgd_step(rate);
    // Batchnorm statistics are computed on each rank's part; keep rank 0's, as DDP does.
    if (world > 1 && model.num_buffer_values())
      comm.broadcast(model.flat_buffers(), model.num_buffer_values() * sizeof(float), 0);

    // Step-level facts, summed over ranks every log interval only (cheap).
    double stats[3] = {tot.loss_sum, double(tot.correct), double(n_local)};
    ep_loss += stats[0]; ep_correct += stats[1]; ep_n += stats[2];
    // The loss gained by the first and the last attack step (the last one ends at x_adv).
    const int K_now = adversarial ? attack_cfg.steps : 0;
    if (int(ast.step_loss.size()) == K_now && K_now >= 2 && n_local > 0) {
      gain_first += ast.step_loss[1] - ast.step_loss[0];
      gain_last += stats[0] / double(n_local) - ast.step_loss[K_now - 1];
    }
    ++ep_steps_at_k[K_now];
    ++step;
    const double dt = seconds_since(t_step);
    train_seconds += dt;
    images_done += n_global;

    // Preemption: any rank's signal stops every rank at this same step boundary (1);
    // rank 0's budget check stops them all before the budget is spent (0.5).
    double stop = stop_requested().load() ? 1.0 : 0.0;
    if (lead && sched && stop == 0 && sched->must_stop(spent_now(), K_now)) stop = 0.5;
    if (world > 1) comm.allreduce_max(&stop, 1);
    if (lead && (step % std::max(1, cfg.log_every) == 0 || b + 1 == batches)) {
      StepInfo s;
      s.epoch = epoch; s.step = step; s.steps_total = total_steps; s.batch_in_epoch = b + 1;
      s.batches_per_epoch = batches; s.loss = stats[0] / std::max<double>(1, stats[2]);
      s.adv_accuracy = stats[1] / std::max<double>(1, stats[2]); s.lr = rate; s.seconds = dt;
      s.images_per_s = images_done / std::max(1e-9, train_seconds);
      s.eps = adversarial ? attack_cfg.eps : 0; s.attack_steps = adversarial ? attack_cfg.steps : 0;
      obs.on_step(s);
    }
    if (stop >= 1.0) {
      if (ck_path.empty())
        throw Interrupted("stopped by a signal at step " + std::to_string(step) +
                          "; nothing was saved (no --out): give --out to be able to resume");
      write_checkpoint_now(step);
      throw Interrupted("stopped by a signal at step " + std::to_string(step) + " after writing " + ck_path +
                        "; run again with --resume to continue");
    }
    if (stop > 0) {
      if (lead) obs.on_message("budget: stopping at step " + std::to_string(step) +
                               " to keep the reserve for the final checkpoint and evaluation");
      stop_reason = "budget";
      break;
    }

    // The guard: a PGD probe on the held-out rows; a collapse rolls back and raises K.
    if (probe_every > 0 && step % probe_every == 0) {
      const auto t_probe = Clock::now();
      double acc = probe.run(*backend, comm, cfg);
      if (cfg.probe_filter) acc = cfg.probe_filter(step, acc);
      Decision g;
      if (lead) g = sched->on_probe(step, acc, attack_cfg.steps, spent_now());
      g = share(g);
      ep_aside_s += seconds_since(t_probe);
      if (g.rollback_to_step < 0 && !g.stop) {
        take_snapshot();
      } else {
        if (lead) obs.on_message("guard: " + sched->last_guard_reason());
        if (snapshot.step >= 0) {
          snapshot.restore(model, sgd);
          backend->upload_state();
          step = snapshot.step;
        }
        if (g.stop) { stop_reason = "guard"; break; }
        dec = g;
        dec.rollback_to_step = -1;
        apply(dec, step);
        loaded_epoch = -1;  // re-read the epoch of the restored step (its stats start over)
        gain_first = gain_last = 0;
        continue;
      }
    }
    // Adaptive: one step more or fewer from the attack's measured convergence.
    if (policy == Policy::kAdaptive && step % adapt_every == 0 && b + 1 != batches) {
      Decision d = dec;
      if (lead) {
        AdaptiveSignal sig;
        if (gain_first > 0) sig.last_over_first_gain = gain_last / gain_first;
        d = sched->adapt(dec, sig, batches - (b + 1));
        if (d.K != dec.K) obs.on_message("adaptive: " + sched->last_adapt_reason());
      }
      d = share(d);
      gain_first = gain_last = 0;
      if (d.K != dec.K) { dec = d; apply(dec, step); }
    }
    if (cfg.checkpoint_every > 0 && step % cfg.checkpoint_every == 0 && b + 1 != batches)
      write_checkpoint_now(step);

    if (b + 1 == batches) {
      double ep[3] = {ep_loss, ep_correct, ep_n};
      comm.allreduce_sum(ep, 3);
      nlohmann::json summary_line = {{"epoch", epoch + 1}, {"step", step}, {"train_loss", ep[0] / std::max(1.0, ep[2])},
                                     {"train_adv_accuracy", ep[1] / std::max(1.0, ep[2])},
                                     {"seconds", seconds_since(t_epoch)},
                                     {"images_per_s", images_done / std::max(1e-9, train_seconds)}};
      if (sched) {
        // The cost model learns the mean wall seconds of a training step (data loading
        // included; probes apart, the plan counts them), then the rest is re-planned.
        int64_t steps_run = 0;
        int k_main = dec.K;
        int64_t most = -1;
        for (auto [k, n] : ep_steps_at_k) {
          steps_run += n;
          if (n > most) { most = n; k_main = k; }
        }
        const double step_s = (seconds_since(t_epoch) - ep_aside_s) / double(std::max<int64_t>(1, steps_run));
        if (scheduled && adversarial) sched->end_epoch(epoch + 1, std::max(1, k_main), step_s, spent_now());
      }
      write_checkpoint_now(step);
      if (sched && scheduled) {
        nlohmann::json r = sched->report(spent_now(), epoch + 1);
        summary_line.update(r);
        summary_line["eps"] = attack_cfg.eps;
        summary_line["K"] = attack_cfg.steps;
        summary_line["alpha"] = attack_cfg.alpha;
      }
      obs.on_epoch(summary_line);
      if (sched && scheduled) obs.on_message(budget_line(summary_line));
      need_decision = true;
    }
  }
  if (!stop_reason.empty()) {
    if (last_checkpoint_step != step) write_checkpoint_now(step);
    if (lead) obs.on_message("stopped early (" + stop_reason + ") after step " + std::to_string(step) +
                             "; final checkpoint written, evaluating");
  }

  // --- Final evaluation, each rank on its shard of the test set ---------------
  nlohmann::json summary;
  summary["train_images_per_s"] = images_done / std::max(1e-9, train_seconds);
  summary["train_seconds"] = train_seconds;
  summary["attack_seconds"] = attack_seconds;
  summary["allreduce_seconds"] = comm_total;
  summary["allreduce_exposed_seconds"] = comm_exposed;
  summary["forward_mflop_per_image"] = flops_per_image / 1e6;
  summary["steps"] = step;
  summary["ranks"] = world;
  summary["device"] = backend->describe();
  if (!cfg.test_data.empty()) {
    try {
      summary.update(evaluate_test_set(cfg, *backend, example, model.num_classes()));
    } catch (const Interrupted& e) {
      throw Interrupted(std::string(e.what()) + (ck_path.empty()
                                                     ? "; nothing was saved (no --out)"
                                                     : "; the final checkpoint " + ck_path +
                                                           " is written: run again with --resume to evaluate it"));
    }
  }
  // Every rank's applied decisions, so that agreement can be checked from the outside.
  const std::vector<std::string> traces = comm.allgather(trace.dump());
  if (carry) summary["carried"] = carried.report(comm);
  summary["wall_seconds"] = seconds_since(t_start);
  summary["rank_hours"] = summary["wall_seconds"].get<double>() * world / 3600.0;
  if (scheduled) {
    nlohmann::json s = {{"policy", to_string(policy)}, {"stop_reason", stop_reason.empty() ? "done" : stop_reason},
                        {"epochs_completed", step / batches}, {"epochs_run", double(step) / double(batches)},
                        {"probe_every", probe_every}, {"probe_holdout", n_probe}};
    s.update(decisions_report(traces));
    if (sched) {
      const Spend spent = spent_now();
      s.update(sched->report(spent, int(step / batches)));
      s["within_budget"] = within(spent, cfg.budget);
      s["guard"] = sched->guard().to_json();
      s["cost_model"] = sched->cost().to_json();
    }
    summary["schedule"] = s;
    for (const char* k : {"spent_usd", "spent_gpu_hours", "spent_hours"})
      if (s.contains(k)) summary[k] = s[k];
  }
  obs.on_eval(summary);
  return summary;
}

}  // namespace rampart
