// The data-parallel PGD adversarial training loop (see trainer.h).
#include "cluster/trainer.h"

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>

#include "cluster/agreement.h"
#include "cluster/grad_reducer.h"
#include "kernels/cpu/softmax_xent.h"
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

std::string hash_hex(const std::string& s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char ch : s) { h ^= ch; h *= 1099511628211ull; }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
  return buf;
}

AttackConfig training_attack(const TrainConfig& c) {
  AttackConfig a;
  if (c.attack == "pgd") a = pgd_config(c.eps, c.alpha, c.steps);
  else if (c.attack == "fgsm-rs") a = fgsm_rs_config(c.eps);
  else if (c.attack == "fgsm") a = fgsm_config(c.eps);
  else if (c.attack == "pgd-l2") { a = pgd_config(c.eps, c.alpha, c.steps); a.norm = Norm::kL2; a.name = "pgd-l2"; }
  else throw ConfigError("attack: expected pgd, fgsm-rs, fgsm, pgd-l2 or none, found \"" + c.attack + "\"");
  a.early_stop_tau = c.early_stop_tau;
  validate(a, "training attack");
  return a;
}

// A loaded split of a dataset (this rank's rows), in uint8 as stored.
struct Rows {
  std::vector<uint8_t> images, labels;
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
  const bool adversarial = cfg.attack != "none";
  AttackConfig attack_cfg;
  if (adversarial) attack_cfg = training_attack(cfg);

  // --- Data: every rank opens the file and reads only its rows ---------------
  Dataset train_set(cfg.data, cfg.limit > 0 ? cfg.limit : -1);
  const int64_t n_train = train_set.size();
  const int64_t C = train_set.channels(), H = train_set.height(), W = train_set.width();
  const int64_t img = C * H * W;
  const Shape example = {C, H, W};

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
  if (cfg.resume && !ck_path.empty() && std::filesystem::exists(ck_path)) {
    Checkpoint ck = read_checkpoint(ck_path);
    if (ck.arch != model.spec())
      throw ConfigError("--resume: " + ck_path + " holds a different model than the configuration asks for; "
                        "use another --out or the same --model");
    if (ck.world_size != world && lead)
      obs.on_message("resuming a checkpoint written by " + std::to_string(ck.world_size) + " ranks on " +
                     std::to_string(world) + " ranks");
    load_model(ck, model, &sgd);
    start_step = ck.step;
    obs.on_message("resumed from " + ck_path + " at step " + std::to_string(start_step));
  }
  // Rank 0's weights are everyone's (identical by construction from the seed; the
  // broadcast makes it so even if initialisation ever depended on the rank).
  comm.broadcast(model.flat_params(), model.num_params() * sizeof(float), 0);
  comm.broadcast(sgd.momentum(), sgd.size() * sizeof(float), 0);
  if (model.num_buffer_values())
    comm.broadcast(model.flat_buffers(), model.num_buffer_values() * sizeof(float), 0);

  auto write_checkpoint_now = [&](int64_t step) {
    if (ck_path.empty()) return;
    if (lead) {
      Checkpoint ck;
      store_model(model, &sgd, ck);
      ck.config = cfg.config_text;
      ck.epoch = step / batches;
      ck.step = step;
      ck.world_size = world;
      ck.rng = {{"seed", cfg.seed}, {"note", "counter-based: every draw is keyed by (seed, step, example)"}};
      write_checkpoint(ck_path, ck);
    }
    comm.barrier();  // nobody runs ahead of a checkpoint that may be needed
  };

  // Gradient all-reduce in buckets that start while backward runs.
  std::vector<std::pair<int64_t, int64_t>> ranges;
  for (int i = 0; i < model.num_layers(); ++i) ranges.push_back(model.layer_param_range(i));
  GradReducer reducer(comm, model.flat_grads(), ranges, int64_t(cfg.bucket_mb * 1024 * 1024));

  nlohmann::json start_info = {{"ranks", world}, {"model", cfg.model}, {"parameters", model.num_params()},
                               {"train_images", n_train}, {"batches_per_epoch", batches},
                               {"epochs", cfg.epochs}, {"start_step", start_step},
                               {"attack", adversarial ? attack_cfg.name : "none"},
                               {"eps", cfg.eps}, {"attack_steps", adversarial ? attack_cfg.steps : 0}};
  obs.on_start(start_info);

  // --- The loop ----------------------------------------------------------------
  Attacker attacker;
  Tensor x, x_adv, dlogits;
  std::vector<int32_t> labels;
  std::vector<float> per_loss;
  Rows rows;
  const int64_t total_steps = batches * cfg.epochs;
  const double flops_per_image = model.forward_flops();  // forward; see summary for the total
  double train_seconds = 0, attack_seconds = 0, comm_exposed = 0, comm_total = 0;
  int64_t images_done = 0;
  int64_t step = start_step;
  for (int epoch = int(start_step / batches); epoch < cfg.epochs; ++epoch) {
    const auto t_epoch = Clock::now();
    std::vector<int64_t> perm = epoch_permutation(n_train, cfg.seed, epoch);
    std::vector<int64_t> mine = rank_epoch_indices(perm, cfg.batch, rank, world);
    rows.images.resize(mine.size() * img);
    rows.labels.resize(mine.size());
    train_set.read_rows(mine, rows.images.data(), rows.labels.data());
    // Where each batch's part begins in `mine`.
    int64_t local_pos = 0;
    double ep_loss = 0, ep_correct = 0, ep_n = 0;
    for (int64_t b = 0; b < batches; ++b) {
      auto [gb, ge] = batch_slice(b, n_train, cfg.batch);
      auto [lb, le] = rank_slice(gb, ge, rank, world);
      const int64_t n_local = le - lb, n_global = ge - gb;
      const int64_t first_example = lb - gb;  // position of this rank's part in the global batch
      if (epoch * batches + b < step) { local_pos += n_local; continue; }  // resumed mid-epoch
      const auto t_step = Clock::now();

      images_to_tensor(rows.images.data() + local_pos * img, n_local, C, H, W, x);
      labels.resize(n_local);
      for (int64_t e = 0; e < n_local; ++e) labels[e] = rows.labels[local_pos + e];
      local_pos += n_local;

      // Attack (no communication), then train on the adversarial batch.
      const Tensor* input = &x;
      if (adversarial && n_local > 0) {
        const auto t_att = Clock::now();
        RandomKey key{cfg.seed, Stream::kRandomStart, uint64_t(step), first_example};
        attacker.run(model, x, labels.data(), attack_cfg, key, x_adv);
        attack_seconds += seconds_since(t_att);
        input = &x_adv;
      }
      const Tensor& logits = model.forward(*input, Mode::kTrain);
      dlogits.resize(logits.shape());
      per_loss.resize(n_local);
      // Mean over the global batch: each rank scales by 1/n_global, the all-reduce sums.
      auto tot = kernels::softmax_xent_cpu(logits.data(), labels.data(), n_local, logits.dim(1),
                                           1.0f / float(n_global), dlogits.data(), per_loss.data(), nullptr);
      if (!std::isfinite(tot.loss_sum))
        throw DataError("training diverged: the loss is " + std::to_string(tot.loss_sum) + " at step " +
                        std::to_string(step) + " (rank " + std::to_string(rank) +
                        "); lower --lr or check the data");
      reducer.begin_step();
      model.backward(dlogits, false, true, [&](int layer) { reducer.on_grad_ready(layer); });
      reducer.finish(1.0f);
      auto rs = reducer.last_stats();
      comm_exposed += rs.exposed_wait_s;
      comm_total += rs.allreduce_s_total;
      const double rate = lr.at(step);
      sgd.step(model.flat_params(), model.flat_grads(), rate);
      // Batchnorm statistics are computed on each rank's part; keep rank 0's, as DDP does.
      if (world > 1 && model.num_buffer_values())
        comm.broadcast(model.flat_buffers(), model.num_buffer_values() * sizeof(float), 0);

      // Step-level facts, summed over ranks every log interval only (cheap).
      double stats[3] = {tot.loss_sum, double(tot.correct), double(n_local)};
      ep_loss += stats[0]; ep_correct += stats[1]; ep_n += stats[2];
      ++step;
      const double dt = seconds_since(t_step);
      train_seconds += dt;
      images_done += n_global;

      // Preemption: any rank's signal stops every rank at this same step boundary.
      double stop = stop_requested().load() ? 1.0 : 0.0;
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
      if (stop > 0) {
        write_checkpoint_now(step);
        throw Interrupted("stopped by a signal at step " + std::to_string(step) + " after writing " + ck_path +
                          "; run again with --resume to continue");
      }
      if (cfg.checkpoint_every > 0 && step % cfg.checkpoint_every == 0 && b + 1 != batches)
        write_checkpoint_now(step);
    }
    double ep[3] = {ep_loss, ep_correct, ep_n};
    comm.allreduce_sum(ep, 3);
    write_checkpoint_now(step);
    obs.on_epoch({{"epoch", epoch + 1}, {"step", step}, {"train_loss", ep[0] / std::max(1.0, ep[2])},
                  {"train_adv_accuracy", ep[1] / std::max(1.0, ep[2])}, {"seconds", seconds_since(t_epoch)},
                  {"images_per_s", images_done / std::max(1e-9, train_seconds)}});
  }

  // --- Final evaluation, each rank on its shard of the test set ---------------
  nlohmann::json summary;
  const double train_wall = seconds_since(t_start);
  double attack_flops = adversarial ? attack_cfg.steps * 2.0 : 0.0;  // fwd + input-backward ~ 2 forwards
  (void)attack_flops;
  summary["train_images_per_s"] = images_done / std::max(1e-9, train_seconds);
  summary["train_seconds"] = train_seconds;
  summary["attack_seconds"] = attack_seconds;
  summary["allreduce_seconds"] = comm_total;
  summary["allreduce_exposed_seconds"] = comm_exposed;
  summary["forward_mflop_per_image"] = flops_per_image / 1e6;
  summary["steps"] = step;
  summary["ranks"] = world;
  if (!cfg.test_data.empty()) {
    Dataset test_set(cfg.test_data, cfg.eval_limit > 0 ? cfg.eval_limit : -1);
    if (test_set.channels() != C || test_set.height() != H || test_set.width() != W)
      throw DataError(cfg.test_data + ": images are " + shape_str({test_set.channels(), test_set.height(), test_set.width()}) +
                      " but the training images are " + shape_str(example));
    const int64_t n_test = test_set.size();
    std::vector<AttackConfig> attacks;
    if (cfg.eval_fgsm) attacks.push_back(fgsm_config(cfg.eps));
    AttackConfig pgd = pgd_config(cfg.eps, cfg.eval_alpha, cfg.eval_steps, cfg.eval_restarts);
    validate(pgd, "evaluation attack");
    attacks.push_back(pgd);
    const auto t_eval = Clock::now();
    EvalCounts counts = evaluate_shard(model, test_set, n_test, attacks, cfg.seed, cfg.batch, comm);
    summary.update(eval_report(counts, attacks));
    summary["eval_seconds"] = seconds_since(t_eval);
  }
  summary["wall_seconds"] = seconds_since(t_start);
  summary["rank_hours"] = summary["wall_seconds"].get<double>() * world / 3600.0;
  (void)train_wall;
  obs.on_eval(summary);
  return summary;
}

EvalCounts evaluate_shard(Model& model, const Dataset& set, int64_t n, const std::vector<AttackConfig>& attacks,
                          uint64_t seed, int64_t batch, Communicator& comm) {
  const int rank = comm.rank(), world = comm.size();
  auto [begin, end] = rank_slice(0, n, rank, world);  // a contiguous shard of the test set
  const int64_t C = set.channels(), H = set.height(), W = set.width(), img = C * H * W;
  Evaluator ev(attacks, seed);
  std::vector<uint8_t> images, lab;
  std::vector<int32_t> labels;
  Tensor x;
  const int64_t eb = std::max<int64_t>(1, std::min<int64_t>(batch, 256));
  for (int64_t b = begin; b < end; b += eb) {
    const int64_t m = std::min(eb, end - b);
    images.resize(m * img);
    lab.resize(m);
    set.read_range(b, b + m, images.data(), lab.data());
    images_to_tensor(images.data(), m, C, H, W, x);
    labels.assign(lab.begin(), lab.end());
    ev.add(model, x, labels.data(), b);
  }
  std::vector<double> packed = ev.counts().pack();
  comm.allreduce_sum(packed.data(), int64_t(packed.size()));
  EvalCounts total;
  total.unpack(packed);
  return total;
}

}  // namespace rampart
