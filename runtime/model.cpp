// Model construction from a spec, flat parameter buffers, forward and backward.
#include "runtime/model.h"

#include <chrono>
#include <cmath>
#include <cstdlib>

#include "runtime/errors.h"
#include "runtime/layers/conv2d.h"
#include "runtime/layers/fused_conv_relu_pool.h"
#include "runtime/layers/pool_common.h"
#include "runtime/rng.h"

namespace rampart {

Model::Model(const nlohmann::json& spec, const Shape& input, const ModelOptions& options)
    : spec_(spec), input_(input) {
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
  const char* no_fusion = std::getenv("RAMPART_NO_FUSION");
  plan_steps(options.fuse && !(no_fusion && *no_fusion && std::string(no_fusion) != "0"));
}

// The fusion pass: "[conv2d] relu maxpool2d" and "conv2d relu" runs become one
// executor; every other layer runs as itself.
void Model::plan_steps(bool fuse) {
  fused_ = false;
  const int n = int(layers_.size());
  auto is = [&](int i, const char* type) { return i < n && layers_[i]->type() == type; };
  for (int i = 0; i < n;) {
    if (fuse) {
      bool conv = is(i, "conv2d") && is(i + 1, "relu") && is(i + 2, "maxpool2d");
      bool bare = !conv && is(i, "relu") && is(i + 1, "maxpool2d");
      bool conv_relu = !conv && is(i, "conv2d") && is(i + 1, "relu");
      if (conv || bare || conv_relu) {
        const int pool = conv ? i + 2 : i + 1;  // the last layer of the run
        nlohmann::json group = nlohmann::json::array();
        for (int j = i; j <= pool; ++j) group.push_back(layers_[j]->spec());
        Conv2d* c = conv || conv_relu ? dynamic_cast<Conv2d*>(layers_[i].get()) : nullptr;
        ParamView *w = nullptr, *b = nullptr;
        for (auto& p : params_) {
          if (p.name == std::to_string(i) + ".weight") w = &p;
          if (p.name == std::to_string(i) + ".bias") b = &p;
        }
        if ((conv || conv_relu) && (!c || !w)) {  // not a conv2d we can drive: run the layers one by one
          steps_.push_back({i, i, layers_[i].get(), layers_[i]->has_params()});
          ++i;
          continue;
        }
        kernels::cpu::PoolGeometry g;
        if (!conv_relu) g = parse_pool_spec(layers_[pool]->spec(), pool, "maxpool2d");
        fused_layers_.push_back(std::make_unique<FusedConvReluPool>(c, w, b, g, group, !conv_relu));
        steps_.push_back({i, pool, fused_layers_.back().get(), c != nullptr});
        fused_ = true;
        i = pool + 1;
        continue;
      }
    }
    steps_.push_back({i, i, layers_[i].get(), layers_[i]->has_params()});
    ++i;
  }
}

nlohmann::json Model::profile() const {
  nlohmann::json out = nlohmann::json::array();
  for (size_t k = 0; k < steps_.size() && k < prof_fwd_.size(); ++k)
    out.push_back({{"layers", std::to_string(steps_[k].first) + "-" + std::to_string(steps_[k].last)},
                   {"type", steps_[k].exec->type()}, {"forward_s", prof_fwd_[k]}, {"backward_s", prof_bwd_[k]}});
  return out;
}

std::string Model::execution_plan() const {
  std::string s;
  for (auto& st : steps_) {
    if (!s.empty()) s += ", ";
    s += "[" + std::to_string(st.first) + (st.last > st.first ? "-" + std::to_string(st.last) : "") + "] " +
         st.exec->type();
  }
  return s;
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
  using Clock = std::chrono::steady_clock;
  for (size_t k = 0; k < steps_.size(); ++k) {
    auto& st = steps_[k];
    auto t = profiling_ ? Clock::now() : Clock::time_point();
    st.exec->forward(*cur, acts_[st.last], mode);
    if (profiling_) prof_fwd_[k] += std::chrono::duration<double>(Clock::now() - t).count();
    cur = &acts_[st.last];
  }
  return *cur;
}

const Tensor& Model::backward(const Tensor& dlogits, bool input_grad, bool param_grads,
                              const GradReadyFn& on_grad_ready) {
  static const Tensor kEmpty;
  const Tensor* dy = &dlogits;
  int slot = 0;
  for (int k = int(steps_.size()) - 1; k >= 0; --k) {
    const Step& st = steps_[k];
    const Tensor& x = st.first == 0 ? *input_ptr_ : acts_[st.first - 1];
    // Layer 0's input gradient is only wanted by attacks; earlier layers need
    // theirs to continue. Stop once neither is needed below this point.
    bool need_dx = st.first > 0 || input_grad;
    if (!need_dx && !(param_grads && st.has_params)) break;
    // When only parameter gradients are wanted, skip layers below the first
    // (from the input) that has parameters.
    Tensor* dx = need_dx ? &grads_[slot] : nullptr;
    bool pg = param_grads && st.has_params;
    auto t = profiling_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    st.exec->backward(x, acts_[st.last], *dy, dx, pg);
    if (profiling_) prof_bwd_[k] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    if (pg && on_grad_ready)  // per original layer, last to first, as without fusion
      for (int i = st.last; i >= st.first; --i)
        if (layers_[i]->has_params()) on_grad_ready(i);
    if (dx) { dy = dx; slot ^= 1; }
  }
  return input_grad ? *dy : kEmpty;
}

}  // namespace rampart
