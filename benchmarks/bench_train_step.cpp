// bench_train_step: rampart's PGD adversarial training step (../shared/PROTOCOL.md:
// PGD-7 attack, then forward, loss, full backward and SGD) on real batches held
// in memory, timed step by step after a warm-up; median, spread, GFLOP/s against
// the FP32 peak measured here with an FMA loop on the same threads. JSON out.
//   bench_train_step [--data data/train.h5] [--model small-cnn] [--steps 20]
//                    [--warmup 3] [--threads 2] [--batch 128] [--no-fusion]
//                    [--attack-steps 7] [--eps 0.1] [--alpha 0.025] [--attack-bn train|eval]
//                    [--attack-precision fp32|bf16]
//                    [--peak-only] [--profile] [--json FILE]
// --profile adds per-executor forward and backward seconds per timed step.
// FLOPs per image: PROTOCOL.md's 143.7 M for small-cnn with PGD-7; for other models and K,
// (2K + 3) x the forward's FLOPs (an attack pass is a forward and an input
// gradient, a training pass a forward and both gradients; the first layer's input gradient,
// which no pass needs, is counted, so the figure is at most a few percent high).
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/cpu/softmax_xent.h"
#include "launch/options.h"
#include "runtime/attacks/attack.h"
#include "runtime/data/dataset.h"
#include "runtime/model.h"
#include "runtime/optimizer.h"

using namespace rampart;
using Clock = std::chrono::steady_clock;

// The FMA loop's results land here (external linkage: a store GCC may not drop,
// unlike one to an unread array of this file, which let it drop the whole loop).
float g_peak_sink[16];

namespace {

constexpr double kMflopPerImage = 143.7;  // PROTOCOL.md: 7 x 17.0 + 25.0 (small-cnn, 28x28)

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// FP32 peak of this machine on `threads` threads: independent FMA chains, enough
// of them to cover latency x pipes (4 x 2 on Zen 4/5). Best of a few trials.
double measure_peak_gflops(int threads) {
  constexpr int kChains = 16;
  const long iters = 20'000'000;
  double best = 0;
  for (int trial = 0; trial < 3; ++trial) {
    double flops = 0;
    auto t = Clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    {
#if defined(__AVX512F__)
      __m512 acc[kChains];
      for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(float(c) * 1e-3f);
      const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
      for (long i = 0; i < iters; ++i)
        for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
      __m512 s = acc[0];
      for (int c = 1; c < kChains; ++c) s = _mm512_add_ps(s, acc[c]);
      _mm512_storeu_ps(g_peak_sink, s);
      flops = 2.0 * 16 * kChains * double(iters);
#else
      __m256 acc[kChains];
      for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(float(c) * 1e-3f);
      const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
      for (long i = 0; i < iters; ++i)
        for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
      for (int c = 1; c < kChains; ++c) acc[0] = _mm256_add_ps(acc[0], acc[c]);
      _mm256_storeu_ps(g_peak_sink, acc[0]);
      flops = 2.0 * 8 * kChains * double(iters);
#endif
    }
    best = std::max(best, flops / seconds_since(t) / 1e9);
  }
  return best;
}

struct Args {
  std::string data = "data/train.h5", model = "small-cnn", json_path;
  int steps = 20, warmup = 3, threads = 2, attack_steps = 7;
  float eps = 0.1f, alpha = 0.025f;
  int64_t batch = 128;
  bool no_fusion = false, peak_only = false, profile = false, attack_bn_train = true, attack_bf16 = false;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(s + " needs a value");
      return argv[++i];
    };
    if (s == "--data") a.data = next();
    else if (s == "--model") a.model = next();
    else if (s == "--steps") a.steps = std::stoi(next());
    else if (s == "--warmup") a.warmup = std::stoi(next());
    else if (s == "--threads") a.threads = std::stoi(next());
    else if (s == "--batch") a.batch = std::stoll(next());
    else if (s == "--json") a.json_path = next();
    else if (s == "--no-fusion") a.no_fusion = true;
    else if (s == "--attack-steps") a.attack_steps = std::stoi(next());
    else if (s == "--eps") a.eps = std::stof(next());
    else if (s == "--alpha") a.alpha = std::stof(next());
    else if (s == "--attack-bn") {
      const std::string v = next();
      if (v != "train" && v != "eval") throw std::runtime_error("--attack-bn: expected train or eval, found " + v);
      a.attack_bn_train = v == "train";
    }
    else if (s == "--attack-precision") {
      std::string v = next();
      if (v != "fp32" && v != "bf16") throw std::runtime_error("--attack-precision: expected fp32 or bf16, found " + v);
      a.attack_bf16 = v == "bf16";
    }
    else if (s == "--peak-only") a.peak_only = true;
    else if (s == "--profile") a.profile = true;
    else throw std::runtime_error("unknown option " + s + " (see the comment at the top of bench_train_step.cpp)");
  }
  if (a.steps < 1 || a.batch < 1) throw std::runtime_error("--steps and --batch must be >= 1");
  return a;
}

int run(int argc, char** argv) {
  Args a = parse(argc, argv);
  const int threads = setup_cpu(1, a.threads);
  const double peak = measure_peak_gflops(threads);
  nlohmann::json out = {{"framework", "rampart"}, {"threads", threads}, {"peak_gflops", peak}};
  if (a.peak_only) {
    std::cout << out.dump() << "\n";
    return 0;
  }
  if (a.no_fusion) setenv("RAMPART_NO_FUSION", "1", 1);

  Dataset set(a.data);
  const Shape example = set.image_shape();
  const int n_batches = a.warmup + a.steps;
  const int64_t need = int64_t(n_batches) * a.batch, have = std::min(need, set.size());
  const int64_t img = set.image_elems();
  std::vector<uint8_t> images(need * img);
  std::vector<int32_t> labels(need);
  set.read_range(0, have, images.data(), labels.data());
  for (int64_t r = have; r < need; ++r) {  // a small file: cycle through it
    std::memcpy(images.data() + r * img, images.data() + (r % have) * img, img);
    labels[r] = labels[r % have];
  }
  std::vector<Tensor> xs(n_batches);
  std::vector<std::vector<int32_t>> ys(n_batches);
  for (int b = 0; b < n_batches; ++b) {
    images_to_tensor(images.data() + b * a.batch * img, a.batch, example[0], example[1], example[2], xs[b]);
    ys[b].assign(labels.begin() + b * a.batch, labels.begin() + (b + 1) * a.batch);
  }

  Model model(expand_model(a.model, example, set.classes()), example);
  model.init(0);
  Sgd sgd(SgdConfig{0.9, 5e-4}, model.num_params());
  Attacker attacker;
  AttackConfig attack = pgd_config(a.eps, a.alpha, a.attack_steps);
  attack.bn_batch_stats = a.attack_bn_train;  // as `rampart train --attack-bn`
  attack.precision = a.attack_bf16 ? Precision::kBf16 : Precision::kFp32;  // as --attack-precision
  const double mflop_per_image = a.model == "small-cnn" && a.attack_steps == 7
                                     ? kMflopPerImage
                                     : (2.0 * a.attack_steps + 3.0) * model.forward_flops() / 1e6;
  Tensor x_adv, dlogits;
  std::vector<float> per_loss(a.batch);
  std::vector<double> times, attack_times;
  double last_loss = 0;
  for (int b = 0; b < n_batches; ++b) {
    auto t = Clock::now();
    RandomKey key{0, Stream::kRandomStart, uint64_t(b), 0};
    attacker.run(model, xs[b], ys[b].data(), attack, key, x_adv);
    double t_att = seconds_since(t);
    const Tensor& logits = model.forward(x_adv, Mode::kTrain);
    dlogits.resize(logits.shape());
    auto tot = kernels::softmax_xent_cpu(logits.data(), ys[b].data(), a.batch, logits.dim(1), 1.0f / float(a.batch),
                                         dlogits.data(), per_loss.data(), nullptr);
    model.backward(dlogits, false, true);
    sgd.step(model.flat_params(), model.flat_grads(), 0.05);
    double dt = seconds_since(t);
    last_loss = tot.loss_sum / double(a.batch);
    if (b + 1 == a.warmup && a.profile) model.set_profiling(true);
    if (b >= a.warmup) {
      times.push_back(dt);
      attack_times.push_back(t_att);
    }
  }
  std::sort(times.begin(), times.end());
  std::sort(attack_times.begin(), attack_times.end());
  const double med = times[times.size() / 2];
  double sum = 0;
  for (double t : times) sum += t;
  const double gflops = double(a.batch) * mflop_per_image * 1e6 / med / 1e9;
  out.update({{"model", a.model},
              {"attack_steps", a.attack_steps},
              {"attack_bn", a.attack_bn_train ? "train" : "eval"},
              {"attack_precision", precision_name(attack.precision)},
              {"mflop_per_image", mflop_per_image},
              {"fusion", std::getenv("RAMPART_NO_FUSION") ? false : true},
              {"batch", a.batch},
              {"steps", a.steps},
              {"warmup", a.warmup},
              {"step_s_median", med},
              {"step_s_min", times.front()},
              {"step_s_max", times.back()},
              {"attack_s_median", attack_times[attack_times.size() / 2]},
              {"images_per_s", double(a.batch) / med},
              {"images_per_s_mean", double(a.batch) * double(times.size()) / sum},
              {"gflops", gflops},
              {"percent_of_peak", 100.0 * gflops / peak},
              {"last_loss", last_loss}});
  if (a.profile) {
    nlohmann::json prof = model.profile();
    for (auto& p : prof) {
      p["forward_s"] = p["forward_s"].get<double>() / a.steps;
      p["backward_s"] = p["backward_s"].get<double>() / a.steps;
    }
    out["profile_per_step"] = prof;
  }
  out["plan"] = model.execution_plan();
  std::cout << out.dump() << "\n";
  if (!a.json_path.empty()) std::ofstream(a.json_path) << out.dump(2) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train_step: %s\n", e.what());
    return 1;
  }
}
