// SVHN fixtures shared by the MAT-file reader's and the SVHN importer's tests: the scipy-made
// files in tests/data/svhn-* (tests/data/README.md), their pixel formula, and MAT variables
// X and y written here.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/data/dataset.h"
#include "tests/runtime/test_data_util.h"
#include "tests/runtime/test_mat_util.h"

namespace rampart::testing::svhn {

namespace fs = std::filesystem;

inline const std::string kZlib = std::string(RAMPART_TESTDATA) + "/svhn-zlib";
inline const std::string kPlain = std::string(RAMPART_TESTDATA) + "/svhn-plain";

// The fixtures' X[r, c, k, i] (tests/data/README.md).
inline uint8_t svhn_pixel(int r, int c, int k, int i, int seed) { return uint8_t((7 * r + 13 * c + 50 * k + 31 * i + seed) % 256); }

// X as MATLAB stores it (column-major [32, 32, 3, n]) and y [n, 1] double.
inline std::vector<uint8_t> x_bytes(int n, int seed) {
  std::vector<uint8_t> x(size_t(32 * 32 * 3 * n));
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < 3; ++k)
      for (int c = 0; c < 32; ++c)
        for (int r = 0; r < 32; ++r) x[size_t(r + 32 * c + 1024 * k + 3072 * i)] = svhn_pixel(r, c, k, i, seed);
  return x;
}
inline MatVar x_var(int n, int seed, bool compress = false) {
  return {"X", 9, 2, 1, {32, 32, 3, n}, x_bytes(n, seed), false, compress};
}
inline MatVar y_var(const std::vector<double>& y, bool compress = false) {
  return {"y", 6, 9, 8, {int32_t(y.size()), 1}, le_bytes(y), false, compress};
}

inline void expect_svhn_images(const Dataset& ds, int seed) {
  std::vector<uint8_t> img(3 * 32 * 32);
  std::vector<int32_t> label(1);
  for (int64_t i = 0; i < ds.size(); ++i) {
    ds.read_range(i, i + 1, img.data(), label.data());
    for (int k = 0; k < 3; ++k)
      for (int r = 0; r < 32; ++r)
        for (int c = 0; c < 32; ++c)
          ASSERT_EQ(img[size_t((k * 32 + r) * 32 + c)], svhn_pixel(r, c, k, int(i), seed))
              << "image " << i << " channel " << k << " row " << r << " col " << c;
  }
}

inline void copy_dir(const std::string& from, const std::string& to) {
  fs::create_directories(to);
  for (auto& e : fs::directory_iterator(from)) fs::copy_file(e.path(), fs::path(to) / e.path().filename());
}

}  // namespace rampart::testing::svhn
