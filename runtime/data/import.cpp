// IDX -> HDF5 dataset conversion (see import.h); the other formats have files of their own.
#include "runtime/data/import.h"

#include <algorithm>

#include "runtime/data/idx.h"
#include "runtime/data/split_writer.h"
#include "runtime/errors.h"
#include "runtime/io/h5.h"

namespace rampart {

ImportSummary import_idx(const std::string& images_path, const std::string& labels_path,
                         const std::string& out_path, const std::string& source_name, int classes,
                         const ImageReshape& reshape) {
  check_reshape(reshape, 1, images_path);
  IdxLabels labels = read_idx_labels(labels_path);  // small: fail fast on the cheap file
  IdxImages images = read_idx_images(images_path);
  if (images.n != labels.n)
    throw DataError("images and labels disagree: " + images_path + " holds " + std::to_string(images.n) +
                    " images but " + labels_path + " holds " + std::to_string(labels.n) +
                    " labels; expected the same count (mixed up train and test files?)");
  if (images.n == 0) throw DataError(images_path + ": expected at least one image, found 0");

  int max_label = *std::max_element(labels.labels.begin(), labels.labels.end());
  if (classes > 0) {
    auto bad = std::find_if(labels.labels.begin(), labels.labels.end(), [&](uint8_t l) { return l >= classes; });
    if (bad != labels.labels.end())
      throw DataError(labels_path + ": label " + std::to_string(*bad) + " at index " +
                      std::to_string(bad - labels.labels.begin()) + " is out of range: expected labels in [0, " +
                      std::to_string(classes) + ")");
  } else {
    classes = std::max(10, max_label + 1);
  }

  ImportSummary s;
  h5::write_atomically(out_path, [&](h5::File& f) {
    SplitWriter w(f, images.n, 1, images.rows, images.cols, reshape);
    w.add_images(images.n, images.pixels.data());
    w.add_labels(labels.n, labels.labels.data());
    s = w.finish(classes, source_name);
  });
  s.path = out_path;
  return s;
}

}  // namespace rampart
