// Model construction from a spec, flat parameter buffers, forward and backward.
#include "runtime/model.h"

#include <cmath>

#include "runtime/errors.h"
#include "runtime/rng.h"

namespace rampart {

Model::Model(const nlohmann::json& spec, const Shape& input) : spec_(spec), input_(input) {
  if (!spec.is_array() || spec.empty())
    throw ConfigError("model spec: expected a non-empty JSON list of layers, found " +
                      std::string(spec.is_array() ? "an empty list" : spec.type_name()));
  if (input.size() != 3)
    throw ConfigError("model input: expected an example shape [C, H, W], found " + shape_str(input));

  // Build layers and walk the shapes through them with a batch of one.
  Shape s = {1, input[0], input[1], input[2]};
  int64_t n_params = 0, n_buffers = 0;
  struct Pending { int layer; std::string name; Shape shape; int64_t offset; };
  std::vector<Pending> pending_params, pending_buffers;
  for (size_t i = 0; i < spec.size(); ++i) {
    layers_.push_back(make_layer(spec[i], int(i)));
    Layer& l = *layers_.back();
    forward_flops_ += l.flops(s);
    s = l.output_shape(s);
    int64_t begin = n_params;
    for (auto& [name, shape] : l.param_shapes()) {
      pending_params.push_back({int(i), std::to_string(i) + "." + name, shape, n_params});
      n_params += numel(shape);
    }
    layer_ranges_.push_back({begin, n_params});
    for (auto& [name, shape] : l.buffer_shapes()) {
      pending_buffers.push_back({int(i), std::to_string(i) + "." + name, shape, n_buffers});
      n_buffers += numel(shape);
    }
  }
  if (s.size() != 2)
    throw ConfigError("model spec: the last layer must produce logits [N, classes], found shape " +
                      shape_str(s) + " for one example (add a flatten and a linear layer)");
  out_features_ = s[1];

  flat_params_.resize({n_params});
  flat_params_.zero();
  flat_grads_.resize({n_params});
  flat_grads_.zero();
  flat_buffers_.resize({n_buffers});
  flat_buffers_.zero();
  for (auto& p : pending_params)
    params_.push_back({p.name, p.shape, flat_params_.data() + p.offset, flat_grads_.data() + p.offset, p.offset});
  for (auto& b : pending_buffers) buffers_.push_back({b.name, b.shape, flat_buffers_.data() + b.offset});
  // Hand each layer its views (the vectors above no longer grow, so pointers are stable).
  size_t pi = 0, bi = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    std::vector<ParamView*> pv;
    while (pi < pending_params.size() && pending_params[pi].layer == int(i)) pv.push_back(&params_[pi++]);
    if (!pv.empty()) layers_[i]->bind_params(pv);
    std::vector<BufferView*> bv;
    while (bi < pending_buffers.size() && pending_buffers[bi].layer == int(i)) bv.push_back(&buffers_[bi++]);
    if (!bv.empty()) layers_[i]->bind_buffers(bv);
  }
  acts_.resize(layers_.size());
  grads_.resize(2);
}

void Model::init(uint64_t seed) {
  for (size_t i = 0; i < layers_.size(); ++i) {
    Rng rng(seed, Stream::kInit, i);
    layers_[i]->reset_parameters(rng);
  }
}

const Tensor& Model::forward(const Tensor& x, Mode mode) {
  if (x.ndim() != 4 || x.dim(1) != input_[0] || x.dim(2) != input_[1] || x.dim(3) != input_[2])
    throw DataError("model input: expected a batch [N, " + std::to_string(input_[0]) + ", " +
                    std::to_string(input_[1]) + ", " + std::to_string(input_[2]) + "], found " +
                    shape_str(x.shape()));
  input_ptr_ = &x;
  const Tensor* cur = &x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->forward(*cur, acts_[i], mode);
    cur = &acts_[i];
  }
  return *cur;
}

const Tensor& Model::backward(const Tensor& dlogits, bool input_grad, bool param_grads,
                              const GradReadyFn& on_grad_ready) {
  static const Tensor kEmpty;
  const Tensor* dy = &dlogits;
  int slot = 0;
  for (int i = int(layers_.size()) - 1; i >= 0; --i) {
    const Tensor& x = i == 0 ? *input_ptr_ : acts_[i - 1];
    // Layer 0's input gradient is only wanted by attacks; earlier layers need
    // theirs to continue. Stop once neither is needed below this point.
    bool need_dx = i > 0 || input_grad;
    if (!need_dx && !(param_grads && layers_[i]->has_params())) break;
    // When only parameter gradients are wanted, skip layers below the first
    // (from the input) that has parameters.
    Tensor* dx = need_dx ? &grads_[slot] : nullptr;
    bool pg = param_grads && layers_[i]->has_params();
    layers_[i]->backward(x, acts_[i], *dy, dx, pg);
    if (pg && on_grad_ready) on_grad_ready(i);
    if (dx) { dy = dx; slot ^= 1; }
  }
  return input_grad ? *dy : kEmpty;
}

}  // namespace rampart
