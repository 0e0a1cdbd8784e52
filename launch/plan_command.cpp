// rampart plan: the attack-budget plan for a budget and a price, without training.
// Calibrates the cost model by timing passes, whole steps, an epoch's data and a checkpoint
// write on this machine (one rank), or takes the costs measured elsewhere (--step-costs: a
// previous `plan --json`, e.g. run on a node of the target cluster), scales the per-rank batch to --ranks, extrapolates the all-reduce with
// the alpha-beta model, and prints the plan as a table or (--json) one JSON object.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cluster/comm/communicator.h"
#include "cluster/schedule/plan_table.h"
#include "cluster/schedule/step_calibration.h"
#include "cluster/train/carried_starts.h"
#include "cluster/train/checkpoint_health.h"
#include "cluster/train/compute_backend.h"
#include "cluster/train/held_out.h"
#include "cluster/train/training_step.h"
#include "cluster/schedule/train_schedule.h"
#include "launch/commands.h"
#include "launch/options.h"
#include "launch/schedule_options.h"
#include "runtime/checkpoint.h"
#include "runtime/data/augment.h"
#include "runtime/data/dataset.h"
#include "runtime/data/sampler.h"
#include "runtime/errors.h"
#include "runtime/json_strict.h"
#include "runtime/model.h"
#include "runtime/model_state.h"
#include "runtime/optimizer.h"

namespace rampart {

namespace {
// Without network figures for the target cluster: 10 GB/s bus bandwidth, 10 us per ring
// step (a modest InfiniBand/NVLink-less cluster). Stated in the output.
constexpr double kDefaultBusbwGbs = 10, kDefaultLatencyUs = 10;

// --step-costs FILE: the "calibration" object of a `plan --json` output, or that object alone.
// The same costs give the same plan, whatever the machine is doing now.
StepCosts read_step_costs(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw MissingInput("--step-costs: '" + path + "' is a directory, expected a JSON file: the output of an earlier "
                       "`rampart plan --json`");
  std::ifstream in(path);
  if (!in) throw MissingInput("--step-costs: cannot read '" + path + "'; give the output of an earlier `rampart plan --json`");
  std::stringstream text;
  text << in.rdbuf();
  const std::string hint = "; expected the output of `rampart plan --json` (its \"calibration\" object) or that object alone";
  nlohmann::json j;
  try {
    j = parse_json_strict(text.str());
  } catch (const JsonTextError& e) {  // its message never quotes raw bytes
    if (e.kind == JsonTextError::Kind::kDuplicateKey)
      throw DataError("--step-costs: '" + path + "': " + e.what() + "; expected each key once" + hint);
    throw DataError("--step-costs: '" + path + "' is not JSON (" + e.what() + ")" + hint);
  }
  if (j.is_object() && j.contains("calibration")) j = j["calibration"];
  StepCosts c;
  try {
    c = StepCosts::from_json(j);
  } catch (const nlohmann::json::exception& e) {
    throw DataError("--step-costs: '" + path + "' lacks the step costs (" + e.what() + ")" + hint);
  }
  for (const double v : {c.fwd_s, c.bwd_input_s, c.bwd_full_s, c.pgd_update_s, c.allreduce_s, c.eval_s_per_image,
                         c.optimizer_s, c.data_s, c.whole_step_attack_s, c.whole_step_fixed_s, c.epoch_load_s,
                         c.checkpoint_bytes, c.checkpoint_write_s})
    if (!(std::isfinite(v) && v >= 0))
      throw DataError("--step-costs: '" + path + "' has a cost that is negative or not finite" + hint);
  // Backward times are medians of (forward + backward) minus the forward's: on a loaded
  // machine that difference can be 0, and a plan's own calibration must read back.
  if (!(c.fwd_s > 0) || c.local_batch < 1 || c.measured_world < 1 ||
      !(c.overlap_fraction >= 0 && c.overlap_fraction <= 1))
    throw DataError("--step-costs: '" + path + "' has a zero forward time, a local_batch or measured_world below 1, " +
                    "or an overlap_fraction outside [0,1]" + hint);
  return c;
}

// What training costs on this machine, at the full global batch on one rank: the passes one
// by one, whole steps at K = 1 and calibration_k(cfg) run by the trainer's step
// code (training_step.h) on scratch optimizer state, an epoch's data read and augmented as
// the trainer does, and one real checkpoint of the run's size (carried perturbations
// included) written into --out, or the temporary folder while --out does not exist yet.
StepCosts calibrate_here(const TrainConfig& cfg, const Dataset& set, int64_t n_train, Model& model, Communicator& self) {
  const int64_t n = std::min(cfg.batch, n_train), C = set.channels(), H = set.height(), W = set.width();
  const auto t_load = std::chrono::steady_clock::now();
  const std::vector<int64_t> rows = rank_epoch_indices(epoch_permutation(n_train, cfg.seed, 0), cfg.batch, 0, 1);
  std::vector<uint8_t> images(rows.size() * set.image_elems());
  std::vector<int32_t> labels(rows.size());
  set.read_rows(rows, images.data(), labels.data());
  augment_images({parse_augment(cfg.augment), cfg.crop_padding, cfg.min_crop_scale}, images.data(), rows.data(),
                 int64_t(rows.size()), C, H, W, cfg.seed, 0);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();

  Sgd sgd(SgdConfig{cfg.momentum, cfg.weight_decay}, model.num_params());
  auto backend = make_compute_backend(cfg.device, model, &sgd, self, 0, int64_t(cfg.bucket_mb * 1024 * 1024));
  backend->set_training_loss(cfg.loss, {cfg.beta});
  const AttackConfig base = training_attack(cfg);
  backend->check_attack(base);
  Tensor x;
  images_to_tensor(images.data(), n, C, H, W, x);
  StepCosts c = backend->calibrate(x, labels.data(), calibration_for(cfg));
  c.epoch_load_s = load_s;

  CarriedStarts carried(carries_perturbations(cfg), n_train, C * H * W, 0, 1);
  const StepBatch batch{images.data(), labels.data(), rows.data(), rows.data(), n, n, C, H, W};
  const Policy policy = effective_policy(cfg);
  std::vector<int32_t> y;
  auto step_at = [&](int K) {
    Decision d;
    d.K = K;
    d.eps = base.eps;
    d.alpha = 2.5 * base.eps / std::max(1, K);
    const AttackConfig a = scheduled_attack(base, policy, d, cfg.early_stop_tau);
    run_training_step(*backend, self, model, carried, batch, &a, RandomKey{cfg.seed}, cfg.lr, x, y);
  };
  apply_whole_steps(c, time_whole_steps(step_at, 1, calibration_k(cfg), kWholeStepRepeats));

  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string dir = !cfg.out.empty() && fs::is_directory(cfg.out, ec) ? cfg.out : fs::temp_directory_path().string();
  const auto t_write = std::chrono::steady_clock::now();
  check_checkpoint_health(*backend, model, sgd, x, labels.data(), cfg.seed, self, 0, "", -1);
  backend->download_state();
  Checkpoint ck;
  store_model(model, &sgd, ck);
  ck.config = cfg.config_text;
  carried.save(ck, &self);
  const WriteTiming w = time_checkpoint_write(ck, dir);
  c.checkpoint_write_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_write).count();
  c.checkpoint_bytes = w.bytes;
  return c;
}
}  // namespace

int run_plan(const std::vector<std::string>& args) {
  po::options_description desc = train_options();
  desc.add_options()("ranks", po::value<int>()->default_value(1), "plan: the world size to plan for (ranks or GPUs)")(
      "step-costs", po::value<std::string>(),
      "plan: take the measured step costs from this file (the output of an earlier `plan --json`) instead of "
      "timing passes here");
  po::variables_map vm;
  if (!parse_options("plan", args, desc, vm)) {
    std::cout << "rampart plan: the attack-budget plan without training (takes every train option)\n" << desc << "\n";
    return 0;
  }
  require(vm, "plan", "data");
  TrainConfig cfg = train_config(vm);
  const int ranks = vm["ranks"].as<int>();
  if (ranks < 1) throw ConfigError("--ranks must be at least 1, found " + std::to_string(ranks) + "; give e.g. --ranks 64");
  if (cfg.attack == "none") throw ConfigError("plan: --attack none has no attack to plan; use --attack pgd");
  if (cfg.batch < ranks)
    throw ConfigError("--batch (the global batch) must be at least --ranks: batch " + std::to_string(cfg.batch) +
                      ", ranks " + std::to_string(ranks));
  setup_cpu(1, vm["threads"].as<int>());

  Dataset set(cfg.data, cfg.limit > 0 ? cfg.limit : -1);
  const int64_t n_train = hold_out(cfg, set.size()).n_train;  // less the probe and --val-split rows
  const int64_t steps_per_epoch = num_batches(n_train, cfg.batch);
  const Shape example = set.image_shape();
  Model model(expand_model(cfg.model, example, set.classes()), example);
  model.init(cfg.seed);

  // Calibrate here at the full global batch (one rank), then per rank at --ranks.
  const int64_t n = std::min(cfg.batch, n_train);
  const bool given = vm.count("step-costs") > 0;
  StepCosts measured;
  if (given) {
    measured = read_step_costs(vm["step-costs"].as<std::string>());
    // The passes per step are the loss's, whatever loss the file was measured for; whole
    // steps measured with another loss's passes do not say what this one's cost.
    const CalibrationOptions o = calibration_for(cfg);
    if (measured.train_forwards != o.train_forwards || measured.train_backwards != o.train_backwards)
      measured.whole_step_attack_s = measured.whole_step_fixed_s = 0;
    measured.train_forwards = o.train_forwards;
    measured.train_backwards = o.train_backwards;
  } else {
    // Timed on the device the plan is for (--device), as training will run there.
    auto self = make_self_communicator();
    try {
      check_device(cfg.device);
    } catch (const ConfigError& e) {  // planning from a login node: costs measured elsewhere
      throw ConfigError(std::string(e.what()) + "; or plan here from step costs measured there: " +
                        "--step-costs FILE (the output of `rampart plan --json` on that device)");
    }
    measured = calibrate_here(cfg, set, n_train, model, *self);
  }
  const int local_batch = int((cfg.batch + ranks - 1) / ranks);
  const StepCosts per_rank = scale_to_local_batch(measured, local_batch);
  const bool assumed_net = !cfg.network.has_value();
  const NetworkModel net = cfg.network.value_or(network_from_bus_bandwidth(kDefaultBusbwGbs, kDefaultLatencyUs * 1e-6));
  const double grad_bytes = double(model.num_params()) * sizeof(float);
  CostModel cost(per_rank, net, grad_bytes);

  double eval_images = 10000;
  if (cfg.eval_limit > 0) eval_images = double(cfg.eval_limit);
  else if (!cfg.test_data.empty()) eval_images = double(Dataset(cfg.test_data).size());
  const SchedulerSetup setup = scheduler_setup(cfg, ranks, steps_per_epoch, cost, eval_images);
  const Plan plan = make_plan(setup.plan);

  if (vm["json"].as<bool>()) {
    nlohmann::json j = plan_to_json(plan);
    j["ranks"] = ranks;
    j["local_batch"] = local_batch;
    j["steps_per_epoch"] = steps_per_epoch;
    j["calibration"] = measured.to_json();
    j["network"] = {{"alpha_s", net.alpha_s}, {"beta_s_per_byte", net.beta_s_per_byte}, {"assumed", assumed_net}};
    const int k_last = plan.rows.empty() ? 1 : plan.rows.back().K;
    j["scaling_efficiency"] = scaling_efficiency(per_rank, k_last, ranks, net, grad_bytes);
    // What one step of the last planned K costs at --ranks: the scaling benchmark compares these
    // with measured steps (benchmarks/bench_multihost.sh).
    j["predicted"] = {{"K", k_last},
                      {"step_s", cost.predict_step(k_last, ranks)},
                      {"allreduce_s", allreduce_at(per_rank, ranks, net, grad_bytes)},
                      {"allreduce_exposed_s", (1 - per_rank.overlap_fraction) * allreduce_at(per_rank, ranks, net, grad_bytes)},
                      {"grad_bytes", grad_bytes}};
    std::cout << j.dump() << std::endl;
  } else {
    std::printf("%s: forward %.4f s, attack step %.4f s, training pass %.4f s at batch %lld; "
                "planned for %d rank%s at %d images each%s\n",
                given ? "step costs from --step-costs" : "calibrated on this machine", measured.fwd_s,
                measured.fwd_s + measured.bwd_input_s, measured.fwd_s + measured.bwd_full_s,
                (long long)(given ? measured.local_batch : n), ranks, ranks > 1 ? "s" : "", local_batch,
                assumed_net && ranks > 1 ? " (network assumed: 10 GB/s bus bandwidth, 10 us latency; give "
                                           "--network-busbw-gbs and --network-latency-us)"
                                         : "");
    if (measured.whole_step_attack_s > 0 || measured.whole_step_fixed_s > 0)
      std::printf("whole steps: %.4f s per attack step + %.4f s; epoch data %.3f s; checkpoint %.1f MB in %.3f s\n",
                  measured.whole_step_attack_s, measured.whole_step_fixed_s, measured.epoch_load_s,
                  measured.checkpoint_bytes / 1e6, measured.checkpoint_write_s);
    std::fputs(format_plan_table(plan).c_str(), stdout);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace rampart
