// The fusion pass (runtime/model.cpp) and its kernels: fused and unfused models
// must give the same logits, input gradients, parameter gradients and
// gradient-ready callbacks, bit for bit, including at max-pool ties and zeros.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu/maxpool_relu.h"
#include "runtime/model.h"
#include "runtime/rng.h"
#include "runtime/tensor.h"

namespace rampart {
namespace {

using nlohmann::json;

void fill_uniform(float* p, int64_t n, float lo, float hi, uint64_t seed) {
  Rng rng(seed, Stream::kInit, 99);
  for (int64_t i = 0; i < n; ++i) p[i] = rng.uniform(lo, hi);
}

// Makes ties: a few conv output channels become constants (weights 0, bias
// positive, zero or negative), so every pool window of them is one big tie.
void make_ties(Model& m) {
  for (auto& p : m.params()) {
    if (p.name != "0.weight") continue;
    const int64_t per = p.size() / p.shape[0];
    for (int oc = 0; oc < 3 && oc < p.shape[0]; ++oc) std::memset(p.value + oc * per, 0, per * sizeof(float));
  }
  for (auto& p : m.params()) {
    if (p.name != "0.bias") continue;
    p.value[0] = 0.25f; p.value[1] = 0.0f; p.value[2] = -0.25f;
  }
}

struct Pass {
  std::vector<float> logits, dx, grads;
  std::vector<int> ready;
};

Pass run(Model& m, const Tensor& x, Mode mode) {
  Pass r;
  const Tensor& y = m.forward(x, mode);
  r.logits.assign(y.data(), y.data() + y.size());
  Tensor dy;
  dy.resize(y.shape());
  fill_uniform(dy.data(), dy.size(), -1, 1, 7);
  std::memset(m.flat_grads(), 0xff, m.num_params() * sizeof(float));  // NaN: unwritten shows up
  const Tensor& dx = m.backward(dy, true, true, [&](int layer) { r.ready.push_back(layer); });
  r.dx.assign(dx.data(), dx.data() + dx.size());
  r.grads.assign(m.flat_grads(), m.flat_grads() + m.num_params());
  // Input gradient only (the attack's pass) must agree too.
  const Tensor& dx2 = m.backward(dy, true, false);
  EXPECT_EQ(0, std::memcmp(dx2.data(), r.dx.data(), r.dx.size() * sizeof(float)));
  return r;
}

void expect_same(const json& spec, const Shape& in, bool ties, const char* what) {
  SCOPED_TRACE(what);
  ModelOptions on, off;
  off.fuse = false;
  Model fused(spec, in, on), plain(spec, in, off);
  fused.init(3);
  plain.init(3);
  if (ties) {
    make_ties(fused);
    make_ties(plain);
  }
  ASSERT_FALSE(plain.fused());
  Tensor x;
  x.resize({24, in[0], in[1], in[2]});  // 24: the fused convs run it in several chunks
  fill_uniform(x.data(), x.size(), 0, 1, 5);
  for (int64_t i = 0; i < x.size(); i += 7) x.data()[i] = 0.5f;  // more ties in the raw input
  for (Mode mode : {Mode::kEval, Mode::kTrain}) {
    Pass a = run(fused, x, mode), b = run(plain, x, mode);
    ASSERT_EQ(a.logits.size(), b.logits.size());
    EXPECT_EQ(0, std::memcmp(a.logits.data(), b.logits.data(), a.logits.size() * sizeof(float))) << "logits";
    EXPECT_EQ(0, std::memcmp(a.dx.data(), b.dx.data(), a.dx.size() * sizeof(float))) << "input gradient";
    for (size_t i = 0; i < a.grads.size(); ++i) {
      ASSERT_EQ(a.grads[i], b.grads[i]) << "flat gradient " << i;
    }
    EXPECT_EQ(a.ready, b.ready) << "gradient-ready callbacks";
  }
  if (fused.num_buffer_values()) {
    EXPECT_EQ(0, std::memcmp(fused.flat_buffers(), plain.flat_buffers(), fused.num_buffer_values() * sizeof(float)));
  }
}

TEST(Fusion, SmallCnnIsFusedAndExact) {
  Shape in = {1, 28, 28};
  Model m(expand_model("small-cnn", in), in);
  if (!m.fused()) GTEST_SKIP() << "RAMPART_NO_FUSION is set";
  EXPECT_NE(m.execution_plan().find("[0-2] fused(conv2d,relu,maxpool2d)"), std::string::npos) << m.execution_plan();
  EXPECT_NE(m.execution_plan().find("[3-5] fused(conv2d,relu,maxpool2d)"), std::string::npos) << m.execution_plan();
  expect_same(expand_model("small-cnn", in), in, false, "small-cnn");
  expect_same(expand_model("small-cnn", in), in, true, "small-cnn with ties");
}

TEST(Fusion, SmallCnnBnFusesReluPool) {
  Shape in = {1, 28, 28};
  Model m(expand_model("small-cnn-bn", in), in);
  if (!m.fused()) GTEST_SKIP() << "RAMPART_NO_FUSION is set";
  EXPECT_NE(m.execution_plan().find("[2-3] fused(relu,maxpool2d)"), std::string::npos) << m.execution_plan();
  expect_same(expand_model("small-cnn-bn", in), in, false, "small-cnn-bn");
  expect_same(expand_model("small-cnn-bn", in), in, true, "small-cnn-bn with ties");
}

TEST(Fusion, ReluNotFollowedByPoolAndAwkwardPools) {
  // relu without a pool after it, odd sizes (the 2x2 pool drops a row and a
  // column), and an overlapping padded pool (the generic path).
  json spec = json::parse(R"([
    {"type": "conv2d", "in_channels": 2, "out_channels": 5, "kernel_size": 3, "padding": 1},
    {"type": "relu"},
    {"type": "conv2d", "in_channels": 5, "out_channels": 6, "kernel_size": 3, "padding": 0},
    {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2},
    {"type": "conv2d", "in_channels": 6, "out_channels": 7, "kernel_size": 1},
    {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 3, "stride": 2, "padding": 1},
    {"type": "flatten"}, {"type": "linear", "in_features": 63, "out_features": 9}, {"type": "relu"},
    {"type": "linear", "in_features": 9, "out_features": 4}])");
  Shape in = {2, 13, 13};
  Model m(spec, in);
  if (!m.fused()) GTEST_SKIP() << "RAMPART_NO_FUSION is set";
  EXPECT_NE(m.execution_plan().find("[0-1] fused(conv2d,relu), [2-4] fused(conv2d,relu,maxpool2d)"),
            std::string::npos) << m.execution_plan();
  EXPECT_NE(m.execution_plan().find("[9] linear, [10] relu, [11] linear"), std::string::npos) << m.execution_plan();
  expect_same(spec, in, false, "mixed");
  expect_same(spec, in, true, "mixed with ties");
}

TEST(Fusion, ParametersAndRangesUnchanged) {
  Shape in = {1, 28, 28};
  ModelOptions off;
  off.fuse = false;
  Model a(expand_model("small-cnn", in), in), b(expand_model("small-cnn", in), in, off);
  ASSERT_EQ(a.params().size(), b.params().size());
  for (size_t i = 0; i < a.params().size(); ++i) {
    EXPECT_EQ(a.params()[i].name, b.params()[i].name);
    EXPECT_EQ(a.params()[i].offset, b.params()[i].offset);
  }
  ASSERT_EQ(a.num_layers(), b.num_layers());
  for (int i = 0; i < a.num_layers(); ++i) EXPECT_EQ(a.layer_param_range(i), b.layer_param_range(i));
  EXPECT_EQ(a.forward_flops(), b.forward_flops());
}

// The fused kernel against relu -> maxpool -> maxpool backward -> relu backward,
// on awkward sizes, with ties, zeros, negative values and NaN.
TEST(Fusion, MaxpoolReluKernelMatchesReference) {
  using kernels::cpu::PoolGeometry;
  struct Case { PoolGeometry g; int n, h, w, c; };
  std::vector<Case> cases = {{{2, 2, 2, 2, 0, 0}, 3, 7, 9, 5},   {{2, 2, 2, 2, 0, 0}, 2, 28, 28, 32},
                             {{3, 3, 2, 2, 1, 1}, 2, 7, 6, 3},   {{2, 3, 1, 2, 0, 1}, 1, 5, 8, 17},
                             {{2, 2, 2, 2, 0, 0}, 40, 14, 14, 64}};
  for (auto& cs : cases) {
    SCOPED_TRACE(testing::Message() << cs.h << "x" << cs.w << "x" << cs.c << " k" << cs.g.kh << "x" << cs.g.kw);
    const int oh = cs.g.out_h(cs.h), ow = cs.g.out_w(cs.w);
    const int64_t in = int64_t(cs.n) * cs.h * cs.w * cs.c, out = int64_t(cs.n) * oh * ow * cs.c;
    std::vector<float> x(in), dy(out), y(out), y_ref(out), dx(in), dx_ref(in), scratch(2 * in);
    std::vector<int32_t> am(out), am_ref(out);
    fill_uniform(x.data(), in, -1, 1, 11);
    for (int64_t i = 0; i < in; i += 5) x[i] = 0.0f;   // zeros: ties at relu's kink
    for (int64_t i = 3; i < in; i += 11) x[i] = 0.5f;  // positive ties
    x[in / 2] = std::numeric_limits<float>::quiet_NaN();
    fill_uniform(dy.data(), out, -1, 1, 12);
    kernels::cpu::maxpool_relu_forward(cs.g, cs.n, cs.h, cs.w, cs.c, x.data(), y.data(), am.data());
    kernels::cpu::maxpool_relu_forward_ref(cs.g, cs.n, cs.h, cs.w, cs.c, x.data(), y_ref.data(), am_ref.data(),
                                           scratch.data());
    for (int64_t i = 0; i < out; ++i)
      ASSERT_TRUE(y[i] == y_ref[i] || (std::isnan(y[i]) && std::isnan(y_ref[i]))) << "y[" << i << "]";
    std::fill(dx.begin(), dx.end(), 123.0f);  // every element must be written
    kernels::cpu::maxpool_relu_backward(cs.g, cs.n, cs.h, cs.w, cs.c, y.data(), dy.data(), am.data(), dx.data());
    kernels::cpu::maxpool_relu_backward_ref(cs.g, cs.n, cs.h, cs.w, cs.c, x.data(), dy.data(), am_ref.data(),
                                            dx_ref.data(), scratch.data());
    for (int64_t i = 0; i < in; ++i) ASSERT_EQ(dx[i], dx_ref[i]) << "dx[" << i << "]";
    if (kernels::cpu::is_pool2x2(cs.g)) {  // the byte-code variant
      std::vector<uint8_t> code(out);
      kernels::cpu::maxpool2x2_relu_forward(cs.n, cs.h, cs.w, cs.c, x.data(), y.data(), code.data());
      for (int64_t i = 0; i < out; ++i)
        ASSERT_TRUE(y[i] == y_ref[i] || (std::isnan(y[i]) && std::isnan(y_ref[i]))) << "2x2 y[" << i << "]";
      std::fill(dx.begin(), dx.end(), 123.0f);
      kernels::cpu::maxpool2x2_relu_backward(cs.n, cs.h, cs.w, cs.c, dy.data(), code.data(), dx.data());
      for (int64_t i = 0; i < in; ++i) ASSERT_EQ(dx[i], dx_ref[i]) << "2x2 dx[" << i << "]";
    }
  }
}

}  // namespace
}  // namespace rampart
