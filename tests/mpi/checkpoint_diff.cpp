// Compares two rampart checkpoints array by array (a tool for the multi-rank
// training tests; not an MPI program, though tests/scripts/mpi.cmake builds it
// with them).
//   checkpoint_diff A.h5 B.h5 --exact       every /model and /optimizer array, the
//                                           carried perturbations (/attack) and the
//                                           step must be equal bit for bit
//   checkpoint_diff A.h5 B.h5 --tol 1e-5    every /model value within
//                                           tol * max(1, |a|) of the other
// Prints one line per array and a summary "max abs diff X, max rel diff Y over N
// values"; exit 0 when the check holds, 1 when it does not, 2 on a usage error.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "runtime/checkpoint.h"

using namespace rampart;

namespace {

struct Diff {
  double max_abs = 0, max_rel = 0;
  int64_t values = 0, differing = 0, beyond_tol = 0;
};

using Arrays = std::vector<std::pair<std::string, NamedArray>>;

bool compare(const char* group, const Arrays& a, const Arrays& b, bool exact, double tol, Diff& total,
             bool verbose) {
  bool ok = true;
  if (a.size() != b.size()) {
    std::printf("%s: %zu arrays vs %zu\n", group, a.size(), b.size());
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& [name, x] = a[i];
    const auto& [name_b, y] = b[i];
    if (name != name_b || x.shape != y.shape || x.data.size() != y.data.size()) {
      std::printf("%s/%s: name or shape differs from %s/%s\n", group, name.c_str(), group, name_b.c_str());
      ok = false;
      continue;
    }
    Diff d;
    for (size_t k = 0; k < x.data.size(); ++k) {
      const float u = x.data[k], v = y.data[k];
      ++d.values;
      if (std::memcmp(&u, &v, sizeof u) != 0) ++d.differing;
      const double ad = std::fabs(double(u) - double(v));
      const double rd = ad / std::max(1e-30, std::max(std::fabs(double(u)), std::fabs(double(v))));
      if (!(ad <= tol * std::max(1.0, std::fabs(double(u))))) ++d.beyond_tol;  // NaN counts as beyond
      d.max_abs = std::max(d.max_abs, std::isnan(ad) ? INFINITY : ad);
      if (ad > 0) d.max_rel = std::max(d.max_rel, rd);
    }
    if (verbose || d.differing)
      std::printf("%s/%-20s %8lld values, %8lld differ, max abs diff %.3g, max rel diff %.3g\n", group,
                  name.c_str(), (long long)d.values, (long long)d.differing, d.max_abs, d.max_rel);
    if (exact ? d.differing != 0 : d.beyond_tol != 0) ok = false;
    total.max_abs = std::max(total.max_abs, d.max_abs);
    total.max_rel = std::max(total.max_rel, d.max_rel);
    total.values += d.values;
    total.differing += d.differing;
    total.beyond_tol += d.beyond_tol;
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  bool exact = false, verbose = false;
  double tol = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--exact") exact = true;
    else if (a == "--verbose" || a == "-v") verbose = true;
    else if (a == "--tol" && i + 1 < argc) tol = std::stod(argv[++i]);
    else files.push_back(a);
  }
  if (files.size() != 2 || (exact == (tol >= 0))) {
    std::fprintf(stderr, "usage: checkpoint_diff A.h5 B.h5 (--exact | --tol X) [--verbose]\n");
    return 2;
  }
  try {
    Checkpoint a = read_checkpoint(files[0]), b = read_checkpoint(files[1]);
    bool ok = true;
    if (a.arch != b.arch) { std::printf("arch_json differs\n"); ok = false; }
    if (a.step != b.step) {
      std::printf("step differs: %lld vs %lld\n", (long long)a.step, (long long)b.step);
      ok = false;
    }
    Diff model, opt;
    ok = compare("model", a.model, b.model, exact, exact ? 0 : tol, model, verbose) && ok;
    // Momentum must match too for a bitwise resume; under a tolerance it is not compared
    // (it is a sum of gradients, so its relative error is larger and says nothing new).
    if (exact) ok = compare("optimizer", a.optimizer, b.optimizer, true, 0, opt, verbose) && ok;
    if (exact && (a.carried_examples || b.carried_examples)) {
      // Compared a piece at a time: a store may not fit in memory twice.
      int64_t differ = 0;
      if (a.carried_examples != b.carried_examples || a.carried_dim != b.carried_dim) {
        std::printf("attack: carried perturbations of %lld x %lld vs %lld x %lld\n", (long long)a.carried_examples,
                    (long long)a.carried_dim, (long long)b.carried_examples, (long long)b.carried_dim);
        ok = false;
      } else {
        const int64_t piece = std::max<int64_t>(1, (int64_t(64) << 20) / a.carried_dim);
        for (int64_t r = 0; r < a.carried_examples; r += piece) {
          const int64_t e = std::min(a.carried_examples, r + piece);
          const CarriedRowsRead x = read_carried_rows(files[0], r, e), y = read_carried_rows(files[1], r, e);
          for (int64_t i = 0; i < e - r; ++i)
            differ += x.scale[i] != y.scale[i] ||
                      std::memcmp(&x.codes[i * a.carried_dim], &y.codes[i * a.carried_dim], a.carried_dim) != 0;
        }
        std::printf("attack: carried perturbations: %lld of %lld examples differ\n", (long long)differ,
                    (long long)a.carried_examples);
        ok = ok && differ == 0;
      }
    }
    std::printf("checkpoint_diff: model: max abs diff %.3g, max rel diff %.3g, %lld of %lld values differ",
                model.max_abs, model.max_rel, (long long)model.differing, (long long)model.values);
    if (exact) std::printf("; optimizer: %lld of %lld values differ", (long long)opt.differing, (long long)opt.values);
    else std::printf("; %lld beyond tol %g", (long long)model.beyond_tol, tol);
    std::printf(" (step %lld)\ncheckpoint_diff: %s\n", (long long)a.step, ok ? "same" : "DIFFERENT");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "checkpoint_diff: %s\n", e.what());
    return 2;
  }
}
