// rampart plan: the attack-budget plan for a budget and a price, without training.
// Calibrates the cost model by timing a few real passes on this machine (one rank), scales
// the per-rank batch to --ranks, extrapolates the all-reduce with the alpha-beta model, and
// prints the plan as a table or (--json) one JSON object.
#include <cmath>
#include <iostream>

#include "cluster/communicator.h"
#include "cluster/plan_table.h"
#include "cluster/step_calibration.h"
#include "cluster/train_schedule.h"
#include "launch/commands.h"
#include "launch/options.h"
#include "launch/schedule_options.h"
#include "runtime/data/dataset.h"
#include "runtime/data/sampler.h"
#include "runtime/errors.h"
#include "runtime/model.h"

namespace rampart {

namespace {
// Without network figures for the target cluster: 10 GB/s bus bandwidth, 10 us per ring
// step (a modest InfiniBand/NVLink-less cluster). Stated in the output.
constexpr double kDefaultBusbwGbs = 10, kDefaultLatencyUs = 10;
}  // namespace

int run_plan(const std::vector<std::string>& args) {
  po::options_description desc = train_options();
  desc.add_options()("ranks", po::value<int>()->default_value(1), "plan: the world size to plan for (ranks or GPUs)");
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
  const int64_t n_train = set.size() - probe_holdout(cfg, set.size());
  const int64_t steps_per_epoch = num_batches(n_train, cfg.batch);
  const Shape example = set.image_shape();
  Model model(expand_model(cfg.model, example), example);
  model.init(cfg.seed);

  // Calibrate here at the full global batch (one rank), then per rank at --ranks.
  const int64_t n = std::min(cfg.batch, n_train);
  std::vector<uint8_t> im(n * set.image_elems()), lab(n);
  set.read_range(0, n, im.data(), lab.data());
  Tensor x;
  images_to_tensor(im.data(), n, set.channels(), set.height(), set.width(), x);
  std::vector<int32_t> y(lab.begin(), lab.end());
  auto self = make_self_communicator();
  const StepCosts measured = calibrate_step_costs(model, x, y.data(), calibration_for(cfg), *self);
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
    j["scaling_efficiency"] = scaling_efficiency(per_rank, plan.rows.empty() ? 1 : plan.rows.back().K, ranks, net, grad_bytes);
    std::cout << j.dump() << std::endl;
  } else {
    std::printf("calibrated on this machine: forward %.4f s, attack step %.4f s, training pass %.4f s at batch %lld; "
                "planned for %d rank%s at %d images each%s\n",
                measured.fwd_s, measured.fwd_s + measured.bwd_input_s, measured.fwd_s + measured.bwd_full_s,
                (long long)n, ranks, ranks > 1 ? "s" : "", local_batch,
                assumed_net && ranks > 1 ? " (network assumed: 10 GB/s bus bandwidth, 10 us latency; give "
                                           "--network-busbw-gbs and --network-latency-us)"
                                         : "");
    std::fputs(format_plan_table(plan).c_str(), stdout);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace rampart
