// Model construction from a spec (its module graph), flat parameter buffers, the
// fusion pass; forward and backward are in graph/model_passes.cpp.
#include "runtime/model.h"

#include <chrono>
#include <cmath>
#include <cstdlib>

#include "runtime/errors.h"
#include "runtime/graph/module_graph.h"
#include "runtime/layers/conv2d.h"
#include "runtime/layers/fused_conv_relu_pool.h"
#include "runtime/layers/pool_common.h"
#include "runtime/rng.h"

namespace rampart {
namespace {

// Runs fn; a ConfigError from a leaf of a nested spec gets the leaf's module path
// ("layer 7 (conv2d): ..." alone does not say where layer 7 is). Flat lists keep
// their messages: there the index is the path.
template <class Fn>
void in_module(bool plain, const std::string& path, Fn fn) {
  if (plain) return fn();
  try {
    fn();
  } catch (const ConfigError& e) {
    throw ConfigError("model spec: module " + path + ": " + e.what());
  }
}

// A residual block's two branches must meet with one shape.
void check_join(const std::string& block, const Shape& body, const Shape& shortcut) {
  if (body == shortcut) return;
  throw ConfigError("model spec: module " + block + " (residual): the body gives " + shape_str(body) +
                    " but the shortcut gives " + shape_str(shortcut) + " for one example; expected the same "
                    "shape for the add (a shortcut that changes channels or resolution needs its own layers, "
                    "e.g. \"shortcut\": [a 1x1 conv2d with the body's stride])");
}

}  // namespace

Model::Model(const nlohmann::json& spec, const Shape& input, const ModelOptions& options)
    : spec_(spec), input_(input) {
  ModuleGraph g = parse_module_graph(spec);  // throws for a spec that is not a list
  if (input.size() != 3)
    throw ConfigError("model input: expected an example shape [C, H, W], found " + shape_str(input));
  plain_ = g.plain;
  output_ = g.output;

  // Build the leaves in forward order and walk the shapes through the program
  // with a batch of one.
  std::vector<Shape> shapes(g.num_values);
  shapes[0] = {1, input[0], input[1], input[2]};
  std::vector<Step> program;
  int64_t n_params = 0, n_buffers = 0;
  struct Pending { int layer; std::string name; Shape shape; int64_t offset; };
  std::vector<Pending> pending_params, pending_buffers;
  for (const GraphStep& gs : g.steps) {
    Step st;
    st.in = gs.in, st.in2 = gs.in2, st.out = gs.out, st.block = gs.block;
    if (gs.leaf < 0) {
      check_join(gs.block, shapes[gs.in], shapes[gs.in2]);
      shapes[gs.out] = shapes[gs.in];
      forward_flops_ += double(numel(shapes[gs.out]));  // one add per element
      program.push_back(st);
      continue;
    }
    const int i = gs.leaf;
    const std::string& name = g.leaves[i].name;
    in_module(plain_, name, [&] {
      layers_.push_back(make_layer(g.leaves[i].spec, i));
      forward_flops_ += layers_.back()->flops(shapes[gs.in]);
      shapes[gs.out] = layers_.back()->output_shape(shapes[gs.in]);
    });
    Layer& l = *layers_.back();
    layer_names_.push_back(name);
    int64_t begin = n_params;
    for (auto& [pname, shape] : l.param_shapes()) {
      pending_params.push_back({i, name + "." + pname, shape, n_params});
      n_params += numel(shape);
    }
    layer_ranges_.push_back({begin, n_params});
    for (auto& [bname, shape] : l.buffer_shapes()) {
      pending_buffers.push_back({i, name + "." + bname, shape, n_buffers});
      n_buffers += numel(shape);
    }
    st.first = st.last = i;
    st.exec = &l;
    st.has_params = l.has_params();
    program.push_back(st);
  }
  const Shape& s = shapes[output_];
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
  // Each leaf's views (the vectors above no longer grow, so pointers are stable).
  size_t pi = 0, bi = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    size_t first = pi, first_buffer = bi;
    while (pi < pending_params.size() && pending_params[pi].layer == int(i)) ++pi;
    while (bi < pending_buffers.size() && pending_buffers[bi].layer == int(i)) ++bi;
    layer_views_.push_back({first, pi});
    layer_buffer_views_.push_back({first_buffer, bi});
  }
  bind_layers(params_, buffers_);
  vals_.resize(g.num_values);
  vgrads_.resize(g.num_values);
  gptr_.assign(g.num_values, nullptr);
  param_upstream_.assign(g.num_values, 0);
  for (const Step& st : program)
    param_upstream_[st.out] = st.has_params || param_upstream_[st.in] || (st.in2 >= 0 && param_upstream_[st.in2]);
  const char* no_fusion = std::getenv("RAMPART_NO_FUSION");
  fuse_ = options.fuse && !(no_fusion && *no_fusion && std::string(no_fusion) != "0");
  program_ = program;
  plan_steps(fuse_, program);
}

// Hands each leaf its views of params and buffers (the host's, or the device's).
void Model::bind_layers(std::vector<ParamView>& params, std::vector<BufferView>& buffers) {
  for (size_t i = 0; i < layers_.size(); ++i) {
    std::vector<ParamView*> pv;
    for (size_t k = layer_views_[i].first; k < layer_views_[i].second; ++k) pv.push_back(&params[k]);
    if (!pv.empty()) layers_[i]->bind_params(pv);
    std::vector<BufferView*> bv;
    for (size_t k = layer_buffer_views_[i].first; k < layer_buffer_views_[i].second; ++k) bv.push_back(&buffers[k]);
    if (!bv.empty()) layers_[i]->bind_buffers(bv);
  }
}

void Model::set_pass_precision(Precision p) {
  if (p == precision_) return;
  if (const std::string why = ops::precision_gap(device_, p); !why.empty())
    throw ConfigError(std::string("model: passes in ") + precision_name(p) + " cannot run here: " + why);
  for (auto& l : layers_) l->set_precision(p);
  precision_ = p;
}

void Model::to(Device d) {
  if (d == device_) return;
  // Everything that cannot run on d, said at once and before anything moves.
  if (const std::string why = ops::gap(d, ""); !why.empty())
    throw ConfigError("model: expected a device rampart can run on, found --device " + std::string(device_name(d)) +
                      ": " + why + "; use --device cpu");
  std::string gaps;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const std::string why = layers_[i]->gap(d);
    if (!why.empty()) gaps += (gaps.empty() ? "" : "; ") + layer_names_[i] + " (" + layers_[i]->type() + "): " + why;
  }
  if (!gaps.empty())
    throw ConfigError("model: expected layers that run on --device " + std::string(device_name(d)) + ", found " +
                      gaps + "; use --device cpu for this model");
  pull_state();
  if (d == Device::kCpu) {
    bind_layers(params_, buffers_);
    dev_params_ = Tensor();
    dev_grads_ = Tensor();
    dev_buffers_ = Tensor();
    dev_param_views_.clear();
    dev_buffer_views_.clear();
  } else {
    dev_params_ = flat_params_.to(d);
    dev_grads_ = flat_grads_.to(d);
    dev_buffers_ = flat_buffers_.to(d);
    dev_param_views_ = params_;
    for (ParamView& p : dev_param_views_) {
      p.value = dev_params_.data() + p.offset;
      p.grad = dev_grads_.data() + p.offset;
    }
    dev_buffer_views_ = buffers_;
    for (size_t k = 0; k < buffers_.size(); ++k)
      dev_buffer_views_[k].value = dev_buffers_.data() + (buffers_[k].value - flat_buffers_.data());
    bind_layers(dev_param_views_, dev_buffer_views_);
  }
  device_ = d;
  for (auto* list : {&vals_, &vgrads_})
    for (Tensor& t : *list) t.set_device(d);
  scratch_.set_device(d);
  accum_.set_device(d);
  // Fused executors are CPU kernels bound to the host views: only there.
  steps_.clear();
  fused_layers_.clear();
  plan_steps(fuse_ && d == Device::kCpu, program_);
}

void Model::pull_state() {
  if (device_ == Device::kCpu) return;
  flat_params_.copy_from(dev_params_);
  flat_buffers_.copy_from(dev_buffers_);
}

void Model::push_state() {
  if (device_ == Device::kCpu) return;
  dev_params_.copy_from(flat_params_);
  dev_buffers_.copy_from(flat_buffers_);
}

// The fusion pass: "[conv2d] relu maxpool2d" and "conv2d relu" runs become one
// executor; every other step runs as itself. A run is fused only where each
// step feeds the next and nothing else (never across a residual block's
// branch point or join), so the values inside it need not exist.
void Model::plan_steps(bool fuse, const std::vector<Step>& program) {
  fused_ = false;
  const int n = int(program.size());
  std::vector<int> uses(vals_.size(), 0);
  for (const Step& st : program) {
    ++uses[st.in];
    if (st.in2 >= 0) ++uses[st.in2];
  }
  // Step k + off is a leaf of `type`, and steps k .. k + off form a chain.
  auto is = [&](int k, int off, const char* type) {
    for (int j = k + 1; j <= k + off; ++j)
      if (j >= n || !program[j].exec || program[j].in != program[j - 1].out ||
          uses[program[j - 1].out] != 1)
        return false;
    return k + off < n && program[k + off].exec && layers_[program[k + off].first]->type() == type;
  };
  for (int k = 0; k < n;) {
    const Step& st = program[k];
    if (fuse && st.exec) {
      bool conv = is(k, 0, "conv2d") && is(k, 1, "relu") && is(k, 2, "maxpool2d");
      bool bare = !conv && is(k, 0, "relu") && is(k, 1, "maxpool2d");
      bool conv_relu = !conv && is(k, 0, "conv2d") && is(k, 1, "relu");
      if (conv || bare || conv_relu) {
        const int i = st.first;
        const int pool = conv ? i + 2 : i + 1;  // the last leaf of the run
        const int last_step = k + (pool - i);
        nlohmann::json group = nlohmann::json::array();
        for (int j = i; j <= pool; ++j) group.push_back(layers_[j]->spec());
        Conv2d* c = conv || conv_relu ? dynamic_cast<Conv2d*>(layers_[i].get()) : nullptr;
        auto [pb, pe] = layer_views_[i];
        ParamView* w = pe > pb ? &params_[pb] : nullptr;
        ParamView* b = pe > pb + 1 ? &params_[pb + 1] : nullptr;
        if (!((conv || conv_relu) && (!c || !w))) {  // else not a conv2d we can drive: run the layers one by one
          kernels::cpu::PoolGeometry geom;
          if (!conv_relu) geom = parse_pool_spec(layers_[pool]->spec(), pool, "maxpool2d");
          fused_layers_.push_back(std::make_unique<FusedConvReluPool>(c, w, b, geom, group, !conv_relu));
          Step f = st;
          f.last = pool;
          f.exec = fused_layers_.back().get();
          f.has_params = c != nullptr;
          f.out = program[last_step].out;
          steps_.push_back(f);
          fused_ = true;
          k = last_step + 1;
          continue;
        }
      }
    }
    steps_.push_back(st);
    ++k;
  }
}

nlohmann::json Model::profile() const {
  nlohmann::json out = nlohmann::json::array();
  for (size_t k = 0; k < steps_.size() && k < prof_fwd_.size(); ++k) {
    const Step& st = steps_[k];
    std::string layers = st.exec ? std::to_string(st.first) + "-" + std::to_string(st.last) : st.block;
    out.push_back({{"layers", layers}, {"type", st.exec ? st.exec->type() : std::string("add")},
                   {"forward_s", prof_fwd_[k]}, {"backward_s", prof_bwd_[k]}});
  }
  return out;
}

std::string Model::execution_plan() const {
  std::string s;
  for (auto& st : steps_) {
    if (!s.empty()) s += ", ";
    if (!st.exec) {
      s += "add(" + st.block + ")";
      continue;
    }
    s += "[" + std::to_string(st.first) + (st.last > st.first ? "-" + std::to_string(st.last) : "") + "] " +
         st.exec->type();
  }
  return s;
}

void Model::init(uint64_t seed) {
  // Drawn on the host (the layers write through their views), then copied across.
  if (device_ != Device::kCpu) bind_layers(params_, buffers_);
  for (size_t i = 0; i < layers_.size(); ++i) {
    Rng rng(seed, Stream::kInit, i);
    layers_[i]->reset_parameters(rng);
  }
  if (device_ != Device::kCpu) {
    bind_layers(dev_param_views_, dev_buffer_views_);
    push_state();
  }
}

}  // namespace rampart
