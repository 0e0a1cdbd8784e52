// Model as a graph of named modules, its passes: containers keep the numbers of the
// flat list, residual gradients against finite differences, fusion at branch points,
// and checkpoints of nested models. Names and errors: test_model_graph.cpp.
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
#include "tests/runtime/model_graph_specs.h"
#include "tests/runtime/test_data_util.h"
namespace rampart {
namespace {

using nlohmann::json;
using testing::TempDir;
using namespace graph_test;

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
