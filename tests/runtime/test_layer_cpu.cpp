// CPU layers against plain reference loops (direct convolution, pooling,
// flatten order, batchnorm statistics), buffer reuse across steps, batch-size
// changes, weight reorders only on change, and a check that the gradient
// checker itself can fail.
#include <gtest/gtest.h>
#include <gtest/gtest-spi.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/conv_dnnl.h"
#include "runtime/layers/conv2d.h"
#include "runtime/layers/layer.h"
#include "tests/runtime/gradcheck.h"

namespace rampart {
namespace {

using nlohmann::json;
using testing::BoundLayer;

// Element (n, c, h, w) of a channels-last tensor.
inline float at(const Tensor& t, int64_t n, int64_t c, int64_t h, int64_t w) {
  return t[((n * t.dim(2) + h) * t.dim(3) + w) * t.dim(1) + c];
}
inline int64_t idx(const Shape& s, int64_t n, int64_t c, int64_t h, int64_t w) {
  return ((n * s[2] + h) * s[3] + w) * s[1] + c;
}

struct ConvCase { int n, ic, oc, h, w, kh, kw, sh, sw, ph, pw; };

// Direct convolution in double: y, dx = conv^T(dy), dw, db for dy = r.
void reference_conv(const ConvCase& k, const Tensor& x, const float* wt, const float* b, const Tensor& r,
                    std::vector<double>& y, std::vector<double>& dx, std::vector<double>& dw,
                    std::vector<double>& db) {
  int oh = (k.h + 2 * k.ph - k.kh) / k.sh + 1, ow = (k.w + 2 * k.pw - k.kw) / k.sw + 1;
  Shape ys = {k.n, k.oc, oh, ow};
  y.assign(numel(ys), 0);
  dx.assign(x.size(), 0);
  dw.assign(size_t(k.oc) * k.ic * k.kh * k.kw, 0);
  db.assign(k.oc, 0);
  for (int n = 0; n < k.n; ++n)
    for (int o = 0; o < k.oc; ++o)
      for (int i = 0; i < oh; ++i)
        for (int j = 0; j < ow; ++j) {
          double acc = b ? b[o] : 0.0;
          double g = r[idx(ys, n, o, i, j)];
          db[o] += g;
          for (int c = 0; c < k.ic; ++c)
            for (int u = 0; u < k.kh; ++u)
              for (int v = 0; v < k.kw; ++v) {
                int hh = i * k.sh - k.ph + u, ww = j * k.sw - k.pw + v;
                if (hh < 0 || hh >= k.h || ww < 0 || ww >= k.w) continue;
                size_t wi = ((size_t(o) * k.ic + c) * k.kh + u) * k.kw + v;
                acc += double(wt[wi]) * at(x, n, c, hh, ww);
                dx[idx(x.shape(), n, c, hh, ww)] += double(wt[wi]) * g;
                dw[wi] += double(at(x, n, c, hh, ww)) * g;
              }
          y[idx(ys, n, o, i, j)] = acc;
        }
}

void expect_close(const char* what, const std::vector<double>& want, const float* got, double tol) {
  int bad = 0;
  for (size_t i = 0; i < want.size(); ++i)
    if (!(std::fabs(want[i] - got[i]) <= tol * (1 + std::fabs(want[i]))) && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: want " << want[i] << ", got " << got[i];
  EXPECT_EQ(bad, 0) << what;
}

TEST(LayerCpu, Conv2dMatchesDirectConvolution) {
  for (ConvCase k : {ConvCase{3, 5, 7, 9, 11, 3, 3, 1, 1, 0, 0}, ConvCase{3, 3, 17, 9, 7, 3, 2, 2, 2, 1, 2},
                     ConvCase{2, 1, 32, 28, 28, 3, 3, 1, 1, 1, 1}, ConvCase{3, 32, 64, 14, 14, 3, 3, 1, 1, 1, 1},
                     ConvCase{1, 20, 24, 8, 9, 5, 5, 2, 3, 2, 1}, ConvCase{4, 16, 48, 6, 6, 1, 1, 1, 1, 0, 0}}) {
    SCOPED_TRACE(::testing::Message() << "n " << k.n << " ic " << k.ic << " oc " << k.oc << " " << k.h << "x"
                                      << k.w << " k " << k.kh << "x" << k.kw << " s " << k.sh << "," << k.sw
                                      << " p " << k.ph << "," << k.pw);
    BoundLayer l(make_layer({{"type", "conv2d"}, {"in_channels", k.ic}, {"out_channels", k.oc},
                             {"kernel_size", {k.kh, k.kw}}, {"stride", {k.sh, k.sw}}, {"padding", {k.ph, k.pw}}},
                            0));
    Tensor x = testing::random_tensor({k.n, k.ic, k.h, k.w}, 21), y, dx;
    l->forward(x, y, Mode::kTrain);
    Tensor r = testing::random_tensor(y.shape(), 22);
    l->backward(x, y, r, &dx, true);
    std::vector<double> ry, rdx, rdw, rdb;
    reference_conv(k, x, l.param("weight").value, l.param("bias").value, r, ry, rdx, rdw, rdb);
    ASSERT_EQ(size_t(y.size()), ry.size());
    expect_close("y", ry, y.data(), 1e-4);
    expect_close("dx", rdx, dx.data(), 1e-4);
    expect_close("dweight", rdw, l.param("weight").grad, 1e-4);
    expect_close("dbias", rdb, l.param("bias").grad, 1e-4);
  }
}

TEST(LayerCpu, Conv2dReordersWeightsOnlyWhenTheyChange) {
  BoundLayer l(make_layer({{"type", "conv2d"}, {"in_channels", 32}, {"out_channels", 64}, {"kernel_size", 3},
                           {"padding", 1}}, 0));
  auto& conv = static_cast<Conv2d&>(l.layer()).kernel(Device::kCpu);
  Tensor x = testing::random_tensor({4, 32, 7, 7}, 23), y, dx;
  l->forward(x, y, Mode::kEval);
  Tensor r = testing::random_tensor(y.shape(), 24);
  l->backward(x, y, r, &dx, false);
  long after_first = conv.weight_reorders();
  for (int step = 0; step < 5; ++step) {  // an attack: weights fixed
    l->forward(x, y, Mode::kEval);
    l->backward(x, y, r, &dx, false);
  }
  EXPECT_EQ(conv.weight_reorders(), after_first);
  // An optimizer step changes one weight: the next passes must see it.
  Tensor y_old = y;
  l.param("weight").value[5] += 0.5f;
  l->forward(x, y, Mode::kEval);
  EXPECT_GT(conv.weight_reorders(), after_first);
  bool changed = false;
  for (int64_t i = 0; i < y.size(); ++i) changed = changed || y[i] != y_old[i];
  EXPECT_TRUE(changed);
  std::vector<double> ry, rdx, rdw, rdb;
  reference_conv({4, 32, 64, 7, 7, 3, 3, 1, 1, 1, 1}, x, l.param("weight").value, l.param("bias").value, r, ry,
                 rdx, rdw, rdb);
  expect_close("y after update", ry, y.data(), 1e-4);
  l->backward(x, y, r, &dx, false);
  expect_close("dx after update", rdx, dx.data(), 1e-4);
}

// ||got - want|| / ||want|| over a whole tensor.
double relative_l2(const std::vector<double>& want, const float* got) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return std::sqrt(num / den);
}

// BF16 passes (--attack-precision bf16): the convolution of BF16-rounded input (or dL/dy) and
// weights, accumulated in FP32, against the double reference. Each operand is rounded by at
// most 2^-9 relative, so a whole output is off by a few 1e-3 relative; it must also really be
// rounded (off by more than FP32 is), follow a weight update, and give the FP32 bits back
// once the precision is FP32 again.
TEST(LayerCpu, Conv2dBf16PassesMatchReferenceWithinBf16Rounding) {
  std::string why;
  if (!kernels::cpu::ConvDnnl::bf16_supported(&why)) GTEST_SKIP() << why;
  for (ConvCase k : {ConvCase{3, 32, 64, 14, 14, 3, 3, 1, 1, 1, 1}, ConvCase{2, 16, 24, 9, 8, 3, 3, 2, 2, 1, 1}}) {
    SCOPED_TRACE(::testing::Message() << "ic " << k.ic << " oc " << k.oc);
    BoundLayer l(make_layer({{"type", "conv2d"}, {"in_channels", k.ic}, {"out_channels", k.oc},
                             {"kernel_size", {k.kh, k.kw}}, {"stride", {k.sh, k.sw}}, {"padding", {k.ph, k.pw}}},
                            0));
    Tensor x = testing::random_tensor({k.n, k.ic, k.h, k.w}, 31), y32, dx32, y16, dx16;
    l->forward(x, y32, Mode::kEval);
    Tensor r = testing::random_tensor(y32.shape(), 32);
    l->backward(x, y32, r, &dx32, false);
    l->set_precision(Precision::kBf16);
    const float w7 = l.param("weight").value[7];
    for (int update = 0; update < 2; ++update) {
      if (update) l.param("weight").value[7] = w7 + 0.25f;  // an optimizer step between two attacks
      l->forward(x, y16, Mode::kEval);
      l->backward(x, y16, r, &dx16, false);
      std::vector<double> ry, rdx, rdw, rdb;
      reference_conv(k, x, l.param("weight").value, l.param("bias").value, r, ry, rdx, rdw, rdb);
      EXPECT_LT(relative_l2(ry, y16.data()), 1e-2);
      EXPECT_GT(relative_l2(ry, y16.data()), 1e-5) << "the BF16 forward gave FP32's accuracy";
      EXPECT_LT(relative_l2(rdx, dx16.data()), 1e-2);
      EXPECT_GT(relative_l2(rdx, dx16.data()), 1e-5) << "the BF16 backward gave FP32's accuracy";
    }
    l.param("weight").value[7] = w7;
    l->set_precision(Precision::kFp32);
    Tensor y, dx;
    l->forward(x, y, Mode::kEval);
    l->backward(x, y, r, &dx, false);
    EXPECT_EQ(0, std::memcmp(y.data(), y32.data(), size_t(y.size()) * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(dx.data(), dx32.data(), size_t(dx.size()) * sizeof(float)));
  }
}

// Where the CPU has no native BF16, asking for it fails with the reason (never a silent FP32).
TEST(LayerCpu, Conv2dBf16RefusedWithoutNativeBf16) {
  std::string why;
  if (kernels::cpu::ConvDnnl::bf16_supported(&why)) GTEST_SKIP() << "this CPU has native BF16";
  BoundLayer l(make_layer({{"type", "conv2d"}, {"in_channels", 8}, {"out_channels", 8}, {"kernel_size", 3}}, 0));
  Tensor x = testing::random_tensor({1, 8, 5, 5}, 33), y;
  l->forward(x, y, Mode::kEval);  // makes the kernel
  try {
    l->set_precision(Precision::kBf16);
    ADD_FAILURE() << "accepted BF16 without native BF16";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no native BF16 arithmetic"), std::string::npos) << e.what();
  }
}

TEST(LayerCpu, PoolsMatchReference) {
  Tensor x = testing::distinct_tensor({3, 5, 9, 7}, 25);
  for (const char* type : {"maxpool2d", "avgpool2d"}) {
    auto l = make_layer({{"type", type}, {"kernel_size", 3}, {"stride", 2}, {"padding", 1}}, 0);
    Tensor y;
    l->forward(x, y, Mode::kEval);
    ASSERT_EQ(y.shape(), (Shape{3, 5, 5, 4}));
    for (int n = 0; n < 3; ++n)
      for (int c = 0; c < 5; ++c)
        for (int i = 0; i < 5; ++i)
          for (int j = 0; j < 4; ++j) {
            double m = -INFINITY, s = 0;
            for (int u = 0; u < 3; ++u)
              for (int v = 0; v < 3; ++v) {
                int h = 2 * i - 1 + u, w = 2 * j - 1 + v;
                if (h < 0 || h >= 9 || w < 0 || w >= 7) continue;
                m = std::max(m, double(at(x, n, c, h, w)));
                s += at(x, n, c, h, w);
              }
            double want = std::string(type) == "maxpool2d" ? m : s / 9;  // count_include_pad
            EXPECT_NEAR(at(y, n, c, i, j), want, 1e-5) << type << " " << n << c << i << j;
          }
  }
}

TEST(LayerCpu, FlattenUsesPyTorchOrder) {
  auto l = make_layer({{"type", "flatten"}}, 0);
  Tensor x = testing::random_tensor({2, 3, 4, 5}, 26), y, dx;
  l->forward(x, y, Mode::kEval);
  ASSERT_EQ(y.shape(), (Shape{2, 60}));
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int h = 0; h < 4; ++h)
        for (int w = 0; w < 5; ++w) EXPECT_EQ(y[n * 60 + c * 20 + h * 5 + w], at(x, n, c, h, w));
  l->backward(x, y, y, &dx, false);
  for (int64_t i = 0; i < x.size(); ++i) EXPECT_EQ(dx[i], x[i]);
}

TEST(LayerCpu, BatchNormStatistics) {
  for (json momentum : {json(0.1), json(nullptr)}) {
    BoundLayer l(make_layer({{"type", "batchnorm2d"}, {"num_features", 3}, {"momentum", momentum}}, 0));
    Tensor x = testing::random_tensor({4, 3, 3, 5}, 27, -1.0f, 3.0f), y;
    double mean[3] = {}, var[3] = {}, m = 60;
    for (int c = 0; c < 3; ++c) {
      for (int n = 0; n < 4; ++n)
        for (int h = 0; h < 3; ++h)
          for (int w = 0; w < 5; ++w) mean[c] += at(x, n, c, h, w) / m;
      for (int n = 0; n < 4; ++n)
        for (int h = 0; h < 3; ++h)
          for (int w = 0; w < 5; ++w) var[c] += std::pow(at(x, n, c, h, w) - mean[c], 2) / m;
    }
    for (int step = 1; step <= 2; ++step) l->forward(x, y, Mode::kTrain);
    // Train mode normalises with the biased batch variance.
    for (int c = 0; c < 3; ++c)
      EXPECT_NEAR(at(y, 1, c, 2, 3), (at(x, 1, c, 2, 3) - mean[c]) / std::sqrt(var[c] + 1e-5), 1e-5);
    EXPECT_EQ(l.buffer("num_batches_tracked").value[0], 2.0f);
    for (int c = 0; c < 3; ++c) {
      double unbiased = var[c] * m / (m - 1), rm = 0, rv = 1;
      for (int step = 1; step <= 2; ++step) {
        double f = momentum.is_null() ? 1.0 / step : 0.1;
        rm = (1 - f) * rm + f * mean[c];
        rv = (1 - f) * rv + f * unbiased;
      }
      EXPECT_NEAR(l.buffer("running_mean").value[c], rm, 1e-5);
      EXPECT_NEAR(l.buffer("running_var").value[c], rv, 1e-5);
    }
    // Eval mode uses the running statistics and leaves them alone.
    l->forward(x, y, Mode::kEval);
    float rm0 = l.buffer("running_mean").value[0], rv0 = l.buffer("running_var").value[0];
    EXPECT_NEAR(at(y, 2, 0, 1, 1), (at(x, 2, 0, 1, 1) - rm0) / std::sqrt(rv0 + 1e-5), 1e-5);
    EXPECT_EQ(l.buffer("num_batches_tracked").value[0], 2.0f);
  }
}

// Every layer type, two steps at one batch size: outputs and gradients stay
// where they are (no reallocation); a smaller batch (the last one of an epoch)
// works and going back needs no new storage either.
TEST(LayerCpu, RepeatedStepsDoNotReallocate) {
  std::vector<std::pair<json, Shape>> cases = {
      {{{"type", "conv2d"}, {"in_channels", 3}, {"out_channels", 8}, {"kernel_size", 3}, {"padding", 1}}, {6, 3, 9, 9}},
      {{{"type", "linear"}, {"in_features", 12}, {"out_features", 5}}, {6, 12}},
      {{{"type", "relu"}}, {6, 4, 5, 5}},
      {{{"type", "maxpool2d"}, {"kernel_size", 2}}, {6, 4, 6, 6}},
      {{{"type", "avgpool2d"}, {"kernel_size", 2}}, {6, 4, 6, 6}},
      {{{"type", "flatten"}}, {6, 4, 3, 3}},
      {{{"type", "batchnorm2d"}, {"num_features", 4}}, {6, 4, 3, 3}},
      {{{"type", "normalize"}, {"mean", {0.5}}, {"std", {0.25}}}, {6, 1, 5, 5}},
  };
  for (auto& [spec, shape] : cases) {
    SCOPED_TRACE(spec.dump());
    BoundLayer l(make_layer(spec, 0));
    Tensor x = testing::random_tensor(shape, 28), y, dx;
    Tensor r;
    const float *py = nullptr, *pdx = nullptr;
    for (int step = 0; step < 3; ++step) {
      l->forward(x, y, Mode::kTrain);
      if (step == 0) r = testing::random_tensor(y.shape(), 29);
      l->backward(x, y, r, &dx, true);
      if (step == 0) { py = y.data(); pdx = dx.data(); }
      EXPECT_EQ(y.data(), py);
      EXPECT_EQ(dx.data(), pdx);
    }
    Shape small = shape;
    small[0] = 2;
    Tensor xs = testing::random_tensor(small, 30), rs;
    l->forward(xs, y, Mode::kEval);
    EXPECT_EQ(y.dim(0), 2);
    rs = testing::random_tensor(y.shape(), 31);
    l->backward(xs, y, rs, &dx, true);
    EXPECT_EQ(dx.shape(), small);
    l->forward(x, y, Mode::kTrain);
    l->backward(x, y, r, &dx, true);
    EXPECT_EQ(y.data(), py);
    EXPECT_EQ(dx.data(), pdx);
  }
}

TEST(LayerCpu, Conv2dBatchSizesInterleave) {
  // Primitives are cached per batch size; results must not mix them up.
  BoundLayer l(make_layer({{"type", "conv2d"}, {"in_channels", 4}, {"out_channels", 6}, {"kernel_size", 3}}, 0));
  Tensor a = testing::random_tensor({5, 4, 6, 6}, 32), b = testing::random_tensor({2, 4, 6, 6}, 33);
  Tensor ya, yb, ya2;
  l->forward(a, ya, Mode::kEval);
  l->forward(b, yb, Mode::kEval);
  l->forward(a, ya2, Mode::kEval);
  for (int64_t i = 0; i < ya.size(); ++i) ASSERT_EQ(ya[i], ya2[i]);
  // The first two examples of a computed in a batch of 2 give the same values.
  Tensor a2({2, 4, 6, 6}), y2;
  std::copy(a.data(), a.data() + a2.size(), a2.data());
  l->forward(a2, y2, Mode::kEval);
  for (int64_t i = 0; i < y2.size(); ++i) ASSERT_NEAR(y2[i], ya[i], 1e-6);
}

// A layer whose input gradient is off by 1%: the checker must notice.
class WrongRelu : public Layer {
 public:
  std::string type() const override { return "wrong"; }
  json spec() const override { return {}; }
  Shape output_shape(const Shape& in) const override { return in; }
  void forward(const Tensor& x, Tensor& y, Mode) override {
    y.resize(x.shape());
    for (int64_t i = 0; i < x.size(); ++i) y[i] = x[i] > 0 ? x[i] : 0;
  }
  void backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx, bool) override {
    if (!dx) return;
    dx->resize(x.shape());
    for (int64_t i = 0; i < x.size(); ++i) (*dx)[i] = x[i] > 0 ? 1.03f * dy[i] : 0;
  }
};

TEST(LayerGrad, CheckerCatchesAWrongGradient) {
  BoundLayer l(std::make_unique<WrongRelu>());
  Tensor x = testing::away_from_zero({2, 3, 4, 4}, 34);
  EXPECT_NONFATAL_FAILURE(testing::gradcheck(l, x, Mode::kEval), "mismatches");
}

}  // namespace
}  // namespace rampart
