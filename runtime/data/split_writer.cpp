// Streaming writer of one imported split (see split_writer.h).
#include "runtime/data/split_writer.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "runtime/data/dataset.h"
#include "runtime/errors.h"

namespace rampart {

void check_reshape(const ImageReshape& r, int64_t channels, const std::string& what) {
  if (r.pad < 0 || r.pad > 1024)
    throw ConfigError("--pad must be an integer in [0, 1024], found " + std::to_string(r.pad));
  if (r.channels == 0 || r.channels == channels) return;
  if (r.channels == 3 && channels == 1) return;
  throw ConfigError("--channels " + std::to_string(r.channels) + ": " + what + " has " + std::to_string(channels) +
                    (channels == 1 ? " channel" : " channels") + "; expected --channels " + std::to_string(channels) +
                    (channels == 1 ? " or 3 (the grey channel replicated)" : "") +
                    ", or no --channels to keep them as stored");
}

void reshaped_shape(const ImageReshape& r, int64_t& c, int64_t& h, int64_t& w) {
  if (r.channels > 0) c = r.channels;
  h += 2 * int64_t(r.pad);
  w += 2 * int64_t(r.pad);
}

void reshape_image(const ImageReshape& r, const uint8_t* in, int64_t c, int64_t h, int64_t w, uint8_t* out) {
  int64_t oc = c, oh = h, ow = w;
  reshaped_shape(r, oc, oh, ow);
  const int64_t p = r.pad;
  std::memset(out, 0, size_t(oc * oh * ow));
  for (int64_t k = 0; k < oc; ++k) {
    const uint8_t* src = in + (c == 1 ? 0 : k) * h * w;
    uint8_t* dst = out + k * oh * ow;
    for (int64_t y = 0; y < h; ++y) std::memcpy(dst + (y + p) * ow + p, src + y * w, size_t(w));
  }
}

namespace {
h5::Dataset create_images(h5::File& file, int64_t n, int64_t c, int64_t h, int64_t w, const ImageReshape& r) {
  reshaped_shape(r, c, h, w);
  return file.root().create<uint8_t>("images", {n, c, h, w}, h5::Integrity::kChecksumRows);
}
}  // namespace

SplitWriter::SplitWriter(h5::File& file, int64_t n, int64_t c, int64_t h, int64_t w, const ImageReshape& reshape)
    : file_(file), images_(create_images(file, n, c, h, w, reshape)), n_(n), c_(c), h_(h), w_(w), oc_(c), oh_(h),
      ow_(w), reshape_(reshape) {
  reshaped_shape(reshape_, oc_, oh_, ow_);
  labels_.reserve(size_t(n_));
}

void SplitWriter::add_images(int64_t count, const uint8_t* images) {
  if (count < 0 || written_ + count > n_)
    throw std::logic_error("SplitWriter: " + std::to_string(written_ + count) + " images for a split of " +
                           std::to_string(n_));
  const bool identity = oc_ == c_ && oh_ == h_ && ow_ == w_;
  if (identity) {
    images_.write_rows<uint8_t>(written_, written_ + count, images);
    written_ += count;
    return;
  }
  const int64_t in_elems = c_ * h_ * w_, out_elems = oc_ * oh_ * ow_;
  const int64_t block = std::max<int64_t>(1, (int64_t(16) << 20) / out_elems);  // about 16 MiB at a time
  for (int64_t b = 0; b < count; b += block) {
    const int64_t m = std::min(block, count - b);
    scratch_.resize(size_t(m * out_elems));
    for (int64_t i = 0; i < m; ++i)
      reshape_image(reshape_, images + (b + i) * in_elems, c_, h_, w_, scratch_.data() + i * out_elems);
    images_.write_rows<uint8_t>(written_, written_ + m, scratch_.data());
    written_ += m;
  }
}

void SplitWriter::add_labels(int64_t count, const uint8_t* labels) {
  add_labels(count, std::vector<int32_t>(labels, labels + std::max<int64_t>(count, 0)).data());
}

void SplitWriter::add_labels(int64_t count, const int32_t* labels) {
  if (count < 0 || int64_t(labels_.size()) + count > n_)
    throw std::logic_error("SplitWriter: " + std::to_string(int64_t(labels_.size()) + count) +
                           " labels for a split of " + std::to_string(n_));
  labels_.insert(labels_.end(), labels, labels + count);
}

ImportSummary SplitWriter::finish(int classes, const std::string& source, const std::vector<std::string>& names) {
  if (written_ != n_ || int64_t(labels_.size()) != n_)
    throw std::logic_error("SplitWriter: finished with " + std::to_string(written_) + " images and " +
                           std::to_string(labels_.size()) + " labels for a split of " + std::to_string(n_));
  if (classes < 1 || classes > kMaxClasses)
    throw DataError(source + ": " + std::to_string(classes) + " classes: expected 1 to " +
                    std::to_string(kMaxClasses));
  for (size_t i = 0; i < labels_.size(); ++i)
    if (labels_[i] < 0 || labels_[i] >= classes)
      throw DataError(source + ": label " + std::to_string(labels_[i]) + " at index " + std::to_string(i) +
                      " is out of range: expected labels in [0, " + std::to_string(classes) + ")");
  if (!names.empty() && int64_t(names.size()) != classes)
    throw std::logic_error("SplitWriter: " + std::to_string(names.size()) + " class names for " +
                           std::to_string(classes) + " classes");
  // uint8 wherever it can hold every label, so files stay as they were before int64 labels.
  if (classes <= kMaxUInt8Classes)
    file_.root().write<uint8_t>("labels", {n_}, std::vector<uint8_t>(labels_.begin(), labels_.end()),
                                h5::Integrity::kChecksumRows);
  else
    file_.root().write<int64_t>("labels", {n_}, std::vector<int64_t>(labels_.begin(), labels_.end()),
                                h5::Integrity::kChecksumRows);
  file_.root().set_attr("classes", int64_t(classes));
  file_.root().set_attr("source", source);
  if (!names.empty()) file_.root().set_attr("class_names", class_names_json(names));
  ImportSummary s;
  s.n = n_;
  s.channels = oc_;
  s.height = oh_;
  s.width = ow_;
  s.classes = classes;
  s.path = file_.path();
  return s;
}

std::string class_names_json(const std::vector<std::string>& names) {
  // Names come from folder names and text files: bytes that are not UTF-8 are replaced (U+FFFD)
  // rather than refused, so an odd folder name cannot stop an import.
  return nlohmann::json(names).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string split_path(const std::string& out_dir, const std::string& split) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !fs::is_directory(out_dir, ec))
    throw IoError("--out " + out_dir + " is a file; expected a folder to write " + split +
                  ".h5 and the other splits into (this format writes one file a split)");
  fs::create_directories(out_dir, ec);
  if (ec) throw IoError("cannot create the output folder " + out_dir + ": " + ec.message());
  return (fs::path(out_dir) / (split + ".h5")).string();
}

std::string split_source(const ImportOptions& options, const std::string& format, const std::string& split,
                         const std::string& input) {
  if (!options.source_name.empty()) return options.source_name + " " + split;
  return format + " " + split + ": " + input;
}

std::vector<std::string> read_class_names(const std::string& path, int classes) {
  std::vector<std::string> names;
  std::ifstream in(path);
  if (!in) return names;
  std::string line;
  while (std::getline(in, line)) {
    const size_t a = line.find_first_not_of(" \t\r");
    if (a == std::string::npos) continue;
    const size_t b = line.find_last_not_of(" \t\r");
    names.push_back(line.substr(a, b - a + 1));
  }
  if (int64_t(names.size()) != classes)
    throw DataError(path + ": expected " + std::to_string(classes) + " class names, one a line, found " +
                    std::to_string(names.size()) + "; restore the file from the dataset's archive, or delete it to "
                    "import without class names");
  return names;
}

}  // namespace rampart
