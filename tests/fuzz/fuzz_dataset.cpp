// libFuzzer: the HDF5 dataset loader (the training data contract: /images uint8 [N,C,H,W],
// /labels uint8 or int64 [N]) on arbitrary bytes; what it accepts must read back whole, row by row.
#include <algorithm>
#include <vector>

#include "runtime/data/dataset.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = rampart::fuzz::as_file(data, size, ".h5");
  rampart::fuzz::expect_clean_isolated_outcome([&] {
    rampart::Dataset set(path);
    const int64_t n = std::min<int64_t>(set.size(), 64);
    std::vector<uint8_t> images(static_cast<size_t>(n * set.image_elems()));
    std::vector<int32_t> labels(static_cast<size_t>(n));
    if (n > 0) set.read_range(0, n, images.data(), labels.data());
    for (int32_t l : labels)
      if (l < 0 || l >= set.classes()) std::abort();  // the loader promises labels in [0, classes)
  });
  return 0;
}
