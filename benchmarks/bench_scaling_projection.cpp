// Projects the weak-scaling efficiency of PGD adversarial training to many ranks
// from what benchmarks/bench_scaling.sh measured, with cluster/schedule/cost_model.h:
//   per-rank compute  from the 2-rank run's summary.json: seconds per step less the
//                     exposed all-reduce (so, local batch 64 on 1 thread); the 1-rank run
//                     is only printed, since on a loaded 2-core machine its 2 OpenMP
//                     threads suffer most from the other work
//   all-reduce        from bench_allreduce's alpha-beta fit (2 ranks), or the time
//                     per step measured in the 2-rank training run
//   overlap           the hidden fraction measured in the 2-rank run
//   bench_scaling_projection --one S1.json --two S2.json [--allreduce AR.json]
//                            [--attack-steps 7] [--json OUT.json]
// Also prints the projection with an assumed cluster network (100 Gb/s class:
// 10 GB/s bus bandwidth, 10 us per ring step), since 2 ranks on one machine talk
// through shared memory. Weak scaling: every rank keeps the measured local batch (64).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/schedule/cost_model.h"

using namespace rampart;
using nlohmann::json;

namespace {

json load(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path);
  return json::parse(f);
}

}  // namespace

int main(int argc, char** argv) {
  std::string one, two, allreduce, out;
  int K = 7;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--one") one = next();
    else if (a == "--two") two = next();
    else if (a == "--allreduce") allreduce = next();
    else if (a == "--attack-steps") K = std::stoi(next());
    else if (a == "--json") out = next();
    else {
      std::fprintf(stderr, "usage: bench_scaling_projection --one S1.json --two S2.json [--allreduce AR.json] "
                           "[--attack-steps K] [--json OUT]\n");
      return 64;
    }
  }
  if (one.empty() || two.empty()) {
    std::fprintf(stderr, "bench_scaling_projection: --one and --two are required\n");
    return 64;
  }
  try {
    const json s1 = load(one), s2 = load(two);
    const double steps1 = s1.at("steps").get<double>(), steps2 = s2.at("steps").get<double>();
    const double step1_s = s1.at("train_seconds").get<double>() / steps1;
    const double ar_total = s2.at("allreduce_seconds").get<double>() / steps2;
    const double ar_exposed = s2.at("allreduce_exposed_seconds").get<double>() / steps2;
    const double step_s = s2.at("train_seconds").get<double>() / steps2 - ar_exposed;  // compute only
    const double attack_s = s2.at("attack_seconds").get<double>() / steps2;
    const double grad_bytes = 4.0 * s1.value("parameters", 421642.0);

    StepCosts c;
    // The attack is K x (forward + input backward + PGD update): put it all in fwd_s;
    // the rest of the step (forward, full backward, optimizer, data) in bwd_full_s.
    c.fwd_s = K > 0 ? attack_s / K : 0;
    c.bwd_full_s = std::max(0.0, step_s - attack_s);
    c.allreduce_s = ar_total;
    c.overlap_fraction = ar_total > 0 ? std::clamp(1.0 - ar_exposed / ar_total, 0.0, 1.0) : 0.0;
    c.measured_world = 2;
    // fixed_compute counts fwd_s once more (the training forward); take it back out.
    c.bwd_full_s = std::max(0.0, c.bwd_full_s - c.fwd_s);

    struct Net {
      std::string name;
      NetworkModel model;
    };
    std::vector<Net> nets;
    nets.push_back({"measured per-step all-reduce (2 ranks, held constant)", NetworkModel{}});
    if (!allreduce.empty()) {
      const json ar = load(allreduce);
      NetworkModel m;
      // bench_allreduce fits t = alpha + beta * bytes at its world size p; the ring
      // model is t = 2(p-1) alpha_r + 2(p-1)/p bytes beta_r. Match them at p.
      const int p = ar.at("ranks").get<int>();
      if (p > 1) {
        m.alpha_s = std::max(0.0, ar.at("fit").at("alpha_s").get<double>()) / (2.0 * (p - 1));
        m.beta_s_per_byte = std::max(0.0, ar.at("fit").at("beta_s_per_byte").get<double>()) * p / (2.0 * (p - 1));
        nets.push_back({"bench_allreduce fit (shared memory), ring model", m});
      }
    }
    nets.push_back({"assumed cluster network: 10 GB/s bus bandwidth, 10 us per ring step",
                    network_from_bus_bandwidth(10.0, 10e-6)});

    const std::vector<int> worlds = {1, 2, 4, 8, 16, 32, 64};
    json rows = json::array();
    std::printf("projection (weak scaling, PGD-%d): compute %.4f s per step per rank (attack %.4f s) as measured "
                "on 2 ranks (1 rank of 2 threads: %.4f s per step), all-reduce %.2f ms/step, %.0f%% of it hidden\n",
                K, step_s, attack_s, step1_s, ar_total * 1e3, 100 * c.overlap_fraction);
    for (const auto& net : nets) {
      std::printf("  %s\n  %6s %12s %14s %10s\n", net.name.c_str(), "ranks", "step_s", "allreduce_ms", "eff");
      json pts = json::array();
      for (int w : worlds) {
        const double st = predict_step(c, K, w, net.model, grad_bytes);
        const double eff = scaling_efficiency(c, K, w, net.model, grad_bytes);
        const double ar = allreduce_at(c, w, net.model, grad_bytes);
        std::printf("  %6d %12.4f %14.3f %9.1f%%\n", w, st, ar * 1e3, 100 * eff);
        pts.push_back({{"ranks", w}, {"step_s", st}, {"allreduce_s", ar}, {"efficiency", eff}});
      }
      rows.push_back({{"network", net.name}, {"alpha_s", net.model.alpha_s},
                      {"beta_s_per_byte", net.model.beta_s_per_byte}, {"points", pts}});
    }
    if (!out.empty()) {
      json j = {{"attack_steps", K}, {"compute_s_per_step", step_s}, {"attack_s_per_step", attack_s},
                {"step_s_1rank", step1_s}, {"local_batch", 128 / 2},
                {"allreduce_s_per_step_2ranks", ar_total}, {"allreduce_exposed_s_per_step_2ranks", ar_exposed},
                {"overlap_fraction", c.overlap_fraction}, {"grad_bytes", grad_bytes}, {"networks", rows}};
      std::ofstream f(out);
      f << j.dump(2) << "\n";
      if (!f) throw std::runtime_error("cannot write " + out);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_scaling_projection: %s\n", e.what());
    return 1;
  }
}
