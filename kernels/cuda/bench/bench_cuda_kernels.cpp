// bench_cuda_kernels: the one stack's memory-bound kernels (bias gradient, batch
// norm, average pooling, normalisation, add) in GB/s against the device's peak
// bandwidth; cuDNN's algorithm record with convolution times for small-cnn's and a
// CIFAR ResNet's shapes; and the caching allocator's cudaMalloc count over steps.
//   bench_cuda_kernels [--reps R] [--out FILE.json]
// Each kernel is checked against a host loop before it is timed. Prints a table
// and one JSON object (also written to --out). Without a GPU it says so and exits
// 0; a failed check or a CUDA error exits 1.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/arith.cuh"
#include "kernels/cuda/avgpool.cuh"
#include "kernels/cuda/batchnorm.cuh"
#include "kernels/cuda/bench/bench_timing.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/eltwise.cuh"
#include "kernels/cuda/normalize.cuh"

namespace {

using namespace rampart::cuda;

using bench::Stats;

// Three untimed warm-up runs, then `reps` timed ones.
Stats time_it(cudaStream_t stream, int reps, const std::function<void()>& f) { return bench::time_it(stream, 3, reps, f); }

std::vector<float> random_vector(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

// A device copy of v that frees itself.
struct Dev {
  float* p = nullptr;
  size_t n = 0;
  explicit Dev(const std::vector<float>& v) : n(v.size()) {
    CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(float)));
    CUDA_CHECK(cudaMemcpy(p, v.data(), n * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaDeviceSynchronize());
  }
  explicit Dev(size_t count) : Dev(std::vector<float>(count, 0.f)) {}
  ~Dev() { cudaFree(p); }
  std::vector<float> host() const {
    CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<float> v(n);
    CUDA_CHECK(cudaMemcpy(v.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost));
    return v;
  }
};

void require_close(const std::vector<float>& got, const std::vector<double>& want, double tol,
                   const std::string& what) {
  for (size_t i = 0; i < want.size(); ++i)
    if (!(std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i]))))
      throw std::runtime_error(what + ": check failed at " + std::to_string(i) + ": GPU " +
                               std::to_string(got[i]) + ", host " + std::to_string(want[i]));
}

int run(int argc, char** argv) {
  int reps = 50;
  std::string out_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--reps" && i + 1 < argc) reps = std::stoi(argv[++i]);
    else if (a == "--out" && i + 1 < argc) out_path = argv[++i];
    else throw std::invalid_argument("usage: bench_cuda_kernels [--reps R] [--out FILE.json]");
  }
  if (cuda_device_count() == 0) {
    std::cout << "bench_cuda_kernels: no CUDA device (" << cuda_unavailable_reason() << ")\n";
    return 0;
  }
  const DeviceInfo info = device_info(0);
  CUDA_CHECK(cudaSetDevice(0));
  cudaStream_t s = context().stream();
  nlohmann::json results = nlohmann::json::array();
  auto record = [&](const std::string& name, const std::string& shape, double bytes,
                    const std::function<void()>& f) {
    Stats t = time_it(s, reps, f);
    const double gbs = bytes / (t.median_ms * 1e-3) / 1e9;
    std::printf("%-28s %-26s %9.4f ms  [%8.4f, %8.4f]  %8.1f GB/s  %5.1f%% of peak\n", name.c_str(),
                shape.c_str(), t.median_ms, t.min_ms, t.max_ms, gbs,
                100 * gbs / info.memory_bandwidth_gbs);
    results.push_back({{"kernel", name}, {"shape", shape}, {"median_ms", t.median_ms},
                       {"min_ms", t.min_ms}, {"max_ms", t.max_ms}, {"bytes", bytes}, {"gbs", gbs},
                       {"fraction_of_peak", gbs / info.memory_bandwidth_gbs}});
  };
  std::printf("%s: %d SMs, peak %.0f GB/s\n", info.name.c_str(), info.sm_count,
              info.memory_bandwidth_gbs);

  // Bias gradient at small-cnn conv1, batch 128 (review C1): 100352 x 32.
  {
    const int64_t rows = 128 * 28 * 28;
    const int cols = 32;
    auto dy = random_vector(size_t(rows) * cols, -1, 1, 1);
    Dev d(dy), db{size_t(cols)};
    bias_backward(d.p, rows, cols, db.p, false, s);
    std::vector<double> want(cols, 0.0);
    for (size_t i = 0; i < dy.size(); ++i) want[i % cols] += dy[i];
    require_close(db.host(), want, 1e-3, "bias_backward");
    record("bias_backward", "100352x32", 4.0 * rows * cols,
           [&] { bias_backward(d.p, rows, cols, db.p, false, s); });
  }
  // Batch norm at a ResNet block: [128, 32, 32, 64] NHWC.
  {
    const int64_t rows = 128 * 32 * 32;
    const int c = 64;
    const size_t n = size_t(rows) * c;
    auto x = random_vector(n, -1, 3, 2);
    Dev x_(x), y_(n), dy_(random_vector(n, -1, 1, 3)), dx_(n), g_(std::vector<float>(c, 1.f)),
        b_(std::vector<float>(c, 0.f)), rm_{size_t(c)}, rv_(std::vector<float>(c, 1.f)),
        st_{size_t(kBnStats) * c}, dg_{size_t(c)}, db_{size_t(c)};
    batchnorm_forward_train(x_.p, rows, c, g_.p, b_.p, 1e-5, 0.1, rm_.p, rv_.p, st_.p, y_.p, s);
    std::vector<double> mean(c, 0.0);
    for (size_t i = 0; i < n; ++i) mean[i % c] += x[i];
    for (auto& m : mean) m /= double(rows);
    auto st = st_.host();
    require_close(std::vector<float>(st.begin(), st.begin() + c), mean, 1e-5, "batchnorm mean");
    // Forward reads x twice (two passes) and x once more to write y.
    record("batchnorm_forward_train", "[128,32,32,64]", 4.0 * n * 4, [&] {
      batchnorm_forward_train(x_.p, rows, c, g_.p, b_.p, 1e-5, 0.1, rm_.p, rv_.p, st_.p, y_.p, s);
    });
    // Backward reads x, dy for the sums, then x, dy again and writes dx.
    record("batchnorm_backward", "[128,32,32,64]", 4.0 * n * 5, [&] {
      batchnorm_backward(x_.p, dy_.p, rows, c, g_.p, st_.p, true, dx_.p, dg_.p, db_.p, s);
    });
  }
  // Average pooling: ResNet's global head [128, 8, 8, 512], and a 2x2 pool.
  {
    const Pool2dShape head{128, 8, 8, 512, 8, 8, 1, 1, 0, 0}, pool2{128, 32, 32, 64, 2, 2, 2, 2, 0, 0};
    for (const Pool2dShape& p : {head, pool2}) {
      const size_t nin = size_t(p.n) * p.h * p.w * p.c, nout = size_t(p.n) * p.out_h() * p.out_w() * p.c;
      Dev x_(random_vector(nin, -1, 1, 4)), y_(nout), dy_(random_vector(nout, -1, 1, 5)), dx_(nin);
      const std::string shape = "[" + std::to_string(p.n) + "," + std::to_string(p.h) + "," +
                                std::to_string(p.w) + "," + std::to_string(p.c) + "] k" +
                                std::to_string(p.kh);
      record("avgpool2d_forward", shape, 4.0 * (nin + nout), [&] { avgpool2d_forward(p, x_.p, y_.p, s); });
      record("avgpool2d_backward", shape, 4.0 * (nin + nout), [&] { avgpool2d_backward(p, dy_.p, dx_.p, s); });
    }
  }
  // Normalize and add at a CIFAR batch / a residual block.
  {
    const int64_t rows = 128 * 32 * 32;
    const size_t n3 = size_t(rows) * 3, n64 = size_t(rows) * 64;
    Dev x_(random_vector(n3, 0, 1, 6)), y_(n3), m_(std::vector<float>{0.49f, 0.48f, 0.45f}),
        sd_(std::vector<float>{0.25f, 0.24f, 0.26f});
    record("normalize_forward", "[128,32,32,3]", 8.0 * n3,
           [&] { normalize_forward(x_.p, m_.p, sd_.p, y_.p, rows, 3, s); });
    Dev a_(random_vector(n64, -1, 1, 7)), b_(random_vector(n64, -1, 1, 8)), c_(n64);
    record("add", "[128,32,32,64]", 12.0 * n64, [&] { add(a_.p, b_.p, c_.p, int64_t(n64), s); });
    record("add_inplace", "[128,32,32,64]", 12.0 * n64, [&] { add_inplace(c_.p, a_.p, int64_t(n64), s); });
  }

  // cuDNN: the algorithm record and the three directions' times per shape.
  nlohmann::json conv_results = nlohmann::json::array();
  {
    const ConvShape shapes[] = {{128, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1},   {128, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1},
                                {128, 3, 32, 32, 64, 3, 3, 1, 1, 1, 1},   {128, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1},
                                {128, 128, 16, 16, 128, 3, 3, 1, 1, 1, 1}, {128, 256, 8, 8, 256, 3, 3, 1, 1, 1, 1}};
    CudnnConv& conv = context().conv();
    for (const ConvShape& sh : shapes) {
      const size_t nx = size_t(sh.n) * sh.h * sh.w * sh.c, nw = size_t(sh.k) * sh.c * sh.r * sh.s;
      const size_t ny = size_t(sh.n) * sh.out_h() * sh.out_w() * sh.k;
      Dev x_(random_vector(nx, -1, 1, 9)), w_(random_vector(nw, -1, 1, 10)), y_(ny),
          dy_(random_vector(ny, -1, 1, 11)), dx_(nx), dw_(nw);
      const double flops = 2.0 * double(ny) * sh.c * sh.r * sh.s;
      nlohmann::json j = {{"shape", describe(sh)}, {"gflop_per_direction", flops / 1e9}};
      for (const char* dir : {"forward", "backward-data", "backward-filter"}) {
        std::function<void()> f;
        if (std::string(dir) == "forward") f = [&] { conv.forward(sh, x_.p, w_.p, y_.p, s); };
        else if (std::string(dir) == "backward-data") f = [&] { conv.backward_data(sh, dy_.p, w_.p, dx_.p, s); };
        else f = [&] { conv.backward_filter(sh, x_.p, dy_.p, dw_.p, false, s); };
        Stats t = time_it(s, std::max(5, reps / 5), f);
        j[dir] = {{"median_ms", t.median_ms}, {"tflops", flops / (t.median_ms * 1e-3) / 1e12}};
        std::printf("conv %-16s %-70s %8.4f ms %7.2f TFLOP/s\n", dir, describe(sh).c_str(),
                    t.median_ms, flops / (t.median_ms * 1e-3) / 1e12);
      }
      conv_results.push_back(j);
    }
    std::cout << "cuDNN algorithm record:\n" << conv.algorithm_report();
  }
  nlohmann::json record_json = nlohmann::json::array();
  for (const auto& c : context().conv().algorithm_record())
    record_json.push_back({{"shape", describe(c.shape)}, {"direction", c.direction},
                           {"algorithm", c.algorithm}, {"name", c.name},
                           {"deterministic", c.deterministic}, {"workspace_bytes", c.workspace_bytes}});

  // Allocator: a step pattern; cudaMalloc calls must stop after the first step.
  const AllocatorStats before = allocator_stats();
  for (int step = 0; step < 20; ++step) {
    std::vector<void*> ps;
    for (size_t b : {size_t(1) << 12, size_t(3) << 20, size_t(25) << 20}) ps.push_back(device_alloc(b, s));
    for (void* p : ps) device_free(p);
  }
  const AllocatorStats after = allocator_stats();
  const int64_t new_mallocs = after.malloc_calls - before.malloc_calls;
  std::printf("allocator: %lld cudaMalloc calls over 20 steps (3 expected), %zu B cached\n",
              (long long)new_mallocs, after.bytes_cached);

  synchronize();
  nlohmann::json j = {{"device", info.name}, {"sm_count", info.sm_count},
                      {"peak_gbs", info.memory_bandwidth_gbs}, {"reps", reps},
                      {"kernels", results}, {"conv", conv_results},
                      {"cudnn_algorithm_record", record_json},
                      {"allocator", {{"malloc_calls_over_20_steps", new_mallocs},
                                     {"bytes_cached", after.bytes_cached}}}};
  std::cout << j.dump() << "\n";
  if (!out_path.empty()) std::ofstream(out_path) << j.dump(2) << "\n";
  if (new_mallocs > 3) throw std::runtime_error("allocator: cudaMalloc in the steady state");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench_cuda_kernels: " << e.what() << "\n";
    return 1;
  }
}
