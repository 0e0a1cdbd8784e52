// Batch normalisation on GPU against the CPU kernels (kernels/cpu/batchnorm.h)
// and the CPU layer's running-statistics rule (runtime/layers/batchnorm2d.cpp).
// Tolerance: both sides reduce in double, in different orders, and round to float
// once, so statistics agree to ~1 ulp; element-wise results to a few ulp (the
// compilers may fuse multiply-adds differently): 1e-5 relative + 1e-6 absolute.
#include <gtest/gtest.h>

#include <cmath>

#include "cuda_test_util.h"
#include "kernels/cpu/batchnorm.h"
#include "kernels/cpu/eltwise.h"
#include "kernels/cuda/batchnorm.cuh"
#include "kernels/cuda/context.h"

namespace rampart::cuda {
namespace {

using test::DeviceBuffer;
namespace cpu = kernels::cpu;

// The CPU layer's forward, on host vectors: returns y, updates running stats,
// and fills mean/invstd/scale for the backward.
struct HostBn {
  std::vector<float> mean, var, invstd, scale, shift, y;
};

HostBn host_forward(const std::vector<float>& x, int64_t rows, int c, const std::vector<float>& gamma,
                    const std::vector<float>& beta, double eps, double m, bool training,
                    std::vector<float>& rmean, std::vector<float>& rvar) {
  HostBn h;
  h.mean.resize(c);
  h.var.resize(c);
  h.invstd.resize(c);
  h.scale.resize(c);
  h.shift.resize(c);
  h.y.resize(x.size());
  if (training) {
    cpu::bn_mean_var(x.data(), rows, c, h.mean.data(), h.var.data());
    const double unbias = double(rows) / double(rows - 1);
    for (int ch = 0; ch < c; ++ch) {
      rmean[ch] = float((1 - m) * rmean[ch] + m * h.mean[ch]);
      rvar[ch] = float((1 - m) * rvar[ch] + m * h.var[ch] * unbias);
    }
  } else {
    h.mean = rmean;
    h.var = rvar;
  }
  for (int ch = 0; ch < c; ++ch) {
    h.invstd[ch] = float(1.0 / std::sqrt(double(h.var[ch]) + eps));
    h.scale[ch] = gamma[ch] * h.invstd[ch];
    h.shift[ch] = beta[ch] - h.mean[ch] * h.scale[ch];
  }
  cpu::channel_scale_shift(x.data(), h.scale.data(), h.shift.data(), h.y.data(), rows, c);
  return h;
}

TEST(CudaBatchNorm, TrainForwardBackwardMatchCpu) {
  RAMPART_REQUIRE_GPU();
  cudaStream_t s = context().stream();
  // Awkward sizes: c not a multiple of 32, rows not a multiple of the chunking; one
  // large case to spread over many chunks; a mean far from zero (cancellation).
  struct Case { int64_t rows; int c; float offset; };
  for (Case k : {Case{2, 1, 0.f}, Case{37, 5, 3.f}, Case{1000, 33, -2.f}, Case{128 * 14 * 14, 64, 10.f}}) {
    const size_t n = size_t(k.rows) * k.c;
    auto x = test::uniform(n, k.offset - 1.f, k.offset + 1.f, 1);
    auto dy = test::uniform(n, -1.f, 1.f, 2);
    auto gamma = test::uniform(k.c, 0.5f, 1.5f, 3), beta = test::uniform(k.c, -0.5f, 0.5f, 4);
    auto rmean = test::uniform(k.c, -0.1f, 0.1f, 5), rvar = test::uniform(k.c, 0.9f, 1.1f, 6);
    const double eps = 1e-5, momentum = 0.1;
    DeviceBuffer<float> x_(n), dy_(n), y_(n), dx_(n), g_(k.c), b_(k.c), rm_(k.c), rv_(k.c),
        st_(kBnStats * k.c), dg_(k.c), db_(k.c);
    x_.upload(x); dy_.upload(dy); g_.upload(gamma); b_.upload(beta); rm_.upload(rmean); rv_.upload(rvar);
    batchnorm_forward_train(x_.get(), k.rows, k.c, g_.get(), b_.get(), eps, momentum, rm_.get(),
                            rv_.get(), st_.get(), y_.get(), s);
    batchnorm_backward(x_.get(), dy_.get(), k.rows, k.c, g_.get(), st_.get(), true, dx_.get(),
                       dg_.get(), db_.get(), s);
    synchronize();

    HostBn h = host_forward(x, k.rows, k.c, gamma, beta, eps, momentum, true, rmean, rvar);
    std::vector<float> sum_dy(k.c), sum_dy_xhat(k.c), dx(n);
    cpu::bn_backward_sums(x.data(), dy.data(), h.mean.data(), h.invstd.data(), k.rows, k.c,
                          sum_dy.data(), sum_dy_xhat.data());
    cpu::bn_backward_train_dx(x.data(), dy.data(), h.mean.data(), h.invstd.data(), gamma.data(),
                              sum_dy.data(), sum_dy_xhat.data(), k.rows, k.c, dx.data());
    auto st = st_.download(kBnStats * size_t(k.c));
    std::vector<float> mean(st.begin(), st.begin() + k.c), invstd(st.begin() + k.c, st.begin() + 2 * k.c);
    SCOPED_TRACE("rows " + std::to_string(k.rows) + ", c " + std::to_string(k.c));
    test::expect_near(mean, h.mean, 1e-6f, 1e-6f, "batch mean");
    test::expect_near(invstd, h.invstd, 0.f, 1e-6f, "invstd");
    test::expect_near(rm_.download(k.c), rmean, 1e-7f, 1e-6f, "running mean");
    test::expect_near(rv_.download(k.c), rvar, 0.f, 1e-6f, "running var (unbiased)");
    test::expect_near(y_.download(n), h.y, 3e-5f, 1e-5f, "y");  // x*scale ~ 30 cancels with shift
    // dgamma, dbeta: sums of up to 25k terms of size ~1; relative to their scale.
    test::expect_near(db_.download(k.c), sum_dy, 1e-5f * std::sqrt(float(k.rows)), 1e-5f, "dbeta");
    test::expect_near(dg_.download(k.c), sum_dy_xhat, 1e-5f * std::sqrt(float(k.rows)), 1e-5f, "dgamma");
    test::expect_near(dx_.download(n), dx, 1e-5f, 1e-4f, "dx");
  }
}

TEST(CudaBatchNorm, EvalForwardAndBackwardUseRunningStats) {
  RAMPART_REQUIRE_GPU();
  cudaStream_t s = context().stream();
  const int64_t rows = 3 * 5 * 7;
  const int c = 19;
  const size_t n = size_t(rows) * c;
  auto x = test::uniform(n, -2.f, 2.f, 11), dy = test::uniform(n, -1.f, 1.f, 12);
  auto gamma = test::uniform(c, 0.5f, 1.5f, 13), beta = test::uniform(c, -0.5f, 0.5f, 14);
  auto rmean = test::uniform(c, -0.3f, 0.3f, 15), rvar = test::uniform(c, 0.5f, 2.f, 16);
  DeviceBuffer<float> x_(n), dy_(n), y_(n), dx_(n), g_(c), b_(c), rm_(c), rv_(c), st_(kBnStats * c),
      dg_(c), db_(c);
  x_.upload(x); dy_.upload(dy); g_.upload(gamma); b_.upload(beta); rm_.upload(rmean); rv_.upload(rvar);
  batchnorm_forward_eval(x_.get(), rows, c, g_.get(), b_.get(), 1e-3, rm_.get(), rv_.get(),
                         st_.get(), y_.get(), s);
  batchnorm_backward(x_.get(), dy_.get(), rows, c, g_.get(), st_.get(), false, dx_.get(), dg_.get(),
                     db_.get(), s);
  synchronize();
  auto rm2 = rmean, rv2 = rvar;
  HostBn h = host_forward(x, rows, c, gamma, beta, 1e-3, 0.1, false, rm2, rv2);
  std::vector<float> dx(n), sum_dy(c), sum_dy_xhat(c);
  cpu::channel_scale_shift(dy.data(), h.scale.data(), nullptr, dx.data(), rows, c);
  cpu::bn_backward_sums(x.data(), dy.data(), h.mean.data(), h.invstd.data(), rows, c, sum_dy.data(),
                        sum_dy_xhat.data());
  EXPECT_EQ(rm_.download(c), rmean);  // eval leaves the running stats alone
  EXPECT_EQ(rv_.download(c), rvar);
  test::expect_near(y_.download(n), h.y, 1e-6f, 1e-6f, "y (eval)");
  EXPECT_EQ(dx_.download(n), dx);  // one multiply by the same scale: exact
  test::expect_near(db_.download(c), sum_dy, 1e-5f, 1e-5f, "dbeta (eval)");
  test::expect_near(dg_.download(c), sum_dy_xhat, 1e-5f, 1e-5f, "dgamma (eval)");
}

TEST(CudaBatchNorm, ReductionsAreDeterministic) {
  RAMPART_REQUIRE_GPU();
  cudaStream_t s = context().stream();
  const int64_t rows = 64 * 32 * 32;
  const int c = 48;
  const size_t n = size_t(rows) * c;
  auto x = test::uniform(n, -1.f, 3.f, 21), dy = test::uniform(n, -1.f, 1.f, 22);
  std::vector<float> ones(c, 1.f), zeros(c, 0.f);
  DeviceBuffer<float> x_(n), dy_(n), y_(n), dx_(n), g_(c), b_(c), rm_(c), rv_(c), st_(kBnStats * c),
      dg_(c), db_(c);
  x_.upload(x); dy_.upload(dy); g_.upload(ones); b_.upload(zeros);
  std::vector<std::vector<float>> runs;
  for (int run = 0; run < 3; ++run) {
    rm_.upload(zeros);
    rv_.upload(ones);
    batchnorm_forward_train(x_.get(), rows, c, g_.get(), b_.get(), 1e-5, 0.1, rm_.get(), rv_.get(),
                            st_.get(), y_.get(), s);
    batchnorm_backward(x_.get(), dy_.get(), rows, c, g_.get(), st_.get(), true, dx_.get(), dg_.get(),
                       db_.get(), s);
    auto r = st_.download(kBnStats * c);
    for (auto* b : {&dg_, &db_, &rv_}) {
      auto v = b->download(c);
      r.insert(r.end(), v.begin(), v.end());
    }
    auto d = dx_.download(n);
    r.insert(r.end(), d.begin(), d.end());
    runs.push_back(std::move(r));
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_EQ(runs[0], runs[2]);
}

TEST(CudaBatchNorm, RejectsBadArguments) {
  float f = 0.f;
  EXPECT_THROW(batchnorm_forward_train(&f, 1, 1, &f, &f, 1e-5, 0.1, &f, &f, &f, &f, nullptr),
               std::invalid_argument);  // one value per channel cannot train
  EXPECT_THROW(batchnorm_forward_train(&f, 4, 0, &f, &f, 1e-5, 0.1, &f, &f, &f, &f, nullptr),
               std::invalid_argument);
  EXPECT_THROW(batchnorm_forward_train(&f, 4, 1, nullptr, &f, 1e-5, 0.1, &f, &f, &f, &f, nullptr),
               std::invalid_argument);
  EXPECT_THROW(batchnorm_backward(&f, &f, 4, 1, &f, &f, true, &f, &f, nullptr, nullptr),
               std::invalid_argument);  // dgamma without dbeta
}

}  // namespace
}  // namespace rampart::cuda
