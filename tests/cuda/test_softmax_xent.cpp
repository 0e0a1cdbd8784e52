// Fused softmax cross-entropy on GPU against a host loop in double.
#include <gtest/gtest.h>

#include <cmath>

#include "cuda_test_util.h"
#include "kernels/cuda/softmax_xent.cuh"

namespace rampart::cuda {
namespace {

using test::DeviceBuffer;

struct HostXent {
  std::vector<float> loss, dlogits;
  std::vector<uint8_t> correct;
  double loss_sum = 0;
  long long n_correct = 0;
};

HostXent host_xent(const std::vector<float>& z, const std::vector<int32_t>& y, int64_t n, int k,
                   float scale) {
  HostXent h;
  h.loss.resize(size_t(n));
  h.correct.resize(size_t(n));
  h.dlogits.resize(size_t(n) * k);
  for (int64_t e = 0; e < n; ++e) {
    const float* r = &z[size_t(e) * k];
    int arg = 0;
    for (int j = 1; j < k; ++j)
      if (r[j] > r[arg]) arg = j;
    double s = 0;
    for (int j = 0; j < k; ++j) s += std::exp(double(r[j]) - r[arg]);
    const double lse = r[arg] + std::log(s);
    h.loss[size_t(e)] = float(lse - r[y[size_t(e)]]);
    h.correct[size_t(e)] = arg == y[size_t(e)];
    h.loss_sum += h.loss[size_t(e)];
    h.n_correct += h.correct[size_t(e)];
    for (int j = 0; j < k; ++j)
      h.dlogits[size_t(e) * k + j] =
          float((std::exp(double(r[j]) - lse) - (j == y[size_t(e)] ? 1.0 : 0.0)) * scale);
  }
  return h;
}

TEST(CudaSoftmaxXent, MatchesHostOnAwkwardShapes) {
  RAMPART_REQUIRE_GPU();
  for (int64_t n : {1, 3, 129}) {
    for (int k : {1, 2, 10, 33, 1000}) {
      SCOPED_TRACE("n = " + std::to_string(n) + ", k = " + std::to_string(k));
      auto z = test::uniform(size_t(n) * k, -8.f, 8.f, uint32_t(n * 1000 + k));
      std::vector<int32_t> y(static_cast<size_t>(n));
      for (int64_t e = 0; e < n; ++e) y[size_t(e)] = int32_t((e * 7 + 3) % k);
      // Make some rows right: their label holds the maximum.
      for (int64_t e = 0; e < n; e += 2) z[size_t(e) * k + y[size_t(e)]] = 9.f;
      if (k > 1 && n > 1) {  // a tie: the lower index wins, as torch.argmax
        z[size_t(k) + 0] = 20.f;
        z[size_t(k) + k - 1] = 20.f;
      }
      const float scale = 1.f / float(n);
      HostXent h = host_xent(z, y, n, k, scale);

      DeviceBuffer<float> dz(z.size()), dd(z.size()), dl{size_t(n)};
      DeviceBuffer<int32_t> dy{size_t(n)};
      DeviceBuffer<uint8_t> dc{size_t(n)};
      DeviceBuffer<XentTotals> dt(1);
      dz.upload(z);
      dy.upload(y);
      softmax_xent(dz.get(), dy.get(), n, k, scale, dd.get(), dl.get(), dc.get(), dt.get(), nullptr);
      test::sync();
      test::expect_near(dl.download(size_t(n)), h.loss, 1e-5f, 1e-5f, "loss");
      test::expect_near(dd.download(z.size()), h.dlogits, 1e-7f, 1e-5f, "dlogits");
      EXPECT_EQ(dc.download(size_t(n)), h.correct);
      XentTotals t = dt.download(1)[0];
      EXPECT_NEAR(t.loss_sum, h.loss_sum, 1e-6 * (1 + std::abs(h.loss_sum)));
      EXPECT_NEAR(t.mean_loss, h.loss_sum / double(n), 1e-5 * (1 + std::abs(h.loss_sum / n)));
      EXPECT_EQ(t.correct, h.n_correct);
    }
  }
}

TEST(CudaSoftmaxXent, WithoutGradientAndWithABadLabel) {
  RAMPART_REQUIRE_GPU();
  const int64_t n = 3;
  const int k = 4;
  std::vector<float> z = {0, 1, 2, 3, 3, 2, 1, 0, 1, 1, 1, 1};
  std::vector<int32_t> y = {3, 7, 2};  // 7 is out of range
  DeviceBuffer<float> dz(z.size()), dl(n);
  DeviceBuffer<int32_t> dy(n);
  DeviceBuffer<uint8_t> dc(n);
  dz.upload(z);
  dy.upload(y);
  softmax_xent(dz.get(), dy.get(), n, k, 1.f, nullptr, dl.get(), dc.get(), nullptr, nullptr);
  test::sync();
  auto loss = dl.download(n);
  auto ok = dc.download(n);
  EXPECT_NEAR(loss[0], std::log(std::exp(0.0) + std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3, 1e-5);
  EXPECT_TRUE(std::isnan(loss[1]));
  EXPECT_NEAR(loss[2], std::log(4.0), 1e-6);
  EXPECT_EQ(ok, (std::vector<uint8_t>{1, 0, 0}));  // row 2 ties: argmax 0, label 2
}

TEST(CudaSoftmaxXent, RejectsBadShapes) {
  EXPECT_THROW(softmax_xent(nullptr, nullptr, -1, 10, 1.f, nullptr, nullptr, nullptr, nullptr, nullptr),
               std::invalid_argument);
  EXPECT_THROW(softmax_xent(nullptr, nullptr, 4, 0, 1.f, nullptr, nullptr, nullptr, nullptr, nullptr),
               std::invalid_argument);
  EXPECT_THROW(softmax_xent(nullptr, nullptr, 4, 10, 1.f, nullptr, nullptr, nullptr, nullptr, nullptr),
               std::invalid_argument);
}

}  // namespace
}  // namespace rampart::cuda
