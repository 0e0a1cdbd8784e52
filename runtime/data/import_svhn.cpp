// SVHN's cropped digits (Format 2: train_32x32.mat, test_32x32.mat, extra_32x32.mat) to one HDF5
// file a split (see import.h). X is uint8 [32, 32, 3, N] in MATLAB's column-major order, so
// pixel (row r, column c, channel k) of image i is byte r + 32 c + 1024 k + 3072 i: each image
// is contiguous, and is transposed to [C, H, W] as it streams through. y holds 1..10, 10 for
// the digit 0, written as 0..9.
#include <filesystem>
#include <memory>

#include "runtime/data/import.h"
#include "runtime/data/mat5.h"
#include "runtime/data/split_writer.h"
#include "runtime/errors.h"
#include "runtime/io/h5.h"

namespace rampart {
namespace {

namespace fs = std::filesystem;

const char* kFormatHint = "SVHN's cropped digits (Format 2) from http://ufldl.stanford.edu/housenumbers/";

// One .mat file, read in one pass: X is found (and y kept, if it comes first), then X's images
// stream out, then y is found if it comes after.
class SvhnFile {
 public:
  explicit SvhnFile(const std::string& path) : reader_(path) {
    std::vector<std::string> seen;
    while (reader_.next()) {
      const auto& v = reader_.var();
      if (v.name == "X") {
        take_x();
        return;
      }
      if (v.name == "y") take_y();
      seen.push_back(v.name.empty() ? "(a " + v.class_name + ")" : v.name);
    }
    std::string found;
    for (const auto& s : seen) found += (found.empty() ? "" : ", ") + s;
    throw DataError(path + ": no variable 'X' (the images); found " + (found.empty() ? "no variables" : found) +
                    "; expected " + kFormatHint);
  }

  int64_t n() const { return n_; }
  int64_t channels() const { return c_; }
  int64_t height() const { return h_; }
  int64_t width() const { return w_; }
  const std::string& path() const { return reader_.path(); }

  // Every image of X, in order, into the writer.
  void stream_images(SplitWriter& out) {
    const int64_t per = h_ * w_ * c_, block = std::max<int64_t>(1, (int64_t(8) << 20) / per);
    std::vector<uint8_t> in(size_t(block * per)), chw(size_t(block * per));
    for (int64_t i = 0; i < n_; i += block) {
      const int64_t m = std::min(block, n_ - i);
      reader_.read_uint8(m * per, in.data());
      for (int64_t j = 0; j < m; ++j) {
        const uint8_t* src = in.data() + j * per;
        uint8_t* dst = chw.data() + j * per;
        for (int64_t k = 0; k < c_; ++k)
          for (int64_t r = 0; r < h_; ++r)
            for (int64_t c = 0; c < w_; ++c) dst[(k * h_ + r) * w_ + c] = src[r + h_ * c + h_ * w_ * k];
      }
      out.add_images(m, chw.data());
    }
  }

  // The labels, 0..9 (y is read here if it comes after X). The rest of the file is walked too:
  // moving past a compressed variable read to its end verifies its zlib checksum (X's included).
  const std::vector<uint8_t>& labels() {
    while (reader_.next())
      if (reader_.var().name == "y" && !have_y_) take_y();
    if (!have_y_)
      throw DataError(path() + ": no variable 'y' (the labels) beside 'X'; expected " + kFormatHint);
    if (int64_t(labels_.size()) != n_)
      throw DataError(path() + ": 'y' holds " + std::to_string(labels_.size()) + " labels but 'X' holds " +
                      std::to_string(n_) + " images; expected one label an image (damaged file?)");
    return labels_;
  }

 private:
  void take_x() {
    const auto& v = reader_.var();
    const std::string want = "expected uint8 [32, 32, 3, N] (height, width, channels, images)";
    if (v.mx_class != 9 || v.complex)
      throw DataError(reader_.where() + ": " + want + ", found " + (v.complex ? "a complex " : "") + v.class_name +
                      " " + v.dims_str());
    // MATLAB drops trailing singleton dims: one image is [32, 32, 3].
    if (v.dims.size() != 4 && v.dims.size() != 3)
      throw DataError(reader_.where() + ": " + want + ", found uint8 " + v.dims_str());
    h_ = v.dims[0];
    w_ = v.dims[1];
    c_ = v.dims[2];
    n_ = v.dims.size() == 4 ? v.dims[3] : 1;
    if ((c_ != 3 && c_ != 1) || h_ == 0 || w_ == 0 || n_ == 0)
      throw DataError(reader_.where() + ": " + want + " with 1 or 3 channels and at least one image, found uint8 " +
                      v.dims_str());
  }

  void take_y() {
    const auto& v = reader_.var();
    if (v.dims.size() != 2 || (v.dims[0] != 1 && v.dims[1] != 1))
      throw DataError(reader_.where() + ": expected labels [N, 1], found " + v.class_name + " " + v.dims_str());
    const std::vector<double> y = reader_.read_doubles();
    labels_.resize(y.size());
    for (size_t i = 0; i < y.size(); ++i) {
      const double l = y[i];
      if (!(l >= 1 && l <= 10) || l != double(int(l)))
        throw DataError(reader_.where() + ": label " + std::to_string(l) + " at index " + std::to_string(i) +
                        "; expected SVHN's labels 1..10 (10 for the digit 0)");
      labels_[i] = uint8_t(int(l) % 10);  // 10 -> 0
    }
    have_y_ = true;
  }

  mat5::Reader reader_;
  int64_t n_ = 0, c_ = 0, h_ = 0, w_ = 0;
  bool have_y_ = false;
  std::vector<uint8_t> labels_;
};

std::vector<std::string> digit_names() {
  std::vector<std::string> names;
  for (int d = 0; d < 10; ++d) names.push_back(std::to_string(d));
  return names;
}

// One split from one or more files (train and extra when merged), which must share an image shape.
ImportSummary write_split(const std::vector<std::string>& paths, const std::string& split, const std::string& out_dir,
                          const std::string& source, const ImportOptions& options) {
  std::vector<std::unique_ptr<SvhnFile>> files;
  int64_t n = 0;
  for (const auto& p : paths) {
    files.push_back(std::make_unique<SvhnFile>(p));
    const SvhnFile& f = *files.back();
    const SvhnFile& first = *files.front();
    if (f.height() != first.height() || f.width() != first.width() || f.channels() != first.channels())
      throw DataError(f.path() + ": images of " + std::to_string(f.height()) + "x" + std::to_string(f.width()) + "x" +
                      std::to_string(f.channels()) + ", but " + first.path() + " holds " +
                      std::to_string(first.height()) + "x" + std::to_string(first.width()) + "x" +
                      std::to_string(first.channels()) + "; files merged into one split must share a size");
    n += f.n();
  }
  check_reshape(options.reshape, files.front()->channels(), paths.front());
  const std::string path = split_path(out_dir, split);
  ImportSummary summary;
  h5::write_atomically(path, [&](h5::File& h5file) {
    const SvhnFile& first = *files.front();
    SplitWriter w(h5file, n, first.channels(), first.height(), first.width(), options.reshape);
    for (auto& f : files) {
      f->stream_images(w);
      const auto& labels = f->labels();
      w.add_labels(int64_t(labels.size()), labels.data());
    }
    summary = w.finish(10, source, digit_names());
  });
  summary.split = split;
  summary.path = path;
  return summary;
}

}  // namespace

std::vector<ImportSummary> import_svhn(const std::string& dir, const std::string& out_dir, SvhnExtra extra,
                                       const ImportOptions& options) {
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw MissingInput(dir + ": no such folder (expected the folder holding train_32x32.mat and test_32x32.mat, " +
                       kFormatHint + ")");
  if (!fs::is_directory(dir, ec))
    throw MissingInput(dir + " is a file; expected the folder holding train_32x32.mat and test_32x32.mat");
  auto file = [&](const char* name) { return (fs::path(dir) / name).string(); };
  for (const char* name : {"train_32x32.mat", "test_32x32.mat"})
    if (!fs::exists(file(name), ec))
      throw MissingInput(file(name) + ": no such file (expected train_32x32.mat and test_32x32.mat in " + dir + ", " +
                         kFormatHint + ")");
  const bool has_extra = fs::exists(file("extra_32x32.mat"), ec);
  if (extra == SvhnExtra::kMerge && !has_extra)
    throw MissingInput(file("extra_32x32.mat") + ": no such file (--svhn-extra merge appends SVHN's extra set to "
                       "train.h5; put extra_32x32.mat beside train_32x32.mat, or leave out --svhn-extra)");
  auto source = [&](const std::string& split) { return split_source(options, "svhn", split, dir); };

  std::vector<ImportSummary> out;
  if (extra == SvhnExtra::kMerge && has_extra)
    out.push_back(write_split({file("train_32x32.mat"), file("extra_32x32.mat")}, "train", out_dir,
                              options.source_name.empty() ? "svhn train+extra: " + dir : source("train+extra"),
                              options));
  else
    out.push_back(write_split({file("train_32x32.mat")}, "train", out_dir, source("train"), options));
  out.push_back(write_split({file("test_32x32.mat")}, "test", out_dir, source("test"), options));
  if (extra == SvhnExtra::kSeparate && has_extra)
    out.push_back(write_split({file("extra_32x32.mat")}, "extra", out_dir, source("extra"), options));
  return out;
}

}  // namespace rampart
