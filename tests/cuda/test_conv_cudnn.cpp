// cuDNN convolution (NHWC activations, PyTorch [out, in, kh, kw] weights) against
// naive host loops for forward, backward data and backward filter.
#include <gtest/gtest.h>

#include <iostream>
#include <iterator>

#include "cuda_test_util.h"
#include "kernels/cuda/conv_cudnn.h"

namespace rampart::cuda {
namespace {

using test::DeviceBuffer;

size_t xi(const ConvShape& s, int n, int h, int w, int c) {
  return ((size_t(n) * s.h + h) * s.w + w) * s.c + c;
}
size_t yi(const ConvShape& s, int n, int h, int w, int k) {
  return ((size_t(n) * s.out_h() + h) * s.out_w() + w) * s.k + k;
}
size_t wi(const ConvShape& s, int k, int c, int r, int q) {
  return ((size_t(k) * s.c + c) * s.r + r) * s.s + q;
}

// Calls f(n, oh, ow, k, ih, iw, c, r, q) for every multiply of the convolution.
template <class F>
void each_tap(const ConvShape& s, F f) {
  for (int n = 0; n < s.n; ++n)
    for (int oh = 0; oh < s.out_h(); ++oh)
      for (int ow = 0; ow < s.out_w(); ++ow)
        for (int k = 0; k < s.k; ++k)
          for (int r = 0; r < s.r; ++r)
            for (int q = 0; q < s.s; ++q) {
              int ih = oh * s.stride_h - s.pad_h + r, iw = ow * s.stride_w - s.pad_w + q;
              if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
              for (int c = 0; c < s.c; ++c) f(n, oh, ow, k, ih, iw, c, r, q);
            }
}

TEST(CudaConvCudnn, ForwardAndBackwardMatchNaiveLoops) {
  RAMPART_REQUIRE_GPU();
  const ConvShape shapes[] = {
      {1, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1},  // small-cnn's first layer, batch 1
      {3, 5, 9, 7, 4, 3, 3, 2, 2, 1, 1},     // stride 2, odd sizes
      {2, 3, 6, 6, 7, 1, 1, 1, 1, 0, 0},     // 1x1
      {3, 4, 8, 8, 6, 5, 3, 1, 2, 2, 1},     // non-square kernel, mixed strides
  };
  CudnnConv conv;
  for (const ConvShape& s : shapes) {
    SCOPED_TRACE("shape n=" + std::to_string(s.n) + " c=" + std::to_string(s.c) + " h=" +
                 std::to_string(s.h) + " w=" + std::to_string(s.w) + " k=" + std::to_string(s.k));
    const size_t nx = size_t(s.n) * s.h * s.w * s.c, nw = size_t(s.k) * s.c * s.r * s.s;
    const size_t ny = size_t(s.n) * s.out_h() * s.out_w() * s.k;
    auto x = test::uniform(nx, -1.f, 1.f, 1), w = test::uniform(nw, -1.f, 1.f, 2);
    auto dy = test::uniform(ny, -1.f, 1.f, 3), dw0 = test::uniform(nw, -1.f, 1.f, 4);
    std::vector<double> y(ny, 0.0), dx(nx, 0.0), dw(nw, 0.0);
    each_tap(s, [&](int n, int oh, int ow, int k, int ih, int iw, int c, int r, int q) {
      y[yi(s, n, oh, ow, k)] += double(x[xi(s, n, ih, iw, c)]) * w[wi(s, k, c, r, q)];
      dx[xi(s, n, ih, iw, c)] += double(dy[yi(s, n, oh, ow, k)]) * w[wi(s, k, c, r, q)];
      dw[wi(s, k, c, r, q)] += double(dy[yi(s, n, oh, ow, k)]) * x[xi(s, n, ih, iw, c)];
    });
    std::vector<float> ey(y.begin(), y.end()), edx(dx.begin(), dx.end()), edw(dw.begin(), dw.end());
    std::vector<float> edw_acc(nw);
    for (size_t i = 0; i < nw; ++i) edw_acc[i] = float(dw[i] + dw0[i]);

    DeviceBuffer<float> x_(nx), w_(nw), y_(ny), dy_(ny), dx_(nx), dw_(nw), dwa_(nw);
    x_.upload(x);
    w_.upload(w);
    dy_.upload(dy);
    dwa_.upload(dw0);
    conv.forward(s, x_.get(), w_.get(), y_.get(), nullptr);
    conv.backward_data(s, dy_.get(), w_.get(), dx_.get(), nullptr);
    conv.backward_filter(s, x_.get(), dy_.get(), dw_.get(), false, nullptr);
    conv.backward_filter(s, x_.get(), dy_.get(), dwa_.get(), true, nullptr);
    test::sync();
    // FP32 products (no TF32), sums of up to a few hundred terms.
    test::expect_near(y_.download(ny), ey, 1e-4f, 1e-4f, "y");
    test::expect_near(dx_.download(nx), edx, 1e-4f, 1e-4f, "dx");
    test::expect_near(dw_.download(nw), edw, 1e-3f, 1e-4f, "dw");
    test::expect_near(dwa_.download(nw), edw_acc, 1e-3f, 1e-4f, "dw accumulated");
    auto a = conv.algorithms(s);  // cached: asking again plans nothing new
    EXPECT_GE(a.forward, 0);
  }
}

// Review B2: the algorithm record. small-cnn's and a CIFAR ResNet's shapes at batch
// 128; every choice is printed (the run's log is the evidence) and must be
// deterministic, since the planner takes a non-deterministic one only when allowed.
TEST(CudaConvCudnn, RecordsDeterministicAlgorithmChoices) {
  RAMPART_REQUIRE_GPU();
  const ConvShape shapes[] = {
      {128, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1},    {128, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1},
      {128, 3, 32, 32, 64, 3, 3, 1, 1, 1, 1},    {128, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1},
      {128, 64, 32, 32, 128, 3, 3, 2, 2, 1, 1},  {128, 64, 32, 32, 128, 1, 1, 2, 2, 0, 0},
      {128, 256, 8, 8, 512, 3, 3, 2, 2, 1, 1}};
  CudnnConv conv;
  for (const ConvShape& s : shapes) {
    try {
      conv.prepare(s);
    } catch (const std::runtime_error& e) {
      // The message must name the shape so that a user can act on it.
      EXPECT_NE(std::string(e.what()).find(describe(s)), std::string::npos) << e.what();
      ADD_FAILURE() << "no deterministic algorithm: " << e.what();
    }
  }
  std::cout << conv.algorithm_report();
  ASSERT_EQ(conv.algorithm_record().size(), 3 * std::size(shapes));
  for (const auto& c : conv.algorithm_record())
    EXPECT_TRUE(c.deterministic) << describe(c.shape) << " " << c.direction << " " << c.name;
  conv.algorithms(shapes[0]);  // cached: no new record
  EXPECT_EQ(conv.algorithm_record().size(), 3 * std::size(shapes));
}

TEST(CudaConvCudnn, RejectsAnEmptyOutput) {
  RAMPART_REQUIRE_GPU();  // the constructor needs cuDNN and a device
  CudnnConv conv;
  ConvShape s{1, 1, 2, 2, 1, 3, 3};  // 3x3 kernel on a 2x2 input, no padding
  EXPECT_THROW(conv.prepare(s), std::invalid_argument);
}

}  // namespace
}  // namespace rampart::cuda
