// bench_cuda_pgd: the PGD kernels' achieved memory bandwidth against the GPU's
// peak, and an attack step loop as plain launches against CUDA-graph replay.
//   bench_cuda_pgd [--n ELEMENTS] [--reps R] [--out FILE.json]
// Prints a table and one JSON object (also written to --out). Without a GPU it
// says so and exits 0; a failed check or CUDA error exits 1.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/common/pgd_math.h"
#include "kernels/cuda/attack_loop.h"
#include "kernels/cuda/bench/bench_timing.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/grad_buckets.cuh"
#include "kernels/cuda/pgd.cuh"
#include "kernels/cuda/softmax_xent.cuh"

namespace {

using namespace rampart::cuda;

using bench::Stats;
using bench::time_it;

float* device_copy(const std::vector<float>& v, size_t slack = 4) {
  float* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, (v.size() + slack) * sizeof(float)));
  CUDA_CHECK(cudaMemcpy(p, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice));
  return p;
}

std::vector<float> random_vector(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

// Validates before timing: the step on an awkward size must equal the host loop.
void validate(cudaStream_t stream) {
  const size_t n = 1000003;
  auto xc = random_vector(n, 0, 1, 1), xa = random_vector(n, 0, 1, 2), g = random_vector(n, -1, 1, 3);
  float *dxa = device_copy(xa), *dg = device_copy(g), *dxc = device_copy(xc);
  pgd_linf_step(dxa, dg, dxc, int64_t(n), 0.01f, 0.03f, stream);
  std::vector<float> out(n);
  CUDA_CHECK(cudaMemcpyAsync(out.data(), dxa, n * sizeof(float), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  for (size_t i = 0; i < n; ++i) {
    float e = rampart::kernels::pgd_linf_update(xa[i], g[i], xc[i], 0.01f, 0.03f);
    if (std::memcmp(&e, &out[i], sizeof e) != 0)
      throw std::runtime_error("validation failed at element " + std::to_string(i) + ": GPU " +
                               std::to_string(out[i]) + ", host " + std::to_string(e));
  }
  for (float* p : {dxa, dg, dxc}) CUDA_CHECK(cudaFree(p));
}

int run(int argc, char** argv) {
  int64_t n = int64_t(1) << 26;  // 256 MiB a tensor: far beyond any L2 cache
  int reps = 30;
  std::string out_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--n") n = std::stoll(next());
    else if (a == "--reps") reps = std::stoi(next());
    else if (a == "--out") out_path = next();
    else throw std::invalid_argument("unknown argument " + a + " (expected --n, --reps, --out)");
  }
  if (n < 4 || reps < 1) throw std::invalid_argument("need --n >= 4 and --reps >= 1");

  if (cuda_device_count() == 0) {
    std::cout << "bench_cuda_pgd: no CUDA device (" << cuda_unavailable_reason()
              << "); nothing to measure\n";
    return 0;
  }
  const int dev = select_device_for_local_rank(0);
  const DeviceInfo info = device_info(dev);
  cudaStream_t stream;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  validate(stream);

  auto xc = random_vector(size_t(n), 0, 1, 4), g = random_vector(size_t(n), -1, 1, 5);
  float *dxa = device_copy(xc), *dg = device_copy(g), *dxc = device_copy(xc);
  const RandomStartKey key{1, 3, 0, 0};
  nlohmann::json results = nlohmann::json::array();
  std::printf("%s: %d SMs, %.0f GB/s peak (2 x memory clock x bus width)\n", info.name.c_str(),
              info.sm_count, info.memory_bandwidth_gbs);
  std::printf("%-34s %12s %10s %10s %10s %8s\n", "kernel", "elements", "median ms", "min ms",
              "max ms", "GB/s");
  auto report = [&](const std::string& name, int64_t elems, double bytes_per_elem, Stats s) {
    const double gbs = double(elems) * bytes_per_elem / (s.median_ms * 1e-3) / 1e9;
    std::printf("%-34s %12lld %10.4f %10.4f %10.4f %8.1f  (%.0f%% of peak)\n", name.c_str(),
                (long long)elems, s.median_ms, s.min_ms, s.max_ms, gbs,
                100 * gbs / info.memory_bandwidth_gbs);
    results.push_back({{"kernel", name}, {"elements", elems}, {"bytes_per_element", bytes_per_elem},
                       {"median_ms", s.median_ms}, {"min_ms", s.min_ms}, {"max_ms", s.max_ms},
                       {"gb_per_s", gbs}, {"fraction_of_peak", gbs / info.memory_bandwidth_gbs}});
  };

  // Bytes that must move: the L-inf step reads x_adv, grad, x_clean and writes x_adv.
  report("pgd_linf_step (float4)", n, 16, time_it(stream, 3, reps, [&] {
           pgd_linf_step(dxa, dg, dxc, n, 0.01f, 0.03f, stream);
         }));
  report("pgd_linf_step (unaligned, scalar)", n - 1, 16, time_it(stream, 3, reps, [&] {
           pgd_linf_step(dxa + 1, dg + 1, dxc + 1, n - 1, 0.01f, 0.03f, stream);
         }));
  report("random_start", n, 8, time_it(stream, 3, reps, [&] {
           random_start(dxa, dxc, n, 0.03f, key, stream);
         }));
  report("pgd_linf_first_step (fused start)", n, 12, time_it(stream, 3, reps, [&] {
           pgd_linf_first_step(dxa, dg, dxc, n, 0.01f, 0.03f, key, stream);
         }));
  // The L2 step's three passes touch 32 bytes an element (less where the cache
  // keeps an example between passes); 16 is the floor of one fused pass, used
  // here so the rows compare directly.
  const int64_t dim = 3072, batch = n / dim;
  report("pgd_l2_step (3072 per example)", batch * dim, 16, time_it(stream, 3, reps, [&] {
           pgd_l2_step(dxa, dg, dxc, batch, dim, 0.1f, 0.5f, stream);
         }));

  // An attack step on a training batch (128 x 1 x 28 x 28): a small loss kernel,
  // the PGD step and a scale, standing in for forward/backward. Launch overhead
  // matters at this size; the graph replays all three with one launch.
  const int64_t small = 128 * 784;
  const int steps = 10;
  int32_t* labels = nullptr;
  float *logits = nullptr, *dlogits = nullptr, *loss = nullptr;
  uint8_t* correct = nullptr;
  CUDA_CHECK(cudaMalloc(&labels, 128 * sizeof(int32_t)));
  CUDA_CHECK(cudaMemsetAsync(labels, 0, 128 * sizeof(int32_t), stream));
  CUDA_CHECK(cudaMalloc(&logits, 1280 * sizeof(float)));
  CUDA_CHECK(cudaMemsetAsync(logits, 0, 1280 * sizeof(float), stream));
  CUDA_CHECK(cudaMalloc(&dlogits, 1280 * sizeof(float)));
  CUDA_CHECK(cudaMalloc(&loss, 128 * sizeof(float)));
  CUDA_CHECK(cudaMalloc(&correct, 128));
  EnqueueStep step = [&](cudaStream_t s) {
    softmax_xent(logits, labels, 128, 10, 1.f / 128, dlogits, loss, correct, nullptr, s);
    pgd_linf_step(dxa, dg, dxc, small, 0.01f, 0.03f, s);
    scale_inplace(dg, small, 1.f, s);
  };
  Stats plain = time_it(stream, 3, reps, [&] { run_attack_steps(steps, stream, step, nullptr); });
  AttackGraph graph;
  graph.capture(stream, step);
  Stats replay = time_it(stream, 3, reps, [&] { run_attack_steps(steps, stream, step, &graph); });
  std::printf("attack loop, %d steps of 3 kernels on %lld pixels: launches %.1f us/step, "
              "graph %.1f us/step (%.2fx)\n",
              steps, (long long)small, plain.median_ms * 1e3 / steps, replay.median_ms * 1e3 / steps,
              plain.median_ms / replay.median_ms);

  nlohmann::json j = {
      {"benchmark", "bench_cuda_pgd"},
      {"device", {{"name", info.name}, {"sm_count", info.sm_count},
                  {"compute_capability", std::to_string(info.cc_major) + "." + std::to_string(info.cc_minor)},
                  {"peak_memory_bandwidth_gb_per_s", info.memory_bandwidth_gbs}}},
      {"reps", reps},
      {"kernels", results},
      {"attack_loop", {{"steps", steps}, {"pixels", small}, {"kernels_per_step", 3},
                       {"launches_us_per_step", plain.median_ms * 1e3 / steps},
                       {"graph_us_per_step", replay.median_ms * 1e3 / steps},
                       {"speedup", plain.median_ms / replay.median_ms}}}};
  std::cout << j.dump() << "\n";
  if (!out_path.empty()) {
    std::ofstream f(out_path);
    f << j.dump(2) << "\n";
    if (!f) throw std::runtime_error("cannot write " + out_path);
  }
  for (void* p : std::initializer_list<void*>{dxa, dg, dxc, labels, logits, dlogits, loss, correct})
    CUDA_CHECK(cudaFree(p));
  CUDA_CHECK(cudaStreamDestroy(stream));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda_pgd: %s\n", e.what());
    return 1;
  }
}
