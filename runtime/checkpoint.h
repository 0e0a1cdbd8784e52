// Checkpoint I/O in the HDF5 layout of DESIGN.md: model weights, momentum,
// every random and scheduler state needed to resume, and the resolved config.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/tensor.h"

namespace rampart {

struct NamedArray {
  Shape shape;
  std::vector<float> data;
};

// A range of a checkpoint's carried perturbations: examples [first, first + n).
struct CarriedRows {
  int64_t first = 0, n = 0;
  const int8_t* codes = nullptr;  // [n, dim]
  const float* scale = nullptr;   // [n]
};
using CarriedRowsSink = std::function<void(const CarriedRows&)>;

struct Checkpoint {
  nlohmann::json arch;            // model spec (JSON list of modules), root attr arch_json
  std::string config;             // resolved config text, root attr config
  int64_t epoch = 0, step = 0;    // root attrs
  int world_size = 1;             // root attr
  std::vector<std::pair<std::string, NamedArray>> model;      // /model/<name>: PyTorch's state_dict keys, "0.weight", "layer1.0.bn1.running_mean"
  std::vector<std::pair<std::string, NamedArray>> optimizer;  // /optimizer/<name>: momentum, same names
  nlohmann::json rng;             // /rng, string attr state_json
  nlohmann::json scheduler;       // /scheduler, string attr state_json
  nlohmann::json extra;           // root attr extra_json
  // Carried perturbations (--attack-init carry; runtime/attacks/carry.h), none when
  // carried_examples is 0: /attack/carried_codes int8 [examples, dim], /attack/carried_scale
  // float32 [examples]. They are never held here whole (190 GB for ImageNet): write_checkpoint
  // takes them from carried_rows, which hands its sink consecutive ranges covering
  // [0, carried_examples) (a store sharded over ranks passes each rank's rows through rank 0,
  // cluster/train/carried_starts.h); read_checkpoint gives their size, read_carried_rows a range.
  int64_t carried_examples = 0, carried_dim = 0;
  std::function<void(const CarriedRowsSink&)> carried_rows;
};

// Atomic: a temporary file in the same folder is flushed, fsync'ed and renamed
// over `path`, so `path` never holds a partial checkpoint. On failure the
// temporary file is removed and IoError is thrown; an older file at `path` stays.
// Arrays are float32, except "*.num_batches_tracked", stored as int64 like PyTorch's.
void write_checkpoint(const std::string& path, const Checkpoint& ck);

// MissingInput if absent; DataError unless attrs format == "rampart-checkpoint"
// and version == 1, and for a missing arch_json or /model. epoch, step,
// world_size, config, /optimizer, /rng, /scheduler, /attack and extra_json may be absent
// (files written by other tools, such as tests/data/small_cnn_golden.h5): they
// read as 0, 0, 1, "", empty, null, null, null. Arrays keep the stored order.
Checkpoint read_checkpoint(const std::string& path);

// Examples [begin, end) of the carried perturbations of the checkpoint at path (read_checkpoint
// gives carried_examples and carried_dim): codes [end - begin, dim], scale [end - begin]. Read in
// a child process first, as read_checkpoint is, with every chunk's checksum verified; DataError
// for a file without them or a range outside [0, examples).
struct CarriedRowsRead {
  std::vector<int8_t> codes;
  std::vector<float> scale;
};
CarriedRowsRead read_carried_rows(const std::string& path, int64_t begin, int64_t end);

}  // namespace rampart
