// Checkpoint write (atomic) and read (validated); see checkpoint.h.
#include "runtime/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "runtime/errors.h"
#include "runtime/io/h5.h"
#include "runtime/json_strict.h"

namespace rampart {
namespace {

constexpr const char* kFormat = "rampart-checkpoint";
constexpr int64_t kVersion = 1;

bool is_counter(const std::string& name) {
  const std::string suffix = "num_batches_tracked";
  return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void write_arrays(h5::Group g, const std::vector<std::pair<std::string, NamedArray>>& arrays) {
  for (const auto& [name, a] : arrays) {
    if (int64_t(a.data.size()) != numel(a.shape))
      throw IoError(g.where() + "/" + name + ": shape " + shape_str(a.shape) + " needs " +
                    std::to_string(numel(a.shape)) + " values, found " + std::to_string(a.data.size()));
    if (is_counter(name)) {  // PyTorch keeps this counter as int64
      std::vector<int64_t> v(a.data.size());
      for (size_t i = 0; i < v.size(); ++i) v[i] = std::llround(a.data[i]);
      g.write<int64_t>(name, a.shape, v, h5::Integrity::kChecksum);
    } else {
      g.write<float>(name, a.shape, a.data, h5::Integrity::kChecksum);
    }
  }
}

std::vector<std::pair<std::string, NamedArray>> read_arrays(const h5::Group& g) {
  std::vector<std::pair<std::string, NamedArray>> out;
  for (const std::string& name : g.members()) {
    h5::Dataset d = g.dataset(name);
    NamedArray a;
    a.shape = d.shape();
    if (is_counter(name) && d.dtype() == h5::DType::kInt64)
      a.data = d.read_as<float>();
    else
      a.data = d.read<float>();  // DataError "expected float32, found float64 [..]" otherwise
    out.emplace_back(name, std::move(a));
  }
  return out;
}

nlohmann::json parse_json(const h5::Object& o, const std::string& attr) {
  std::string text = o.attr_string(attr);
  try {
    return parse_json_strict(text);
  } catch (const JsonTextError& e) {  // syntax, huge numbers, a key given twice
    if (e.kind == JsonTextError::Kind::kDuplicateKey)
      throw DataError(o.where() + ": attribute '" + attr + "': " +
                      (e.element >= 0 ? "element " + std::to_string(e.element) + ": " : "") + e.what() +
                      "; expected each key once (the file is damaged or was edited)");
    throw DataError(o.where() + ": attribute '" + attr + "': expected JSON, found text that does not parse (" +
                    e.what() + ")");
  }
}

nlohmann::json optional_state(const h5::Group& root, const std::string& group) {
  if (!root.is_group(group)) return nullptr;
  h5::Group g = root.group(group);
  return g.has_attr("state_json") ? parse_json(g, "state_json") : nlohmann::json();
}

// /attack/carried_codes int8 [examples, dim] and /attack/carried_scale float32 [examples],
// created whole and filled as ck.carried_rows hands ranges over. The ranges (a rank's shard, or
// a part of one) need not meet the checksum's chunks: whole chunks are written straight from
// them, the rest gathered into whole chunks first, so each chunk is written and checksummed once.
void write_carried(h5::Group a, const Checkpoint& ck) {
  const int64_t n = ck.carried_examples, dim = ck.carried_dim;
  if (!ck.carried_rows || dim < 1)
    throw std::logic_error("write_checkpoint: carried_examples is set without carried_rows and carried_dim");
  h5::Dataset codes = a.create<int8_t>("carried_codes", {n, dim}, h5::Integrity::kChecksum);
  h5::Dataset scale = a.create<float>("carried_scale", {n}, h5::Integrity::kChecksum);
  const int64_t block = std::max<int64_t>(1, codes.chunk_rows());
  std::vector<int8_t> block_codes;  // allocated when first needed
  std::vector<float> block_scale;
  int64_t next = 0, block_first = 0;  // rows [block_first, next) wait in the block
  auto flush = [&] {
    if (next == block_first) return;
    codes.write_rows(block_first, next, block_codes.data());
    scale.write_rows(block_first, next, block_scale.data());
    block_first = next;
  };
  ck.carried_rows([&](const CarriedRows& r) {
    if (r.first != next || r.n < 0 || r.first + r.n > n)
      throw std::logic_error("write_checkpoint: carried rows [" + std::to_string(r.first) + ", " +
                             std::to_string(r.first + r.n) + ") handed over where rows from " +
                             std::to_string(next) + " of " + std::to_string(n) + " were expected");
    for (int64_t done = 0; done < r.n;) {
      if (next == block_first) {
        // Whole chunks straight from the caller's rows (a store on one rank: all of them).
        const int64_t left = r.n - done;
        const int64_t whole = next + left == n ? left : left - (next + left) % block;
        if (whole > 0) {
          codes.write_rows(next, next + whole, r.codes + done * dim);
          scale.write_rows(next, next + whole, r.scale + done);
          next = block_first = next + whole;
          done += whole;
          continue;
        }
      }
      const int64_t k = std::min(r.n - done, block - (next - block_first));
      if (block_codes.empty()) {
        block_codes.resize(size_t(std::min(block, n) * dim));
        block_scale.resize(size_t(std::min(block, n)));
      }
      std::memcpy(block_codes.data() + (next - block_first) * dim, r.codes + done * dim, size_t(k * dim));
      std::memcpy(block_scale.data() + (next - block_first), r.scale + done, size_t(k) * sizeof(float));
      next += k;
      done += k;
      if (next - block_first == block) flush();
    }
  });
  flush();
  if (next != n)
    throw std::logic_error("write_checkpoint: carried rows ended at " + std::to_string(next) + " of " +
                           std::to_string(n));
}

// The two carried arrays of a checkpoint's /attack group, their types and shapes checked.
std::pair<h5::Dataset, h5::Dataset> carried_arrays(const std::string& path, const h5::Group& a) {
  h5::Dataset codes = a.dataset("carried_codes"), scale = a.dataset("carried_scale");
  codes.require(h5::DType::kInt8, 2, "[examples, pixels]");
  scale.require(h5::DType::kFloat32, 1, "[examples]");
  if (codes.shape()[0] != scale.shape()[0])
    throw DataError(path + ": /attack/carried_codes has " + std::to_string(codes.shape()[0]) +
                    " rows but /attack/carried_scale has " + std::to_string(scale.shape()[0]));
  return {std::move(codes), std::move(scale)};
}

}  // namespace

void write_checkpoint(const std::string& path, const Checkpoint& ck) {
  h5::write_atomically(path, [&](h5::File& f) {
    h5::Group& root = f.root();
    root.set_attr("format", kFormat);
    root.set_attr("version", kVersion);
    root.set_attr("arch_json", ck.arch.dump());
    root.set_attr("epoch", ck.epoch);
    root.set_attr("step", ck.step);
    root.set_attr("world_size", int64_t(ck.world_size));
    root.set_attr("config", ck.config);
    root.set_attr("extra_json", ck.extra.dump());
    write_arrays(root.create_group("model"), ck.model);
    write_arrays(root.create_group("optimizer"), ck.optimizer);
    root.create_group("rng").set_attr("state_json", ck.rng.dump());
    root.create_group("scheduler").set_attr("state_json", ck.scheduler.dump());
    if (ck.carried_examples > 0) write_carried(root.create_group("attack"), ck);
  });
}

Checkpoint read_checkpoint(const std::string& path) {
  // First in a child process: a file that crashes HDF5 is a 65, and every array's checksum is
  // verified before anything of it is used.
  h5::read_isolated(path, [&] { read_checkpoint(path); });
  h5::File f = h5::File::open(path);
  const h5::Group& root = f.root();
  // format and version are what make a file a checkpoint: never assumed.
  if (!root.has_attr("format"))
    throw DataError(path + ": expected root attribute format = \"" + kFormat +
                    "\", found none (not a rampart checkpoint; a dataset?)");
  std::string format = root.attr_string("format");
  if (format != kFormat)
    throw DataError(path + ": expected root attribute format = \"" + kFormat + "\", found \"" + format + "\"");
  if (!root.has_attr("version"))
    throw DataError(path + ": expected root attribute version = 1, found none");
  int64_t version = root.attr_int("version");
  if (version != kVersion)
    throw DataError(path + ": expected checkpoint version " + std::to_string(kVersion) + ", found " +
                    std::to_string(version) + (version > kVersion ? " (written by a newer rampart?)" : ""));
  if (!root.has_attr("arch_json"))
    throw DataError(path + ": missing root attribute arch_json (the model spec); cannot rebuild the model");

  Checkpoint ck;
  ck.arch = parse_json(root, "arch_json");
  if (!ck.arch.is_array())
    throw DataError(path + ": attribute 'arch_json': expected a JSON array of layers, found " +
                    std::string(ck.arch.type_name()));
  // Resume metadata: a reference file made by other tools may lack it.
  if (root.has_attr("config")) ck.config = root.attr_string("config");
  if (root.has_attr("epoch")) ck.epoch = root.attr_int("epoch");
  if (root.has_attr("step")) ck.step = root.attr_int("step");
  if (root.has_attr("world_size")) ck.world_size = int(root.attr_int("world_size"));
  if (root.has_attr("extra_json")) ck.extra = parse_json(root, "extra_json");

  if (!root.is_group("model")) throw DataError(path + ": missing group /model (the weights)");
  ck.model = read_arrays(root.group("model"));
  if (root.is_group("optimizer")) ck.optimizer = read_arrays(root.group("optimizer"));
  ck.rng = optional_state(root, "rng");
  ck.scheduler = optional_state(root, "scheduler");
  if (root.is_group("attack")) {
    auto [codes, scale] = carried_arrays(path, root.group("attack"));
    ck.carried_examples = codes.shape()[0];
    ck.carried_dim = codes.shape()[1];
  }
  return ck;
}

CarriedRowsRead read_carried_rows(const std::string& path, int64_t begin, int64_t end) {
  auto read = [&] {
    h5::File f = h5::File::open(path);
    if (!f.root().is_group("attack"))
      throw DataError(path + ": expected carried perturbations (/attack/carried_codes), found none");
    auto [codes, scale] = carried_arrays(path, f.root().group("attack"));
    if (begin < 0 || begin > end || end > codes.shape()[0])
      throw DataError(path + ": expected carried perturbations for examples [" + std::to_string(begin) + ", " +
                      std::to_string(end) + "), found " + std::to_string(codes.shape()[0]) + " examples");
    CarriedRowsRead out;
    out.codes.resize(size_t((end - begin) * codes.shape()[1]));
    out.scale.resize(size_t(end - begin));
    if (end > begin) {
      codes.read_rows(begin, end, out.codes.data());
      scale.read_rows(begin, end, out.scale.data());
    }
    return out;
  };
  h5::read_isolated(path, [&] { read(); });
  return read();
}

}  // namespace rampart
