// Reader for IDX files, the format of MNIST and Fashion-MNIST, gzip-compressed or not:
// big-endian magic 0x00000803 + N, H, W for uint8 images, 0x00000801 + N for labels.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rampart {

struct IdxImages {
  int64_t n = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // [n, rows, cols], row-major
};

struct IdxLabels {
  int64_t n = 0;
  std::vector<uint8_t> labels;  // [n]
};

// Throw MissingInput if the file is absent and DataError (exit 65) for a wrong
// magic, a truncated or corrupt file, or trailing bytes after the data.
IdxImages read_idx_images(const std::string& path);
IdxLabels read_idx_labels(const std::string& path);

}  // namespace rampart
