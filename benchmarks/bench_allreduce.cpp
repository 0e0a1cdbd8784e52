// All-reduce latency and bandwidth across ranks, 4 KB to 16 MB, with a fitted
// alpha-beta model (t = alpha + bytes / bandwidth) for the cost model.
//   mpirun -np 2 build/bin/bench_allreduce [--json out.json] [--backend mpi] [--async]
// Prints a table; writes JSON (default bench_allreduce.json, rank 0). Exit 1 on a wrong sum.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/comm/communicator_factory.h"
#include "cluster/comm/world.h"

using namespace rampart;

namespace {

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  double idx = p * double(v.size() - 1);
  size_t lo = size_t(idx), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (idx - double(lo));
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path = "bench_allreduce.json", backend = "auto";
  bool async = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (a == "--backend" && i + 1 < argc) backend = argv[++i];
    else if (a == "--async") async = true;
    else {
      std::fprintf(stderr, "usage: bench_allreduce [--json PATH] [--backend auto|mpi|self] [--async]\n");
      return 64;
    }
  }
  try {
    World world = detect_world();
    auto comm = make_communicator(world, backend, 120);
    const int n = comm->size(), rank = comm->rank();
    const bool lead = rank == 0;
    nlohmann::json rows = nlohmann::json::array();
    std::vector<double> xs, ys;
    if (lead)
      std::printf("all-reduce (%s%s), %d ranks\n%10s %8s %10s %10s %10s %12s\n", comm->backend().c_str(),
                  async ? ", async+wait" : "", n, "bytes", "reps", "median_us", "p10_us", "p90_us", "busbw_GB/s");
    for (int64_t bytes = 4096; bytes <= (int64_t(16) << 20); bytes *= 4) {
      const int64_t count = bytes / 4;
      std::vector<float> buf(static_cast<size_t>(count));
      const int reps = bytes <= (int64_t(256) << 10) ? 200 : bytes <= (int64_t(4) << 20) ? 40 : 15;
      std::vector<double> times;
      for (int it = -5; it < reps; ++it) {  // 5 warm-up rounds
        std::fill(buf.begin(), buf.end(), 1.0f);
        comm->barrier();
        auto t0 = std::chrono::steady_clock::now();
        if (async)
          comm->allreduce_sum_async(buf.data(), count)->wait();
        else
          comm->allreduce_sum(buf.data(), count);
        double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (buf[0] != float(n) || buf[size_t(count - 1)] != float(n)) {
          std::fprintf(stderr, "bench_allreduce: rank %d: wrong sum %g, expected %d\n", rank, buf[0], n);
          comm->abort(1);
        }
        comm->allreduce_max(&dt, 1);  // the slowest rank's time is the collective's time
        if (it >= 0) times.push_back(dt);
      }
      double med = percentile(times, 0.5), p10 = percentile(times, 0.1), p90 = percentile(times, 0.9);
      // Bus bandwidth (NCCL's convention): a ring moves 2 (n-1)/n of the buffer per rank.
      double busbw = n > 1 ? 2.0 * (n - 1) / n * double(bytes) / med / 1e9 : 0.0;
      xs.push_back(double(bytes));
      ys.push_back(med);
      rows.push_back({{"bytes", bytes}, {"reps", reps}, {"median_s", med}, {"p10_s", p10}, {"p90_s", p90},
                      {"min_s", *std::min_element(times.begin(), times.end())},
                      {"max_s", *std::max_element(times.begin(), times.end())}, {"bus_bandwidth_GBps", busbw}});
      if (lead)
        std::printf("%10lld %8d %10.1f %10.1f %10.1f %12.2f\n", (long long)bytes, reps, med * 1e6, p10 * 1e6,
                    p90 * 1e6, busbw);
    }
    // Least squares fit of t = alpha + beta * bytes.
    double mx = 0, my = 0;
    for (size_t i = 0; i < xs.size(); ++i) { mx += xs[i]; my += ys[i]; }
    mx /= double(xs.size());
    my /= double(xs.size());
    double sxy = 0, sxx = 0;
    for (size_t i = 0; i < xs.size(); ++i) { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) * (xs[i] - mx); }
    double beta = sxx > 0 ? sxy / sxx : 0, alpha = my - beta * mx;
    if (lead) {
      if (n > 1)
        std::printf("fit: t = %.1f us + bytes / (%.2f GB/s)\n", alpha * 1e6, beta > 0 ? 1e-9 / beta : 0.0);
      else
        std::printf("fit: one rank moves no data; nothing to fit\n");
      nlohmann::json out = {{"benchmark", "allreduce"}, {"backend", comm->backend()}, {"ranks", n},
                            {"async", async}, {"results", rows},
                            {"fit", {{"alpha_s", alpha}, {"beta_s_per_byte", beta},
                                     {"bandwidth_GBps", n > 1 && beta > 0 ? 1e-9 / beta : 0.0}}}};
      std::ofstream f(json_path);
      f << out.dump(2) << "\n";
      if (!f) {
        std::fprintf(stderr, "bench_allreduce: cannot write %s\n", json_path.c_str());
        comm->abort(74);
      }
      std::printf("wrote %s\n", json_path.c_str());
    }
    comm->barrier();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_allreduce: %s\n", e.what());
    return 1;
  }
  return 0;
}
