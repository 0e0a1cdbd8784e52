// rampart train: PGD adversarial training on one rank or across MPI ranks.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cluster/comm/communicator_factory.h"
#include "cluster/train/compute_backend.h"
#include "cluster/train/held_out.h"
#include "cluster/train/trainer.h"
#include "cluster/comm/world.h"
#include "launch/commands.h"
#include "launch/console.h"
#include "launch/options.h"
#include "launch/report.h"
#include "launch/schedule_options.h"
#include "runtime/errors.h"

namespace rampart {

po::options_description train_options() {
  po::options_description desc("rampart train: PGD adversarial training (flags override --config)");
  desc.add_options()
      ("help,h", "this help")
      ("config", po::value<std::string>(), "INI file of key = value lines; keys are these flag names")
      ("data", po::value<std::string>(), "training set (HDF5, made by rampart data import)")
      ("test-data", po::value<std::string>(), "test set for the final evaluation (HDF5)")
      ("out", po::value<std::string>(), "output folder: checkpoint.h5, metrics.jsonl, summary.json")
      ("model", po::value<std::string>()->default_value("small-cnn"), "named model (small-cnn, small-cnn-bn, mlp, preact-resnet18, resnet18, wrn-DEPTH-WIDTH, resnet50) or a JSON spec (docs/model-spec.md)")
      ("seed", po::value<Seed>()->default_value(Seed{}, "0"), "seed of initialisation, data order and random starts")
      ("epochs", po::value<int>()->default_value(5), "epochs")
      ("batch", po::value<int64_t>()->default_value(128), "global batch size, split across ranks")
      ("limit", po::value<int64_t>()->default_value(0), "train on the first N images only (0: all)")
      ("val-split", po::value<int64_t>()->default_value(0), "hold out the last N training images (after --limit; not trained on), evaluate PGD-10 at --eps on them after every epoch and keep the best epoch as <out>/best.h5 (0: off)")
      ("augment", po::value<std::string>()->default_value("none"), "training augmentation, drawn per (seed, epoch, image): none, flip, crop-flip (CIFAR: --crop-padding zero pixels, random crop, horizontal flip) or resized-crop (ImageNet: random resized crop to the stored size, flip)")
      ("crop-padding", po::value<int64_t>()->default_value(4), "crop-flip: pixels of zero padding on each side")
      ("min-crop-scale", po::value<double>()->default_value(0.08), "resized-crop: the smallest crop, as a fraction of the image's area")
      ("lr", po::value<double>()->default_value(0.05), "peak learning rate")
      ("lr-scaling", po::value<std::string>()->default_value("none"), "scale the peak --lr with the global batch: none, linear (lr x batch / --lr-base-batch) or sqrt (lr x sqrt(batch / --lr-base-batch)); with many ranks, keep the per-rank batch and scale, and keep a warm-up")
      ("lr-base-batch", po::value<int64_t>()->default_value(128), "the global batch --lr was tuned for (--lr-scaling)")
      ("lr-schedule", po::value<std::string>()->default_value("warmup-cosine"), "constant, step, cosine or warmup-cosine")
      ("warmup", po::value<double>()->default_value(0.1), "fraction of all steps for linear warm-up (warmup-cosine)")
      ("momentum", po::value<double>()->default_value(0.9), "SGD momentum")
      ("weight-decay", po::value<double>()->default_value(5e-4), "SGD weight decay")
      ("loss", po::value<std::string>()->default_value("ce"), "training objective: ce (Madry PGD-AT), trades (CE(clean) + beta KL(clean || adv), attacked on the KL) or mart (Wang et al.)")
      ("beta", po::value<double>()->default_value(6.0), "trades, mart: the weight of the KL term")
      ("attack", po::value<std::string>()->default_value("pgd"), "training attack: pgd, fgsm, fgsm-rs, pgd-l2 or none")
      ("eps", po::value<float>()->default_value(0.1f), "attack radius (L-inf unless pgd-l2), pixels in [0,1]")
      ("alpha", po::value<float>()->default_value(0.025f), "attack step size")
      ("steps", po::value<int>()->default_value(7), "attack steps K")
      ("early-stop-tau", po::value<int>()->default_value(-1), "stop attacking an example tau steps after it is misclassified (-1: off)")
      ("attack-init", po::value<std::string>(), "where each training attack starts: random, or carry (where the example's attack of the last epoch ended); default carry for --schedule budgeted/adaptive, random for fixed")
      ("attack-bn", po::value<std::string>()->default_value("auto"), "batchnorm in the training attack's passes: train (batch statistics, running ones updated, as a PyTorch model in train mode), eval (running statistics) or auto (train for cross-entropy PGD-AT, as Rice et al.); evaluation always uses eval")
      ("attack-precision", po::value<std::string>()->default_value("fp32"), "arithmetic of the training attack's passes: fp32, or bf16 (BF16 convolutions on CPUs with AVX-512 BF16 or AMX; the weight update and every evaluation stay fp32)")
      ("eval-steps", po::value<int>()->default_value(20), "PGD steps of the final evaluation")
      ("eval-alpha", po::value<float>()->default_value(0.01f), "PGD step size of the final evaluation")
      ("eval-restarts", po::value<int>()->default_value(1), "PGD restarts of the final evaluation")
      ("eval-limit", po::value<int64_t>()->default_value(0), "evaluate on the first N test images (0: all)")
      ("eval-fgsm", po::value<bool>()->default_value(true), "also evaluate FGSM (for the gradient-masking check)")
      ("eval-autoattack", po::value<bool>()->default_value(false), "also evaluate AutoAttack (standard: APGD-CE, APGD-T, FAB-T, Square; CPU only) at --eps; the budget reserves its worst-case cost (over 100x PGD-20's per image: use --eval-limit)")
      ("resume", po::bool_switch(), "continue from <out>/checkpoint.h5 if it exists")
      ("checkpoint-every", po::value<int64_t>()->default_value(0), "also checkpoint every N steps (0: every epoch)")
      ("backend", po::value<std::string>()->default_value("auto"), "communicator: auto, mpi, self, or nccl (CUDA builds, one GPU per rank)")
      ("device", po::value<std::string>()->default_value("cpu"), "cpu or cuda (CUDA builds; the local rank picks the GPU)")
      ("timeout", po::value<double>()->default_value(300), "seconds a collective may stall before the job is ended")
      ("bucket-mb", po::value<double>()->default_value(4), "gradient all-reduce bucket size in MiB")
      ("threads", po::value<int>()->default_value(0), "OpenMP threads per rank (0: cores / ranks on the node)")
      ("log-every", po::value<int>()->default_value(20), "steps between progress lines and metrics")
      ("log-level", po::value<std::string>()->default_value("info"), "error, warn, info or debug")
      ("schedule", po::value<std::string>(), "attack-budget policy: fixed, budgeted or adaptive (default: fixed without a budget, budgeted with one)")
      ("budget-usd", po::value<double>(), "spend at most this many US dollars (needs a price)")
      ("budget-gpu-hours", po::value<double>(), "spend at most this many GPU-hours (rank-hours on CPU ranks)")
      ("budget-hours", po::value<double>(), "spend at most this many hours of wall time")
      ("price-per-gpu-hour", po::value<double>(), "US dollars per GPU-hour (per rank-hour on CPU ranks)")
      ("price-per-node-hour", po::value<double>(), "US dollars per node-hour (with --gpus-per-node)")
      ("gpus-per-node", po::value<int>(), "GPUs (ranks) per node, for --price-per-node-hour")
      ("max-steps-k", po::value<int>()->default_value(10), "budgeted/adaptive: the largest attack K planned")
      ("probe-every", po::value<int64_t>()->default_value(-1), "guard: PGD-10 probe every N steps on held-out training images (0: off; -1: 100 for budgeted and adaptive, off for fixed)")
      ("network-busbw-gbs", po::value<double>(), "all-reduce bus bandwidth of the (target) cluster, GB/s (NCCL busbw)")
      ("network-latency-us", po::value<double>(), "all-reduce latency per ring step, microseconds")
      ("json", po::bool_switch(), "print the final result as one JSON object on standard output");
  return desc;
}

TrainConfig train_config(const po::variables_map& vm) {
  // Every number is checked here, once, for range and finiteness (NaN fails every comparison):
  // what passes cannot overflow, crash or be mistaken for something else later.
  constexpr int64_t kMaxImages = int64_t(1) << 40;
  TrainConfig c;
  c.data = vm["data"].as<std::string>();
  if (vm.count("test-data")) c.test_data = vm["test-data"].as<std::string>();
  if (vm.count("out")) c.out = vm["out"].as<std::string>();
  c.model = vm["model"].as<std::string>();
  c.seed = vm["seed"].as<Seed>().value;
  c.epochs = int(checked_int(vm, "epochs", 1, 1000000));
  c.batch = checked_int(vm, "batch", 1, 1 << 24);
  c.limit = checked_int(vm, "limit", 0, kMaxImages);
  c.val_split = vm["val-split"].as<int64_t>();  // validate() says what it must be, and how to fix it
  c.augment = vm["augment"].as<std::string>();
  c.crop_padding = int(checked_int(vm, "crop-padding", 0, 4096));
  c.min_crop_scale = float(checked_real(vm, "min-crop-scale", 0, 1, /*lo_open=*/true));
  c.lr = checked_real(vm, "lr", 0, 1e6, /*lo_open=*/true);
  c.lr_scaling = vm["lr-scaling"].as<std::string>();
  c.lr_base_batch = vm["lr-base-batch"].as<int64_t>();
  c.lr_schedule = vm["lr-schedule"].as<std::string>();
  c.warmup = checked_real(vm, "warmup", 0, 1, /*lo_open=*/false, /*hi_open=*/true);
  c.momentum = checked_real(vm, "momentum", 0, 1, /*lo_open=*/false, /*hi_open=*/true);
  c.weight_decay = checked_real(vm, "weight-decay", 0, 1);
  c.loss = vm["loss"].as<std::string>();
  c.beta = checked_real(vm, "beta", 0, 1e6);
  c.attack = vm["attack"].as<std::string>();
  c.eps = vm["eps"].as<float>();     // the attack's own checks (runtime/attacks) name these
  c.alpha = vm["alpha"].as<float>();
  c.steps = checked_attack_size(vm, "steps", kMaxAttackSteps);
  c.early_stop_tau = int(checked_int(vm, "early-stop-tau", -1, 1000000));
  if (vm.count("attack-init")) c.attack_init = vm["attack-init"].as<std::string>();
  c.attack_bn = vm["attack-bn"].as<std::string>();
  c.attack_precision = vm["attack-precision"].as<std::string>();
  c.eval_steps = checked_attack_size(vm, "eval-steps", kMaxAttackSteps);
  c.eval_alpha = vm["eval-alpha"].as<float>();
  c.eval_restarts = checked_attack_size(vm, "eval-restarts", kMaxRestarts);
  c.eval_limit = checked_int(vm, "eval-limit", 0, kMaxImages);
  c.eval_fgsm = vm["eval-fgsm"].as<bool>();
  c.eval_autoattack = vm["eval-autoattack"].as<bool>();
  c.resume = vm["resume"].as<bool>();
  c.checkpoint_every = checked_int(vm, "checkpoint-every", 0, INT64_MAX / 2);
  c.timeout_s = checked_timeout(vm);
  // 1 KiB to 1 GiB: smaller buckets would mean an all-reduce per few hundred weights.
  c.bucket_mb = checked_real(vm, "bucket-mb", 1.0 / 1024, 1024);
  c.log_every = int(checked_int(vm, "log-every", 1, INT32_MAX));
  checked_int(vm, "threads", 0, kMaxThreads);
  c.device = vm["device"].as<std::string>();
  c.config_text = resolved_config(vm);
  set_schedule_options(vm, c);
  // The configuration's own checks (train_config.h), here so that they fail before MPI starts;
  // train() repeats them with the job's number of ranks.
  validate(c, /*world=*/1);
  return c;
}

// The validation's pick (--val-split), after the summary.
static void print_best(const nlohmann::json& s, std::FILE* out) {
  if (s["best_epoch"].get<int>() <= 0) {
    std::fprintf(out, "validation: no epoch completed\n");
    return;
  }
  const std::string where = s["best_checkpoint"].is_string() ? s["best_checkpoint"].get<std::string>() : "not saved (no --out)";
  std::fprintf(out, "best epoch: %d, held-out PGD-%d accuracy %.2f%% (clean %.2f%%) on %lld images; %s\n",
               s["best_epoch"].get<int>(), kValidationSteps, 100.0 * s["best_val_robust_accuracy"].get<double>(),
               100.0 * s["best_val_clean_accuracy"].get<double>(), (long long)s["val_images"].get<int64_t>(),
               where.c_str());
}

int run_train(const std::vector<std::string>& args) {
  po::options_description desc = train_options();
  po::variables_map vm;
  if (!parse_options("train", args, desc, vm)) { std::cout << desc << "\n"; return 0; }
  require(vm, "train", "data");
  TrainConfig cfg = train_config(vm);
  check_device(cfg.device);  // before MPI starts: a job that cannot run says so at once
  const bool json = vm["json"].as<bool>();
  LogLevel level = parse_log_level(vm["log-level"].as<std::string>());

  World world = detect_world();
  cfg.local_rank = world.local_rank;
  install_stop_signals();  // before MPI, OpenMP or any other thread starts
  auto comm = make_communicator(world, vm["backend"].as<std::string>(), cfg.timeout_s);
  setup_cpu(world.local_size, vm["threads"].as<int>());
  const bool lead = comm->rank() == 0;
  try {
    if (!cfg.out.empty() && lead) {
      std::error_code ec;
      std::filesystem::create_directories(cfg.out, ec);
      if (ec) throw IoError("cannot create --out folder " + cfg.out + ": " + ec.message());
    }
    comm->barrier();
    Console console(lead, level, cfg.out.empty() ? "" : cfg.out + "/metrics.jsonl", cfg.resume);
    nlohmann::json summary = train(cfg, *comm, console);
    if (lead) {
      if (!cfg.out.empty()) write_json_file(cfg.out + "/summary.json", summary);
      if (json) std::cout << summary.dump() << std::endl;
      else {
        print_summary(summary, stdout);
        if (summary.contains("best_epoch")) print_best(summary, stdout);
      }
    }
    comm->barrier();
    return 0;
  } catch (const Interrupted& e) {
    if (lead) std::fprintf(stderr, "rampart train: %s\n", e.what());
    return e.code();
  } catch (const Error& e) {
    // One rank's error must not leave the others waiting in a collective.
    if (comm->size() > 1) {
      std::fprintf(stderr, "rampart train: rank %d: error: %s\n", comm->rank(), e.what());
      std::fflush(stderr);
      comm->abort(e.code());
    }
    throw;
  } catch (const std::exception& e) {
    if (comm->size() > 1) {
      std::fprintf(stderr, "rampart train: rank %d: error: %s\n", comm->rank(), e.what());
      std::fflush(stderr);
      comm->abort(kExitFailure);
    }
    throw;
  }
}

}  // namespace rampart
