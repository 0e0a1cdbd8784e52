// Fashion-MNIST in HDF5 for end-to-end tests: imported once per test binary
// from Debian's dataset-fashion-mnist into a temporary folder; and what training
// tests share: a fresh output folder next to it, an observer that stops a run.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cluster/train/trainer.h"
#include "runtime/data/import.h"

namespace rampart::testing {

struct FmnistFiles {
  std::string dir, train, test;
};

inline const FmnistFiles& fmnist() {
  static FmnistFiles f = [] {
    FmnistFiles r;
    r.dir = (std::filesystem::temp_directory_path() / ("rampart-e2e-" + std::to_string(::getpid()))).string();
    std::filesystem::create_directories(r.dir);
    const std::string src = RAMPART_FMNIST;
    r.train = r.dir + "/train.h5";
    r.test = r.dir + "/test.h5";
    import_idx(src + "/train-images-idx3-ubyte.gz", src + "/train-labels-idx1-ubyte.gz", r.train, "fmnist train");
    import_idx(src + "/t10k-images-idx3-ubyte.gz", src + "/t10k-labels-idx1-ubyte.gz", r.test, "fmnist test");
    return r;
  }();
  return f;
}

// An empty folder `name` beside the imported data.
inline std::string fresh_dir(const std::string& name) {
  auto d = std::filesystem::path(fmnist().dir) / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

// Stops the run (as SIGTERM would) once the trainer reports step `at`.
struct StopAt : TrainObserver {
  explicit StopAt(int64_t at) : at(at) {}
  void on_step(const StepInfo& s) override {
    if (s.step == at) stop_requested().store(1);
  }
  int64_t at;
};

}  // namespace rampart::testing
