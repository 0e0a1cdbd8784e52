// ReLU, max-pooling (NHWC), bias and SGD on GPU against host loops.
#include <gtest/gtest.h>

#include <cmath>

#include "cuda_test_util.h"
#include "kernels/cuda/eltwise.cuh"

namespace rampart::cuda {
namespace {

using test::DeviceBuffer;

TEST(CudaEltwise, ReluForwardAndBackward) {
  RAMPART_REQUIRE_GPU();
  for (size_t n : {1, 3, 129, 100003}) {
    auto x = test::uniform(n, -1.f, 1.f, 1);
    x[0] = 0.f;  // the kink: no gradient, as in PyTorch
    auto dy = test::uniform(n, -1.f, 1.f, 2);
    DeviceBuffer<float> dx_(n), dy_(n), y_(n), g_(n);
    dx_.upload(x);
    dy_.upload(dy);
    relu_forward(dx_.get(), y_.get(), int64_t(n), nullptr);
    relu_backward(dx_.get(), dy_.get(), g_.get(), int64_t(n), nullptr);
    test::sync();
    std::vector<float> y(n), g(n);
    for (size_t i = 0; i < n; ++i) {
      y[i] = x[i] > 0 ? x[i] : 0.f;
      g[i] = x[i] > 0 ? dy[i] : 0.f;
    }
    EXPECT_EQ(y_.download(n), y);
    EXPECT_EQ(g_.download(n), g);
  }
}

struct HostPool {
  std::vector<float> y;
  std::vector<int32_t> arg;
};

HostPool host_pool(const PoolShape& s, const std::vector<float>& x) {
  const int oh_n = s.out_h(), ow_n = s.out_w();
  HostPool p;
  p.y.resize(size_t(s.n) * oh_n * ow_n * s.c);
  p.arg.resize(p.y.size());
  for (int n = 0; n < s.n; ++n)
    for (int oh = 0; oh < oh_n; ++oh)
      for (int ow = 0; ow < ow_n; ++ow)
        for (int c = 0; c < s.c; ++c) {
          float m = -INFINITY;
          int arg = -1;
          for (int kh = 0; kh < s.kernel; ++kh)
            for (int kw = 0; kw < s.kernel; ++kw) {
              int ih = oh * s.stride - s.pad + kh, iw = ow * s.stride - s.pad + kw;
              if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) continue;
              float v = x[((size_t(n) * s.h + ih) * s.w + iw) * s.c + c];
              if (arg < 0 || v > m) { m = v; arg = ih * s.w + iw; }
            }
          size_t o = ((size_t(n) * oh_n + oh) * ow_n + ow) * s.c + c;
          p.y[o] = m;
          p.arg[o] = arg;
        }
  return p;
}

// Scatter form of the backward (the GPU gathers): the sums must agree.
std::vector<float> host_pool_backward(const PoolShape& s, const std::vector<float>& dy,
                                      const std::vector<int32_t>& arg) {
  std::vector<float> dx(size_t(s.n) * s.h * s.w * s.c, 0.f);
  const size_t per_n = size_t(s.out_h()) * s.out_w() * s.c;
  for (size_t o = 0; o < dy.size(); ++o) {
    size_t n = o / per_n, c = o % s.c;
    dx[(n * s.h * s.w + size_t(arg[o])) * s.c + c] += dy[o];
  }
  return dx;
}

TEST(CudaEltwise, MaxPoolForwardAndBackwardNhwc) {
  RAMPART_REQUIRE_GPU();
  const PoolShape shapes[] = {
      {1, 4, 4, 1, 2, 2, 0},    // the model's 2x2 pool
      {3, 7, 5, 3, 2, 2, 0},    // odd sizes: the last row/column is dropped
      {2, 9, 9, 5, 3, 2, 1},    // overlapping windows with padding
      {129, 28, 28, 32, 2, 2, 0},
  };
  for (const PoolShape& s : shapes) {
    SCOPED_TRACE("n=" + std::to_string(s.n) + " h=" + std::to_string(s.h) + " w=" +
                 std::to_string(s.w) + " c=" + std::to_string(s.c) + " k=" +
                 std::to_string(s.kernel) + " s=" + std::to_string(s.stride));
    const size_t in = size_t(s.n) * s.h * s.w * s.c;
    const size_t out = size_t(s.n) * s.out_h() * s.out_w() * s.c;
    auto x = test::uniform(in, -1.f, 1.f, 3);
    x[0] = x[s.c] = 0.5f;  // a tie inside the first window: the first position wins
    auto dy = test::uniform(out, -1.f, 1.f, 4);
    HostPool h = host_pool(s, x);
    DeviceBuffer<float> dx_(in), y_(out), dy_(out), g_(in);
    DeviceBuffer<int32_t> a_(out);
    dx_.upload(x);
    dy_.upload(dy);
    maxpool2d_forward(s, dx_.get(), y_.get(), a_.get(), nullptr);
    maxpool2d_backward(s, dy_.get(), a_.get(), g_.get(), nullptr);
    test::sync();
    EXPECT_EQ(y_.download(out), h.y);
    EXPECT_EQ(a_.download(out), h.arg);
    test::expect_near(g_.download(in), host_pool_backward(s, dy, h.arg), 1e-6f, 1e-6f, "dx");
  }
}

TEST(CudaEltwise, BiasAddAndBackward) {
  RAMPART_REQUIRE_GPU();
  for (int64_t rows : {1, 3, 129, 6272}) {
    for (int cols : {1, 10, 33}) {
      SCOPED_TRACE("rows " + std::to_string(rows) + " cols " + std::to_string(cols));
      const size_t n = size_t(rows) * cols;
      auto y = test::uniform(n, -1.f, 1.f, 5), b = test::uniform(size_t(cols), -1.f, 1.f, 6);
      auto db0 = test::uniform(size_t(cols), -1.f, 1.f, 7);
      DeviceBuffer<float> y_(n), b_{size_t(cols)}, db_{size_t(cols)}, dba_{size_t(cols)};
      y_.upload(y);
      b_.upload(b);
      dba_.upload(db0);
      bias_add(y_.get(), b_.get(), rows, cols, nullptr);
      bias_backward(y_.get(), rows, cols, db_.get(), false, nullptr);
      bias_backward(y_.get(), rows, cols, dba_.get(), true, nullptr);
      test::sync();
      std::vector<float> ey(n);
      std::vector<double> sums(size_t(cols), 0.0);
      for (size_t i = 0; i < n; ++i) {
        ey[i] = y[i] + b[i % size_t(cols)];
        sums[i % size_t(cols)] += ey[i];
      }
      EXPECT_EQ(y_.download(n), ey);
      std::vector<float> edb(static_cast<size_t>(cols)), edba(static_cast<size_t>(cols));
      for (int j = 0; j < cols; ++j) {
        edb[size_t(j)] = float(sums[size_t(j)]);
        edba[size_t(j)] = float(sums[size_t(j)] + db0[size_t(j)]);
      }
      test::expect_near(db_.download(size_t(cols)), edb, 1e-4f, 1e-5f, "db");
      test::expect_near(dba_.download(size_t(cols)), edba, 1e-4f, 1e-5f, "db accumulated");
    }
  }
}

// Review C1: the conv-sized bias gradient (small-cnn conv1 at batch 128: 100352
// rows, 32 columns) through the two-stage reduction; a float sum of 100k terms of
// size ~1 in a tree is good to ~1e-5 relative of the sum's scale. It must also give
// the same bits every time (fixed order).
TEST(CudaEltwise, BiasBackwardConvSizedIsAccurateAndDeterministic) {
  RAMPART_REQUIRE_GPU();
  for (auto [rows, cols] : {std::pair<int64_t, int>{128 * 28 * 28, 32}, {128 * 14 * 14, 64}, {100003, 77}}) {
    const size_t n = size_t(rows) * cols;
    auto dy = test::uniform(n, -1.f, 1.f, 9);
    DeviceBuffer<float> dy_(n), a_{size_t(cols)}, b_{size_t(cols)};
    dy_.upload(dy);
    bias_backward(dy_.get(), rows, cols, a_.get(), false, nullptr);
    bias_backward(dy_.get(), rows, cols, b_.get(), false, nullptr);
    std::vector<double> sums(size_t(cols), 0.0);
    for (size_t i = 0; i < n; ++i) sums[i % size_t(cols)] += dy[i];
    std::vector<float> edb(sums.begin(), sums.end());
    auto a = a_.download(size_t(cols));
    test::expect_near(a, edb, 1e-5f * std::sqrt(float(rows)), 1e-5f, "db");
    EXPECT_EQ(a, b_.download(size_t(cols))) << "rows " << rows;
  }
}

TEST(CudaEltwise, SgdMomentumMatchesPyTorchsUpdate) {
  RAMPART_REQUIRE_GPU();
  for (bool nesterov : {false, true}) {
    const size_t n = 1003;
    auto p = test::uniform(n, -1.f, 1.f, 8);
    DeviceBuffer<float> p_(n), g_(n), m_(n);
    p_.upload(p);
    std::vector<float> m(n, 0.f);
    m_.upload(m);
    const float lr = 0.05f, mom = 0.9f, wd = 5e-4f;
    for (int step = 0; step < 3; ++step) {
      auto g = test::uniform(n, -1.f, 1.f, uint32_t(9 + step));
      g_.upload(g);
      sgd_momentum(p_.get(), g_.get(), m_.get(), int64_t(n), lr, mom, wd, nesterov, nullptr);
      for (size_t i = 0; i < n; ++i) {
        float d = g[i] + wd * p[i];
        m[i] = mom * m[i] + d;
        p[i] = p[i] - lr * (nesterov ? d + mom * m[i] : m[i]);
      }
    }
    test::sync();
    test::expect_near(p_.download(n), p, 1e-6f, 1e-5f, "params");
    test::expect_near(m_.download(n), m, 1e-6f, 1e-5f, "momentum");
  }
}

// Dummy non-null pointers (never dereferenced: the shape check throws first), so
// that the null-pointer check cannot be what throws (review D2).
TEST(CudaEltwise, RejectsBadPoolShapes) {
  float fx = 0.f, fy = 0.f;
  int32_t arg = 0;
  PoolShape s{1, 4, 4, 1, 3, 1, 2};  // padding larger than half the window
  EXPECT_THROW(maxpool2d_forward(s, &fx, &fy, &arg, nullptr), std::invalid_argument);
  EXPECT_THROW(maxpool2d_backward(s, &fy, &arg, &fx, nullptr), std::invalid_argument);
  PoolShape empty{1, 1, 1, 1, 2, 2, 0};  // window larger than the input (stride > 1: review B4)
  EXPECT_THROW(maxpool2d_forward(empty, &fx, &fy, &arg, nullptr), std::invalid_argument);
  EXPECT_THROW(maxpool2d_backward(empty, &fy, &arg, &fx, nullptr), std::invalid_argument);
  PoolShape wide{1, 3, 1, 1, 2, 2, 0};  // fits in h, not in w
  EXPECT_THROW(maxpool2d_forward(wide, &fx, &fy, &arg, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace rampart::cuda
