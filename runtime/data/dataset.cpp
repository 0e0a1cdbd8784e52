// Dataset: validation on open, shard reads (see dataset.h).
#include "runtime/data/dataset.h"

#include <algorithm>
#include <stdexcept>

#include "runtime/errors.h"

namespace rampart {
namespace {
const std::string kHint = " (expected a rampart dataset: `rampart data import` writes one)";

// Up to this many bytes of images, the isolated first read (h5::read_isolated) reads every row
// once, verifying every chunk's checksum on load; beyond it, checksums are verified as rows are
// read.
constexpr int64_t kVerifyOnOpenBytes = int64_t(1) << 30;

h5::File open_checked(const std::string& path, int64_t limit) {
  h5::read_isolated(path, [&] { Dataset(path, limit).read_all_once(); });
  return h5::File::open(path);
}

h5::Dataset open_images(const h5::File& f) {
  if (!f.root().is_dataset("images")) throw DataError(f.path() + ": missing dataset /images" + kHint);
  return f.root().dataset("images");
}
}  // namespace

Dataset::Dataset(const std::string& path, int64_t limit)
    : path_(path), file_(open_checked(path, limit)), images_(open_images(file_)) {
  const std::string& hint = kHint;
  if (!file_.root().is_dataset("labels")) throw DataError(path + ": missing dataset /labels" + hint);
  h5::Dataset labels = file_.root().dataset("labels");
  images_.require(h5::DType::kUInt8, 4, "[N, C, H, W]");
  const bool wide_labels = labels.dtype() == h5::DType::kInt64;
  if ((labels.dtype() != h5::DType::kUInt8 && !wide_labels) || labels.rank() != 1)
    throw DataError(labels.where() + ": expected uint8 [N] or int64 [N] (int64 where there are more than " +
                    std::to_string(kMaxUInt8Classes) + " classes), found " + labels.dtype_str() + " " +
                    shape_str(labels.shape()));
  const Shape& s = images_.shape();
  if (labels.shape()[0] != s[0])
    throw DataError(path + ": /images holds " + std::to_string(s[0]) + " images but /labels holds " +
                    std::to_string(labels.shape()[0]) + " labels; expected the same N");
  // Refused here, where the file is named, not later as "0 steps per epoch" from a planner.
  if (s[0] < 1)
    throw DataError(path + ": /images holds 0 images (shape " + shape_str(s) +
                    "); expected at least 1: import a non-empty set with `rampart data import`");
  if (!file_.root().has_attr("classes")) throw DataError(path + ": missing attribute 'classes' on /" + hint);
  int64_t classes = file_.root().attr_int("classes");
  if (classes < 1 || classes > kMaxClasses)
    throw DataError(path + ": attribute 'classes': expected 1 to " + std::to_string(kMaxClasses) + ", found " +
                    std::to_string(classes));
  classes_ = int(classes);
  if (file_.root().has_attr("source")) source_ = file_.root().attr_string("source");

  n_ = limit >= 0 ? std::min<int64_t>(limit, s[0]) : s[0];
  c_ = s[1];
  h_ = s[2];
  w_ = s[3];
  // Each label is checked in its stored type, before it is narrowed to int32.
  auto check = [&](int64_t i, int64_t label) {
    if (label < 0 || label >= classes_)
      throw DataError(path + ": /labels[" + std::to_string(i) + "] = " + std::to_string(label) +
                      ": expected a label in [0, " + std::to_string(classes_) + ") (attribute 'classes' = " +
                      std::to_string(classes_) + ")");
  };
  labels_.resize(size_t(n_));
  if (wide_labels) {
    std::vector<int64_t> stored(static_cast<size_t>(n_));
    labels.read_rows<int64_t>(0, n_, stored.data());
    for (int64_t i = 0; i < n_; ++i) {
      check(i, stored[size_t(i)]);
      labels_[size_t(i)] = int32_t(stored[size_t(i)]);
    }
  } else {
    std::vector<uint8_t> stored(static_cast<size_t>(n_));
    labels.read_rows<uint8_t>(0, n_, stored.data());
    for (int64_t i = 0; i < n_; ++i) {
      check(i, stored[size_t(i)]);
      labels_[size_t(i)] = stored[size_t(i)];
    }
  }
}

void Dataset::read_all_once() const {
  const int64_t row_bytes = std::max<int64_t>(1, image_elems());
  if (n_ * row_bytes > kVerifyOnOpenBytes) return;
  const int64_t block = std::max<int64_t>(1, (int64_t(16) << 20) / row_bytes);
  std::vector<uint8_t> buf(size_t(std::min(block, n_) * row_bytes));
  for (int64_t b = 0; b < n_; b += block) images_.read_rows<uint8_t>(b, std::min(n_, b + block), buf.data());
}

void Dataset::check_rows(int64_t begin, int64_t end) const {
  if (begin < 0 || end < begin || end > n_)
    throw std::out_of_range(path_ + ": rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                            ") outside the dataset's [0, " + std::to_string(n_) + ")");
}

void Dataset::read_rows(const std::vector<int64_t>& indices, uint8_t* images_out, int32_t* labels_out) const {
  for (int64_t i : indices) check_rows(i, i + 1);
  images_.read_rows<uint8_t>(indices, images_out);
  for (size_t k = 0; k < indices.size(); ++k) labels_out[k] = labels_[size_t(indices[k])];
}

void Dataset::read_range(int64_t begin, int64_t end, uint8_t* images_out, int32_t* labels_out) const {
  check_rows(begin, end);
  images_.read_rows<uint8_t>(begin, end, images_out);
  std::copy(labels_.begin() + begin, labels_.begin() + end, labels_out);
}

void images_to_tensor(const uint8_t* images, int64_t n, int64_t c, int64_t h, int64_t w, Tensor& out) {
  out.resize({n, c, h, w});
  float* dst = out.data();
  const int64_t hw = h * w;
  if (c == 1) {  // NCHW and NHWC coincide
    for (int64_t i = 0; i < n * hw; ++i) dst[i] = float(images[i]) / 255.f;
    return;
  }
  for (int64_t b = 0; b < n; ++b) {
    const uint8_t* src = images + b * c * hw;
    float* d = dst + b * c * hw;
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t ch = 0; ch < c; ++ch) d[p * c + ch] = float(src[ch * hw + p]) / 255.f;
  }
}

}  // namespace rampart
