// What the per-chunk checksums of a dataset cost: the same images stored contiguous (no checksum)
// and in checksummed 64 KiB row chunks (what `rampart data import` writes), opened (the isolated
// first read that verifies every chunk) and read for one epoch in a shuffled order in batches, as
// the trainer reads them. Alternating rounds in one run; the ratio is what counts.
//   build/bin/bench_dataset_reads DATASET.h5 [rounds] [batch]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "runtime/data/dataset.h"
#include "runtime/io/h5.h"

using namespace rampart;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void copy_as(const Dataset& src, const std::string& path, h5::Integrity integrity) {
  std::vector<uint8_t> images(size_t(src.size() * src.image_elems()));
  std::vector<int32_t> labels(size_t(src.size()));
  src.read_range(0, src.size(), images.data(), labels.data());
  h5::write_atomically(path, [&](h5::File& f) {
    f.root().write<uint8_t>("images", {src.size(), src.channels(), src.height(), src.width()}, images, integrity);
    if (src.classes() <= kMaxUInt8Classes)  // as the importers store them
      f.root().write<uint8_t>("labels", {src.size()}, std::vector<uint8_t>(labels.begin(), labels.end()), integrity);
    else
      f.root().write<int64_t>("labels", {src.size()}, std::vector<int64_t>(labels.begin(), labels.end()), integrity);
    f.root().set_attr("classes", int64_t(src.classes()));
  });
}

// One epoch in a shuffled order, `batch` rows at a time; returns {open s, epoch s}.
std::pair<double, double> epoch(const std::string& path, int batch, uint64_t seed) {
  auto t0 = std::chrono::steady_clock::now();
  Dataset set(path);
  const double open_s = seconds_since(t0);
  std::vector<int64_t> order(size_t(set.size()));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  std::vector<uint8_t> images(static_cast<size_t>(batch * set.image_elems()));
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  t0 = std::chrono::steady_clock::now();
  for (size_t b = 0; b < order.size(); b += size_t(batch)) {
    std::vector<int64_t> rows(order.begin() + long(b), order.begin() + long(std::min(order.size(), b + size_t(batch))));
    set.read_rows(rows, images.data(), labels.data());
  }
  return {open_s, seconds_since(t0)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATASET.h5 [rounds] [batch]\n", argv[0]);
    return 64;
  }
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const int batch = argc > 3 ? std::atoi(argv[3]) : 64;
  const std::string dir = "/tmp/rampart-bench-reads." + std::to_string(::getpid());
  std::system(("mkdir -p " + dir).c_str());
  const std::string plain = dir + "/contiguous.h5", summed = dir + "/checksummed.h5";
  {
    Dataset src(argv[1]);
    copy_as(src, plain, h5::Integrity::kNone);
    copy_as(src, summed, h5::Integrity::kChecksumRows);
    std::printf("%lld images of %lld bytes, batch %d, %d alternating rounds\n", (long long)src.size(),
                (long long)src.image_elems(), batch, rounds);
  }
  std::vector<double> open_p, open_s, ep_p, ep_s;
  for (int r = 0; r < rounds; ++r) {
    auto p = epoch(plain, batch, uint64_t(r));
    auto s = epoch(summed, batch, uint64_t(r));
    open_p.push_back(p.first), ep_p.push_back(p.second), open_s.push_back(s.first), ep_s.push_back(s.second);
    std::printf("round %d: contiguous open %.3f s epoch %.3f s | checksummed open %.3f s epoch %.3f s\n", r,
                p.first, p.second, s.first, s.second);
  }
  auto median = [](std::vector<double> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; };
  std::printf("median: contiguous open %.3f s, epoch %.3f s; checksummed open %.3f s, epoch %.3f s; "
              "epoch ratio checksummed/contiguous %.2f\n",
              median(open_p), median(ep_p), median(open_s), median(ep_s), median(ep_s) / median(ep_p));
  std::system(("rm -rf " + dir).c_str());
  return 0;
}
