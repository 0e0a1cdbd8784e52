// A dataset in the layout of DESIGN.md, opened and validated once:
// /images uint8 [N, C, H, W], /labels uint8 [N] (or int64 [N] where classes > 256), attrs
// classes and source. Each rank reads only the rows it needs (hyperslab reads); labels stay in
// memory as int32 (4N bytes), whatever their stored type.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/io/h5.h"
#include "runtime/tensor.h"

namespace rampart {

// The most classes a dataset may declare (attribute 'classes'): far above ImageNet-21k's 21841;
// a larger count is taken for a corrupt attribute or a wrong --in, and refused.
constexpr int64_t kMaxClasses = 1000000;
// Importers store labels as uint8 up to this many classes, as int64 above it.
constexpr int64_t kMaxUInt8Classes = 256;

class Dataset {
 public:
  // MissingInput if absent; DataError for anything not in the layout above (missing
  // /images or /labels, wrong dtype or rank, N mismatch, classes outside [1, kMaxClasses],
  // a label outside [0, classes)).
  // limit >= 0 keeps only the first `limit` rows (--limit).
  explicit Dataset(const std::string& path, int64_t limit = -1);

  int64_t size() const { return n_; }  // N after the limit
  int64_t channels() const { return c_; }
  int64_t height() const { return h_; }
  int64_t width() const { return w_; }
  int64_t image_elems() const { return c_ * h_ * w_; }
  Shape image_shape() const { return {c_, h_, w_}; }
  int classes() const { return classes_; }
  const std::string& source() const { return source_; }
  const std::string& path() const { return path_; }
  const std::vector<int32_t>& labels() const { return labels_; }

  // Rows in the order given (shuffled is fine): images_out gets indices.size() images
  // [C, H, W] each, labels_out as many labels. Consecutive indices share one read.
  void read_rows(const std::vector<int64_t>& indices, uint8_t* images_out, int32_t* labels_out) const;
  // Reads every row once when the images take at most 1 GiB, which verifies the checksum of
  // every chunk (datasets written by `rampart data import` carry them); the constructor does this
  // in an isolated child process (h5::read_isolated), so a corrupt file is refused on open.
  void read_all_once() const;
  // Rows [begin, end) in one read.
  void read_range(int64_t begin, int64_t end, uint8_t* images_out, int32_t* labels_out) const;

 private:
  void check_rows(int64_t begin, int64_t end) const;

  std::string path_;
  h5::File file_;
  h5::Dataset images_;
  int64_t n_ = 0, c_ = 0, h_ = 0, w_ = 0;
  int classes_ = 0;
  std::string source_;
  std::vector<int32_t> labels_;
};

// uint8 images, logical [n, c, h, w] stored NCHW, to a float tensor in [0, 1]
// (x / 255) of shape [n, c, h, w] stored channels-last (NHWC), as layers expect.
void images_to_tensor(const uint8_t* images, int64_t n, int64_t c, int64_t h, int64_t w, Tensor& out);

}  // namespace rampart
