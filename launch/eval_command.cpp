// rampart eval: clean and robust accuracy of a checkpoint on a dataset.
#include <algorithm>
#include <cstdint>
#include <iostream>

#include "cluster/comm/communicator_factory.h"
#include "cluster/train/compute_backend.h"
#include "cluster/train/trainer.h"
#include "cluster/comm/world.h"
#include "launch/commands.h"
#include "launch/options.h"
#include "launch/report.h"
#include "runtime/checkpoint.h"
#include "runtime/errors.h"
#include "runtime/io/h5.h"
#include "runtime/model_state.h"

namespace rampart {
namespace {

// --per-example: one row per evaluated image, in the set's order (written atomically).
void write_examples(const std::string& path, const ExampleResults& r, const std::vector<int32_t>& labels,
                    const std::vector<AttackConfig>& attacks) {
  const int64_t n = r.size();
  std::vector<int64_t> lab(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) lab[size_t(i)] = labels[size_t(r.index[size_t(i)])];
  nlohmann::json names = nlohmann::json::array();
  h5::write_atomically(path, [&](h5::File& f) {
    f.root().write<int64_t>("index", {n}, r.index);
    f.root().write<int64_t>("label", {n}, lab);
    f.root().write<float>("logits", {n, r.classes}, r.logits);
    f.root().write<uint8_t>("clean_correct", {n}, r.clean_correct);
    for (size_t a = 0; a < attacks.size(); ++a) {
      f.root().write<uint8_t>(attacks[a].name + "_correct", {n}, r.robust_correct[a]);
      names.push_back(attacks[a].name);
    }
    f.root().set_attr("attacks_json", names.dump());
  });
}

}  // namespace

int run_eval(const std::vector<std::string>& args) {
  po::options_description desc("rampart eval: clean and robust accuracy of a checkpoint");
  desc.add_options()
      ("help,h", "this help")
      ("config", po::value<std::string>(), "INI file of key = value lines; keys are these flag names")
      ("checkpoint", po::value<std::string>(), "checkpoint.h5 written by rampart train")
      ("data", po::value<std::string>(), "test set (HDF5, made by rampart data import)")
      ("attack", po::value<std::string>()->default_value("all"),
       "pgd, fgsm, fgsm-rs, pgd-l2, apgd-ce, apgd-dlr, apgd-t, fab-t, square, autoattack (AutoAttack 'standard': "
       "apgd-ce, apgd-t, fab-t and square, each on the images the earlier ones left robust), none, or all (fgsm and pgd)")
      ("norm", po::value<std::string>()->default_value("linf"),
       "threat model of the AutoAttack attacks: linf or l2 (--eps is the radius in that norm; for PGD pick pgd or pgd-l2)")
      ("eps", po::value<float>()->default_value(0.1f), "attack radius")
      ("steps", po::value<int>()->default_value(20), "PGD steps")
      ("alpha", po::value<float>()->default_value(0.f), "PGD step size (0: 2.5 * eps / steps)")
      ("restarts", po::value<int>()->default_value(1), "PGD restarts (random starts)")
      ("limit", po::value<int64_t>()->default_value(0), "first N images only (0: all)")
      ("batch", po::value<int64_t>()->default_value(256), "evaluation batch per rank")
      ("seed", po::value<Seed>()->default_value(Seed{}, "0"), "seed of the random starts")
      ("backend", po::value<std::string>()->default_value("auto"), "communicator: auto, mpi, self, or nccl (CUDA builds)")
      ("device", po::value<std::string>()->default_value("cpu"), "cpu or cuda (CUDA builds; the local rank picks the GPU)")
      ("threads", po::value<int>()->default_value(0), "OpenMP threads per rank (0: cores / ranks on the node)")
      ("timeout", po::value<double>()->default_value(300), "seconds a collective may stall")
      ("per-example", po::value<std::string>(), "also write each image's results to this HDF5 file: index, label, clean logits, clean_correct and <attack>_correct (robust: correct clean and under the attack)")
      ("json", po::bool_switch(), "print the result as one JSON object");
  po::variables_map vm;
  if (!parse_options("eval", args, desc, vm)) { std::cout << desc << "\n"; return 0; }
  require(vm, "eval", "checkpoint");
  require(vm, "eval", "data");
  const float eps = vm["eps"].as<float>();
  const int steps = checked_attack_size(vm, "steps", kMaxAttackSteps);
  const int restarts = checked_attack_size(vm, "restarts", kMaxRestarts);
  float alpha = vm["alpha"].as<float>();
  // The default step: 2.5 eps / steps; with eps 0 (the clean point) any step > 0 leaves it there.
  if (alpha == 0 && steps > 0) alpha = eps > 0 ? 2.5f * eps / float(steps) : 1e-12f;
  const std::string which = vm["attack"].as<std::string>();
  const std::string norm_word = vm["norm"].as<std::string>();
  if (norm_word != "linf" && norm_word != "l2")
    throw ConfigError("eval --norm: expected linf or l2, found \"" + norm_word + "\"");
  AttackParams params{eps, alpha, steps, restarts};
  params.norm = norm_word == "l2" ? Norm::kL2 : Norm::kLinf;
  const std::vector<AttackConfig> attacks = parse_attacks(which, params, AttackWords::kNamesNoneOrAll);
  for (auto& a : attacks) {
    validate(a, "eval --attack " + a.name);
    if (a.method == Method::kPgd && params.norm == Norm::kL2 && a.norm != Norm::kL2)
      throw ConfigError("eval --norm l2: applies to the AutoAttack attacks (apgd-ce, apgd-dlr, apgd-t, fab-t, square, "
                        "autoattack), found --attack " + which + "; for L2 PGD use --attack pgd-l2");
  }
  // The flags the chosen attack does not use (--steps, --alpha, --restarts for fgsm; all of them
  // for none) are still checked: a bad value is refused rather than silently unused.
  const AttackConfig unused = make_attack(which == "pgd-l2" ? "pgd-l2" : "pgd", params);
  validate(unused, "eval --eps, --steps, --alpha, --restarts");
  const std::string device = vm["device"].as<std::string>();
  check_device(device);

  World world = detect_world();
  const int64_t limit = checked_int(vm, "limit", 0, INT64_MAX);
  const int64_t batch = checked_int(vm, "batch", 1, 1 << 20);
  auto comm = make_communicator(world, vm["backend"].as<std::string>(), checked_timeout(vm));
  setup_cpu(world.local_size, vm["threads"].as<int>());
  Dataset set(vm["data"].as<std::string>(), limit > 0 ? limit : -1);
  Checkpoint ck = read_checkpoint(vm["checkpoint"].as<std::string>());
  // Checkpoints hold the host Model's bytes whatever device wrote them; a device
  // backend uploads them.
  Model model = model_from_checkpoint(ck, set.image_shape());
  const std::vector<int32_t>& labels = set.labels();
  const int64_t max_label = labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end());
  if (max_label >= model.num_classes())
    throw DataError(vm["data"].as<std::string>() + ": has label " + std::to_string(max_label) + " but the model has " +
                    std::to_string(model.num_classes()) + " outputs (labels 0.." +
                    std::to_string(model.num_classes() - 1) + "); give the test set of the data the model was trained on");
  auto backend = make_compute_backend(device, model, nullptr, *comm, world.local_rank, 0);
  for (const auto& a : attacks) backend->check_attack(a);
  const bool per_example = vm.count("per-example") > 0;
  ExampleResults examples;
  EvalCounts c = backend->evaluate_shard(set, set.size(), attacks, vm["seed"].as<Seed>().value, batch,
                                         per_example ? &examples : nullptr);
  if (per_example && comm->rank() == 0)
    write_examples(vm["per-example"].as<std::string>(), examples, labels, attacks);
  nlohmann::json r = eval_report(c, attacks);
  r["device"] = backend->describe();
  r["eps"] = eps;
  r["steps"] = steps;
  r["alpha"] = alpha;
  r["restarts"] = restarts;
  r["norm"] = norm_word;
  if (comm->rank() == 0) {
    if (vm["json"].as<bool>()) std::cout << r.dump() << std::endl;
    else print_summary(r, stdout);
  }
  return 0;
}

}  // namespace rampart
