// Models as graphs of named modules (docs/model-spec.md): PyTorch's state_dict
// names for nested specs, residual blocks' forward and backward against finite
// differences, flat lists unchanged, shape errors, fusion inside containers,
// and checkpoints of nested models.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "runtime/checkpoint.h"
#include "runtime/errors.h"
#include "runtime/model.h"
#include "runtime/model_state.h"
#include "tests/runtime/gradcheck.h"
#include "tests/runtime/test_data_util.h"

namespace rampart {
namespace {

using nlohmann::json;
using testing::TempDir;
using Names = std::vector<std::string>;

json conv(int in, int out, int k, int stride, int pad, const char* name = nullptr, bool bias = false) {
  json j = {{"type", "conv2d"}, {"in_channels", in}, {"out_channels", out}, {"kernel_size", k},
            {"stride", stride}, {"padding", pad}, {"bias", bias}};
  if (name) j["name"] = name;
  return j;
}
json bn(int c, const char* name = nullptr) {
  json j = {{"type", "batchnorm2d"}, {"num_features", c}};
  if (name) j["name"] = name;
  return j;
}
json relu(const char* name = nullptr) {
  json j = {{"type", "relu"}};
  if (name) j["name"] = name;
  return j;
}
// children: a std::vector, so that one child is a list of one under every compiler
// (a json parameter initialised from {child} is a copy of the child under clang).
json seq(const char* name, std::vector<json> children) {
  return {{"type", "sequential"}, {"name", name}, {"children", children}};
}

// PreActBlock of the RobustBench/TRADES code: bn1, relu, conv1, bn2, relu, conv2,
// plus shortcut.0 (a 1x1 conv from the pre-activated input) when the shape changes.
json preact_block(int in, int out, int stride) {
  json b = {{"type", "residual"},
            {"pre", {bn(in, "bn1"), relu()}},
            {"body", {conv(in, out, 3, stride, 1, "conv1"), bn(out, "bn2"), relu(), conv(out, out, 3, 1, 1, "conv2")}}};
  if (stride != 1 || in != out) {
    b["shortcut"] = json::array({conv(in, out, 1, stride, 0)});
    b["shortcut_from"] = "pre";
  }
  return b;
}

// A small PreActResNet: conv1, layer1 (two blocks, the first downsampling), bn, linear.
json tiny_preact(int c_in, int hw) {
  return json::array({conv(c_in, 4, 3, 1, 1, "conv1"),
                      seq("layer1", {preact_block(4, 6, 2), preact_block(6, 6, 1)}),
                      bn(6, "bn"), relu(), {{"type", "avgpool2d"}, {"kernel_size", hw / 2}}, {{"type", "flatten"}},
                      {{"type", "linear"}, {"name", "linear"}, {"in_features", 6}, {"out_features", 3}}});
}

Names param_names(Model& m) {
  Names n;
  for (auto& p : m.params()) n.push_back(p.name);
  return n;
}
Names buffer_names(Model& m) {
  Names n;
  for (auto& b : m.buffers()) n.push_back(b.name);
  return n;
}
Names bn_buffers(const std::string& p) {
  return {p + ".running_mean", p + ".running_var", p + ".num_batches_tracked"};
}
Names cat(std::initializer_list<Names> parts) {
  Names out;
  for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(ModelGraph, PreActResNetNamesArePyTorchs) {
  Model m(tiny_preact(3, 8), {3, 8, 8});
  EXPECT_EQ(param_names(m),
            (Names{"conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias", "layer1.0.conv1.weight",
                   "layer1.0.bn2.weight", "layer1.0.bn2.bias", "layer1.0.conv2.weight", "layer1.0.shortcut.0.weight",
                   "layer1.1.bn1.weight", "layer1.1.bn1.bias", "layer1.1.conv1.weight", "layer1.1.bn2.weight",
                   "layer1.1.bn2.bias", "layer1.1.conv2.weight", "bn.weight", "bn.bias", "linear.weight",
                   "linear.bias"}));
  EXPECT_EQ(buffer_names(m), cat({bn_buffers("layer1.0.bn1"), bn_buffers("layer1.0.bn2"), bn_buffers("layer1.1.bn1"),
                                  bn_buffers("layer1.1.bn2"), bn_buffers("bn")}));
  EXPECT_EQ(m.layer_name(0), "conv1");
  EXPECT_EQ(m.layer_name(7), "layer1.0.shortcut.0");
  EXPECT_FALSE(m.is_plain_list());
  EXPECT_EQ(m.num_classes(), 3);
}

TEST(ModelGraph, WideResNetNamesArePyTorchs) {
  // TRADES' WideResNet: conv1, block1.layer.<i> of BasicBlock (bn1, relu1, conv1,
  // bn2, relu2, conv2, convShortcut when in != out), bn1, relu, fc.
  auto block = [](int in, int out) {
    json b = {{"type", "residual"},
              {"pre", {bn(in, "bn1"), relu("relu1")}},
              {"body", {conv(in, out, 3, 1, 1, "conv1"), bn(out, "bn2"), relu("relu2"), conv(out, out, 3, 1, 1, "conv2")}}};
    if (in != out) b["shortcut"] = json::array({conv(in, out, 1, 1, 0, "convShortcut")}), b["shortcut_from"] = "pre";
    return b;
  };
  json spec = json::array({conv(3, 4, 3, 1, 1, "conv1"),
                           seq("block1", {seq("layer", {block(4, 8), block(8, 8)})}),
                           bn(8, "bn1"), relu("relu"), {{"type", "avgpool2d"}, {"kernel_size", 4}},
                           {{"type", "flatten"}},
                           {{"type", "linear"}, {"name", "fc"}, {"in_features", 8}, {"out_features", 10}}});
  Model m(spec, {3, 4, 4});
  const std::string b0 = "block1.layer.0.", b1 = "block1.layer.1.";
  EXPECT_EQ(param_names(m),
            (Names{"conv1.weight", b0 + "bn1.weight", b0 + "bn1.bias", b0 + "conv1.weight", b0 + "bn2.weight",
                   b0 + "bn2.bias", b0 + "conv2.weight", b0 + "convShortcut.weight", b1 + "bn1.weight",
                   b1 + "bn1.bias", b1 + "conv1.weight", b1 + "bn2.weight", b1 + "bn2.bias", b1 + "conv2.weight",
                   "bn1.weight", "bn1.bias", "fc.weight", "fc.bias"}));
  EXPECT_EQ(buffer_names(m), cat({bn_buffers(b0 + "bn1"), bn_buffers(b0 + "bn2"), bn_buffers(b1 + "bn1"),
                                  bn_buffers(b1 + "bn2"), bn_buffers("bn1")}));
}

TEST(ModelGraph, ResNetBottleneckNamesArePyTorchs) {
  // torchvision's Bottleneck: conv1 bn1 conv2 bn2 conv3 bn3 (relu after each bn
  // but the last), downsample = Sequential(conv, bn), relu after the add.
  json block = {{"type", "residual"},
                {"body", {conv(4, 2, 1, 1, 0, "conv1"), bn(2, "bn1"), relu(), conv(2, 2, 3, 2, 1, "conv2"),
                          bn(2, "bn2"), relu(), conv(2, 8, 1, 1, 0, "conv3"), bn(8, "bn3")}},
                {"shortcut", {seq("downsample", {conv(4, 8, 1, 2, 0), bn(8)})}},
                {"post", {relu()}}};
  json spec = json::array({seq("layer1", {block}), {{"type", "flatten"}},
                           {{"type", "linear"}, {"name", "fc"}, {"in_features", 8 * 2 * 2}, {"out_features", 2}}});
  Model m(spec, {4, 4, 4});
  const std::string p = "layer1.0.";
  EXPECT_EQ(param_names(m),
            (Names{p + "conv1.weight", p + "bn1.weight", p + "bn1.bias", p + "conv2.weight", p + "bn2.weight",
                   p + "bn2.bias", p + "conv3.weight", p + "bn3.weight", p + "bn3.bias", p + "downsample.0.weight",
                   p + "downsample.1.weight", p + "downsample.1.bias", "fc.weight", "fc.bias"}));
  EXPECT_EQ(buffer_names(m), cat({bn_buffers(p + "bn1"), bn_buffers(p + "bn2"), bn_buffers(p + "bn3"),
                                  bn_buffers(p + "downsample.1")}));
}

TEST(ModelGraph, FlatListsKeepTheirNamesAndRanges) {
  Shape in = {1, 28, 28};
  Model m(expand_model("small-cnn-bn", in), in);
  EXPECT_TRUE(m.is_plain_list());
  EXPECT_EQ(param_names(m), (Names{"0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias", "5.weight",
                                   "5.bias", "9.weight", "9.bias", "11.weight", "11.bias"}));
  EXPECT_EQ(buffer_names(m), cat({bn_buffers("1"), bn_buffers("5")}));
  ASSERT_EQ(m.num_layers(), 12);
  int64_t offset = 0;
  for (int i = 0; i < m.num_layers(); ++i) {
    EXPECT_EQ(m.layer_name(i), std::to_string(i));
    EXPECT_EQ(m.layer_param_range(i).first, offset) << "layer " << i;
    offset = m.layer_param_range(i).second;
  }
  EXPECT_EQ(offset, m.num_params());
}

// The same layers as a flat list and wrapped in containers: the same bits in
// every output and gradient, the same flat layout (only the names differ).
TEST(ModelGraph, ContainersDoNotChangeTheNumbers) {
  Shape in = {1, 28, 28};
  json flat = expand_model("small-cnn-bn", in);
  json nested = json::array({seq("features", std::vector<json>(flat.begin(), flat.begin() + 4)),
                             json(flat.begin() + 4, flat.begin() + 8)});
  for (size_t i = 8; i < flat.size(); ++i) nested.push_back(flat[i]);
  Model a(flat, in), b(nested, in);
  ASSERT_EQ(a.num_params(), b.num_params());
  EXPECT_EQ(b.params()[0].name, "features.0.weight");
  EXPECT_EQ(b.params()[4].name, "1.0.weight");
  EXPECT_EQ(a.execution_plan(), b.execution_plan());  // fusion inside sequentials too
  a.init(5);
  b.init(5);
  ASSERT_EQ(0, std::memcmp(a.flat_params(), b.flat_params(), a.num_params() * sizeof(float)));
  Tensor x = testing::random_tensor({3, 1, 28, 28}, 1, 0, 1);
  for (Mode mode : {Mode::kTrain, Mode::kEval}) {
    const Tensor& ya = a.forward(x, mode);
    const Tensor& yb = b.forward(x, mode);
    ASSERT_EQ(0, std::memcmp(ya.data(), yb.data(), ya.size() * sizeof(float)));
    Tensor dy = testing::random_tensor(ya.shape(), 2);
    std::vector<int> ra, rb;
    const Tensor& dxa = a.backward(dy, true, true, [&](int l) { ra.push_back(l); });
    const Tensor& dxb = b.backward(dy, true, true, [&](int l) { rb.push_back(l); });
    EXPECT_EQ(0, std::memcmp(dxa.data(), dxb.data(), dxa.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(a.flat_grads(), b.flat_grads(), a.num_params() * sizeof(float)));
    EXPECT_EQ(ra, rb);
  }
}

// Compares analytic[i] with central differences of loss(), as gradcheck.h does,
// but with the tolerance scaled by the largest gradient of the whole model: a
// bias before a batchnorm has a tiny gradient, below the float noise of the
// loss, so its own largest entry is no scale.
int compare(const std::string& what, float* v, const float* analytic, int64_t n, double scale,
            const std::function<double()>& loss, const testing::GradCheckOptions& o) {
  const double atol = o.atol_rel * scale + 1e-6;
  int bad = 0;
  std::string first;
  for (int64_t i : testing::detail::pick(n, o.max_checks, o.seed)) {
    float saved = v[i];
    v[i] = float(saved + o.eps);
    double lp = loss();
    v[i] = float(saved - o.eps);
    double lm = loss();
    v[i] = saved;
    double numeric = (lp - lm) / (double(float(saved + o.eps)) - double(float(saved - o.eps)));
    double a = analytic[i];
    if (!(std::fabs(a - numeric) <= atol + o.rtol * std::max(std::fabs(a), std::fabs(numeric)))) {
      if (bad < 5)
        first += "\n  " + what + "[" + std::to_string(i) + "]: analytic " + std::to_string(a) + ", numeric " +
                 std::to_string(numeric);
      ++bad;
    }
  }
  if (bad) ADD_FAILURE() << what << ": " << bad << " mismatches (atol " << atol << ", rtol " << o.rtol << ")" << first;
  return bad;
}

// Finite differences of L = sum(logits * r) for the whole model: the input and
// every parameter; also the gradient-ready order and the partial passes.
int model_gradcheck(Model& m, Tensor x, Mode mode, const testing::GradCheckOptions& o) {
  const Tensor& y0 = m.forward(x, mode);
  Tensor r = testing::random_tensor(y0.shape(), o.seed + 1);
  std::fill(m.flat_grads(), m.flat_grads() + m.num_params(), 123.0f);  // must be overwritten
  std::vector<int> ready;
  Tensor dx = m.backward(r, true, true, [&](int l) { ready.push_back(l); });
  std::vector<float> grads(m.flat_grads(), m.flat_grads() + m.num_params());
  // Every leaf with parameters reports once, last to first.
  std::vector<int> expect;
  for (int i = m.num_layers() - 1; i >= 0; --i)
    if (m.layer_param_range(i).second > m.layer_param_range(i).first) expect.push_back(i);
  EXPECT_EQ(ready, expect);
  // Parameter-only and input-only passes give the same numbers.
  m.forward(x, mode);
  EXPECT_EQ(m.backward(r, false, true).size(), 0);
  EXPECT_EQ(0, std::memcmp(grads.data(), m.flat_grads(), grads.size() * sizeof(float)));
  std::fill(m.flat_grads(), m.flat_grads() + m.num_params(), -7.0f);
  m.forward(x, mode);
  const Tensor& dx2 = m.backward(r, true, false);
  EXPECT_EQ(0, std::memcmp(dx.data(), dx2.data(), dx.size() * sizeof(float)));
  for (int64_t i = 0; i < m.num_params(); ++i)
    if (m.flat_grads()[i] != -7.0f) { ADD_FAILURE() << "gradient " << i << " written without param_grads"; break; }

  auto loss = [&] { return testing::detail::weighted_sum(m.forward(x, mode), r); };
  double scale = 0;
  for (float g : grads) scale = std::max(scale, double(std::fabs(g)));
  double xscale = 0;
  for (int64_t i = 0; i < dx.size(); ++i) xscale = std::max(xscale, double(std::fabs(dx[i])));
  int bad = compare("dx", x.data(), dx.data(), x.size(), xscale, loss, o);
  for (auto& p : m.params())
    bad += compare("d" + p.name, p.value, grads.data() + p.offset, p.size(), scale, loss, o);
  return bad;
}

// The spec without its relu layers. Finite differences through a whole model
// with relus cross kinks at random (a weight moves every activation after it), so
// the graph's gradients are checked on a smooth model; relu's own backward is
// checked in test_layer_grad.cpp, and models with relus are compared bit for bit
// with their fused and flat forms below.
json without_relu(json j) {
  if (j.is_array()) {
    json out = json::array();
    for (auto& c : j)
      if (!(c.is_object() && c.value("type", "") == "relu")) out.push_back(without_relu(c));
    return out;
  }
  if (j.is_object())
    for (auto& [k, v] : j.items())
      if (v.is_array()) j[k] = without_relu(v);
  return j;
}

TEST(ModelGraph, ResidualGradientsMatchFiniteDifferences) {
  // Pre-activation blocks (the shortcut from "pre", and the identity from the
  // input), then a block with "post" and an identity shortcut.
  json spec = tiny_preact(2, 6);
  json post = {{"type", "residual"},
               {"name", "post_block"},
               {"body", {conv(6, 6, 3, 1, 1, "conv1", true), relu(), conv(6, 6, 1, 1, 0, "conv2", true)}},
               {"post", {relu(), bn(6, "bn")}}};
  spec.insert(spec.begin() + 2, post);
  Model m(without_relu(spec), {2, 6, 6});
  m.init(3);
  EXPECT_EQ(m.params()[14].name, "post_block.conv1.weight");
  testing::GradCheckOptions o;
  o.max_checks = 60;
  // Train mode (batch statistics), then eval mode with running statistics that are not the identity.
  Tensor x = testing::random_tensor({4, 2, 6, 6}, 7);
  EXPECT_EQ(model_gradcheck(m, x, Mode::kTrain, o), 0);
  for (int k = 0; k < 3; ++k) m.forward(testing::random_tensor({4, 2, 6, 6}, 20 + k), Mode::kTrain);
  EXPECT_EQ(model_gradcheck(m, x, Mode::kEval, o), 0);
}

TEST(ModelGraph, BranchShapesMustMatch) {
  json block = preact_block(4, 6, 2);
  block.erase("shortcut");  // identity shortcut: [1, 4, 8, 8] against the body's [1, 6, 4, 4]
  block.erase("shortcut_from");
  json spec = json::array({seq("layer1", {block}), {{"type", "flatten"}},
                           {{"type", "linear"}, {"in_features", 96}, {"out_features", 2}}});
  try {
    Model m(spec, {4, 8, 8});
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    std::string w = e.what();
    EXPECT_NE(w.find("module layer1.0 (residual)"), std::string::npos) << w;
    EXPECT_NE(w.find("the body gives [1, 6, 4, 4] but the shortcut gives [1, 4, 8, 8]"), std::string::npos) << w;
  }
}

TEST(ModelGraph, MalformedContainersAreConfigErrors) {
  auto msg = [](const json& spec) -> std::string {
    try {
      Model m(spec, {4, 8, 8});
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no ConfigError";
  };
  auto has = [](const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; };
  json tail = json::array({{{"type", "flatten"}}, {{"type", "linear"}, {"in_features", 256}, {"out_features", 2}}});
  auto with = [&](json first) {
    json s = json::array({first});
    s.insert(s.end(), tail.begin(), tail.end());
    return s;
  };
  std::string m;
  m = msg(with(seq("a", {conv(4, 4, 3, 1, 1, "c"), conv(4, 4, 3, 1, 1, "c")})));
  EXPECT_TRUE(has(m, "module a (sequential): two children are named \"c\"")) << m;
  m = msg(with(seq("a.b", {relu()})));
  EXPECT_TRUE(has(m, "\"name\" must be a non-empty string of letters, digits and '_'")) << m;
  m = msg(with({{"type", "residual"}, {"name", "r"}, {"body", json::array()}}));
  EXPECT_TRUE(has(m, "module r (residual): \"body\" must be a non-empty list")) << m;
  m = msg(with({{"type", "residual"}, {"name", "r"}, {"body", {relu()}}, {"skip", json::array()}}));
  EXPECT_TRUE(has(m, "module r (residual): unknown field \"skip\"")) << m;
  m = msg(with({{"type", "residual"}, {"name", "r"}, {"body", {relu()}}, {"shortcut_from", "body"}}));
  EXPECT_TRUE(has(m, "\"shortcut_from\" must be \"input\"")) << m;
  m = msg(with({{"type", "sequential"}, {"name", "s"}}));
  EXPECT_TRUE(has(m, "module s (sequential): missing field \"children\"")) << m;
  // A leaf's own error, with its place in the tree.
  m = msg(with(seq("features", {conv(3, 4, 3, 1, 1, "conv")})));
  EXPECT_TRUE(has(m, "model spec: module features.conv: layer 0 (conv2d): in_channels is 3")) << m;
  // Flat lists keep their messages.
  EXPECT_EQ(msg(json::array({conv(3, 4, 3, 1, 1)})).rfind("layer 0 (conv2d): in_channels is 3", 0), 0u);
}

TEST(ModelGraph, FusionStopsAtBranchPoints) {
  // conv -> relu where the conv's output is also the shortcut's input: not fused;
  // conv -> relu -> maxpool inside the body: fused.
  json block = {{"type", "residual"},
                {"name", "r"},
                {"pre", {conv(2, 4, 3, 1, 1, "conv0", true)}},
                {"body", {relu(), conv(4, 4, 3, 1, 1, "conv1", true), relu(), conv(4, 4, 3, 1, 1, "conv2", true),
                          relu(), {{"type", "maxpool2d"}, {"kernel_size", 2}}}},
                {"shortcut", {{{"type", "maxpool2d"}, {"kernel_size", 2}}}},
                {"shortcut_from", "pre"}};
  json spec = json::array({block, {{"type", "flatten"}}, {{"type", "linear"}, {"in_features", 36}, {"out_features", 2}}});
  Shape in = {2, 6, 6};
  Model m(spec, in);
  if (!m.fused()) GTEST_SKIP() << "RAMPART_NO_FUSION is set";
  EXPECT_EQ(m.execution_plan(),
            "[0] conv2d, [1] relu, [2-3] fused(conv2d,relu), [4-6] fused(conv2d,relu,maxpool2d), [7] maxpool2d, "
            "add(r), [8] flatten, [9] linear");
  ModelOptions off;
  off.fuse = false;
  Model plain(spec, in, off);
  m.init(9);
  plain.init(9);
  Tensor x = testing::random_tensor({3, 2, 6, 6}, 4);
  const Tensor& ya = m.forward(x, Mode::kTrain);
  const Tensor& yb = plain.forward(x, Mode::kTrain);
  ASSERT_EQ(0, std::memcmp(ya.data(), yb.data(), ya.size() * sizeof(float)));
  Tensor dy = testing::random_tensor(ya.shape(), 5);
  const Tensor& dxa = m.backward(dy, true, true);
  const Tensor& dxb = plain.backward(dy, true, true);
  EXPECT_EQ(0, std::memcmp(dxa.data(), dxb.data(), dxa.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(m.flat_grads(), plain.flat_grads(), m.num_params() * sizeof(float)));
}

TEST(ModelGraph, NestedCheckpointRoundTrips) {
  TempDir dir;
  Shape in = {3, 8, 8};
  Model m(tiny_preact(3, 8), in);
  m.init(11);
  Tensor x = testing::random_tensor({2, 3, 8, 8}, 3, 0, 1);
  m.forward(x, Mode::kTrain);  // running statistics that are not the initial ones
  Checkpoint ck;
  store_model(m, nullptr, ck);
  write_checkpoint(dir / "ck.h5", ck);
  Checkpoint back = read_checkpoint(dir / "ck.h5");
  EXPECT_EQ(back.arch, m.spec());
  Names stored;
  for (auto& [name, a] : back.model) stored.push_back(name);
  Names expect = cat({param_names(m), buffer_names(m)});
  std::sort(stored.begin(), stored.end());
  std::sort(expect.begin(), expect.end());
  EXPECT_EQ(stored, expect);
  Model r = model_from_checkpoint(back, in);
  ASSERT_EQ(r.num_params(), m.num_params());
  EXPECT_EQ(0, std::memcmp(r.flat_params(), m.flat_params(), m.num_params() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(r.flat_buffers(), m.flat_buffers(), m.num_buffer_values() * sizeof(float)));
  const Tensor& ya = m.forward(x, Mode::kEval);
  const Tensor& yb = r.forward(x, Mode::kEval);
  EXPECT_EQ(0, std::memcmp(ya.data(), yb.data(), ya.size() * sizeof(float)));
}

}  // namespace
}  // namespace rampart
