// One split of an imported dataset (import.h's layout), written as its images arrive, so an
// importer never holds a whole large split in memory: images in blocks of rows, labels (an int32
// an image) kept until finish() writes them with the attributes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/data/import.h"
#include "runtime/io/h5.h"

namespace rampart {

// ConfigError unless `r` can apply to images of `channels` channels: a pad in [0, 1024];
// channels 0, the stored count, or 3 from 1. `what` names the input in the message.
void check_reshape(const ImageReshape& r, int64_t channels, const std::string& what);
// The shape [c, h, w] after the reshape.
void reshaped_shape(const ImageReshape& r, int64_t& c, int64_t& h, int64_t& w);
// One image [c, h, w] to its reshaped form (zero border, grey channel replicated).
void reshape_image(const ImageReshape& r, const uint8_t* in, int64_t c, int64_t h, int64_t w, uint8_t* out);

class SplitWriter {
 public:
  // n images of [c, h, w] as read, into `file` (which write_atomically provides), reshaped.
  SplitWriter(h5::File& file, int64_t n, int64_t c, int64_t h, int64_t w, const ImageReshape& reshape);

  // The next `count` images, [count, c, h, w] as read.
  void add_images(int64_t count, const uint8_t* images);
  // The next `count` labels (they may arrive before, with or after their images).
  void add_labels(int64_t count, const uint8_t* labels);
  void add_labels(int64_t count, const int32_t* labels);
  // Writes the labels, as uint8 when classes <= kMaxUInt8Classes and as int64 above it (dataset.h),
  // and the attributes; DataError for classes outside [1, kMaxClasses] or a label outside
  // [0, classes) (importers check first, with messages of their own: this is the last guard),
  // logic_error unless exactly n images and n labels arrived. An empty class_names writes no
  // class_names attribute.
  ImportSummary finish(int classes, const std::string& source, const std::vector<std::string>& class_names = {});

 private:
  h5::File& file_;
  h5::Dataset images_;
  int64_t n_, c_, h_, w_;          // as read
  int64_t oc_, oh_, ow_;           // as written
  ImageReshape reshape_;
  int64_t written_ = 0;
  std::vector<int32_t> labels_;
  std::vector<uint8_t> scratch_;  // reshaped rows of one add_images call
};

// The class_names attribute's text: a JSON list of strings.
std::string class_names_json(const std::vector<std::string>& names);

// For the importers that write several splits: creates out_dir (and its parents) if missing and
// returns out_dir/<split>.h5; IoError if out_dir is a file or cannot be created.
std::string split_path(const std::string& out_dir, const std::string& split);
// The source attribute: "<options.source_name> <split>", or "<format> <split>: <input>".
std::string split_source(const ImportOptions& options, const std::string& format, const std::string& split,
                         const std::string& input);
// Class names from a text file of one name a line (CIFAR's batches.meta.txt): blank lines and
// surrounding white space dropped. Empty when the file is absent; DataError unless it names
// exactly `classes` classes.
std::vector<std::string> read_class_names(const std::string& path, int classes);

}  // namespace rampart
