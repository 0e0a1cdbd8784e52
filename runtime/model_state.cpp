// Model <-> checkpoint (see model_state.h).
#include "runtime/model_state.h"

#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "runtime/errors.h"

namespace rampart {
namespace {

NamedArray copy_of(const Shape& shape, const float* data) {
  NamedArray a;
  a.shape = shape;
  a.data.assign(data, data + numel(shape));
  return a;
}

void load_into(const std::map<std::string, const NamedArray*>& arrays, const std::string& group,
               const std::string& name, const Shape& shape, float* dst) {
  auto it = arrays.find(name);
  if (it == arrays.end())
    throw DataError("checkpoint: missing /" + group + "/" + name + " " + shape_str(shape) +
                    "; the checkpoint does not belong to this model");
  const NamedArray& a = *it->second;
  // The exact shape, not only the element count: [32, 9] is not [32, 1, 3, 3] reshaped.
  if (a.shape != shape || int64_t(a.data.size()) != numel(shape))
    throw DataError("checkpoint: /" + group + "/" + name + " has shape " + shape_str(a.shape) + ", expected " +
                    shape_str(shape) + " (from its arch_json); the checkpoint does not belong to this model");
  // rampart writes checkpoints from finite values only: a NaN or an infinity here is damage.
  for (size_t i = 0; i < a.data.size(); ++i)
    if (!std::isfinite(a.data[i]))
      throw DataError("checkpoint: /" + group + "/" + name + " holds " + std::to_string(a.data[i]) + " at index " +
                      std::to_string(i) + "; the file is damaged (rampart never writes non-finite values): "
                      "use an earlier checkpoint or train again");
  std::memcpy(dst, a.data.data(), a.data.size() * sizeof(float));
}

std::map<std::string, const NamedArray*> index(const std::vector<std::pair<std::string, NamedArray>>& v) {
  std::map<std::string, const NamedArray*> m;
  for (auto& [k, a] : v) m[k] = &a;
  return m;
}

// Every array of the group must belong to a layer: one that none owns means the weights
// were written for another model (or edited), even when every owned array is present.
void refuse_unowned(const std::map<std::string, const NamedArray*>& arrays, const std::string& group,
                    const std::set<std::string>& owned) {
  for (auto& [name, a] : arrays)
    if (!owned.count(name))
      throw DataError("checkpoint: /" + group + "/" + name + " " + shape_str(a->shape) +
                      " belongs to no layer of the model (its arch_json); expected only the model's own "
                      "arrays; the checkpoint does not belong to this model");
}

}  // namespace

void store_model(const Model& model, const Sgd* sgd, Checkpoint& ck) {
  Model& m = const_cast<Model&>(model);  // views are read only here
  ck.arch = model.spec();
  ck.model.clear();
  ck.optimizer.clear();
  for (auto& p : m.params()) ck.model.push_back({p.name, copy_of(p.shape, p.value)});
  for (auto& b : m.buffers()) ck.model.push_back({b.name, copy_of(b.shape, b.value)});
  if (sgd)
    for (auto& p : m.params()) ck.optimizer.push_back({p.name, copy_of(p.shape, sgd->momentum() + p.offset)});
}

void load_model(const Checkpoint& ck, Model& model, Sgd* sgd) {
  auto arrays = index(ck.model);
  std::set<std::string> params, state;
  for (auto& p : model.params()) params.insert(p.name), state.insert(p.name);
  for (auto& b : model.buffers()) state.insert(b.name);
  for (auto& p : model.params()) load_into(arrays, "model", p.name, p.shape, p.value);
  for (auto& b : model.buffers()) load_into(arrays, "model", b.name, b.shape, b.value);
  refuse_unowned(arrays, "model", state);
  if (sgd) {
    auto mom = index(ck.optimizer);
    for (auto& p : model.params()) load_into(mom, "optimizer", p.name, p.shape, sgd->momentum() + p.offset);
    refuse_unowned(mom, "optimizer", params);
  }
}

Model model_from_checkpoint(const Checkpoint& ck, const Shape& input) {
  Model m(ck.arch, input);
  load_model(ck, m, nullptr);
  return m;
}

}  // namespace rampart
