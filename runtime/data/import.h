// `rampart data import`: IDX images and labels to the dataset layout of DESIGN.md:
// /images uint8 [N, 1, H, W] (contiguous, uncompressed: row reads are one seek),
// /labels uint8 [N], attrs classes (int) and source (string).
#pragma once
#include <cstdint>
#include <string>

namespace rampart {

struct ImportSummary {
  int64_t n = 0, channels = 1, height = 0, width = 0;
  int classes = 0;
};

// classes == 0: 10, or max label + 1 where a label is 10 or more. classes > 0:
// every label must be below it (DataError otherwise). Images and labels must
// agree on N. The output appears atomically (temporary file, fsync, rename).
ImportSummary import_idx(const std::string& images_path, const std::string& labels_path,
                         const std::string& out_path, const std::string& source_name, int classes = 0);

}  // namespace rampart
