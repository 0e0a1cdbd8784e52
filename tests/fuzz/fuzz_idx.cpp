// libFuzzer: the IDX reader (plain and gzip) on arbitrary bytes. The first byte picks images or
// labels; the rest is the file.
#include "runtime/data/idx.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool images = data[0] & 1;
  const std::string path = rampart::fuzz::as_file(data + 1, size - 1, ".idx");
  rampart::fuzz::expect_clean_outcome([&] {
    if (images) {
      auto im = rampart::read_idx_images(path);
      if (int64_t(im.pixels.size()) != im.n * im.rows * im.cols) std::abort();  // what it says it read
    } else {
      auto lab = rampart::read_idx_labels(path);
      if (int64_t(lab.labels.size()) != lab.n) std::abort();
    }
  });
  return 0;
}
