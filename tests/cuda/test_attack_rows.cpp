// Per-example attack bookkeeping on GPU: keep-best (Attacker::consider's rule) and
// zeroing the rows of stopped examples, against host loops. Pure selection and
// copies: exact.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/cuda/attack_track.cuh"
#include "kernels/cuda/context.h"

namespace rampart::cuda {
namespace {

using test::DeviceBuffer;

TEST(CudaAttackRows, KeepBestFollowsConsidersRule) {
  RAMPART_REQUIRE_GPU();
  cudaStream_t s = context().stream();
  for (auto [n, dim] : {std::pair<int64_t, int64_t>{1, 1}, {37, 3 * 32 * 32 + 1}, {300, 784}}) {
    auto x = test::uniform(size_t(n * dim), 0.f, 1.f, 1);
    auto bx = test::uniform(size_t(n * dim), 0.f, 1.f, 2);
    auto loss = test::uniform(size_t(n), 0.f, 2.f, 3), bloss = test::uniform(size_t(n), 0.f, 2.f, 4);
    auto correct = test::bytes(size_t(n), 0, 1, 5), bfooled = test::bytes(size_t(n), 0, 1, 6);
    if (n > 2) {  // a tie: the earlier iterate stays
      loss[1] = bloss[1];
      correct[1] = uint8_t(!bfooled[1]);
    }
    DeviceBuffer<float> x_{size_t(n * dim)}, bx_{size_t(n * dim)}, l_{size_t(n)}, bl_{size_t(n)};
    DeviceBuffer<uint8_t> c_{size_t(n)}, bf_{size_t(n)};
    x_.upload(x); bx_.upload(bx); l_.upload(loss); bl_.upload(bloss); c_.upload(correct); bf_.upload(bfooled);
    keep_best(x_.get(), l_.get(), c_.get(), n, dim, bx_.get(), bl_.get(), bf_.get(), s);
    synchronize();
    int changed = 0;
    for (int64_t e = 0; e < n; ++e) {
      const uint8_t fooled = !correct[e];
      if (fooled > bfooled[e] || (fooled == bfooled[e] && loss[e] > bloss[e])) {
        bfooled[e] = fooled;
        bloss[e] = loss[e];
        std::copy(x.begin() + e * dim, x.begin() + (e + 1) * dim, bx.begin() + e * dim);
        ++changed;
      }
    }
    EXPECT_EQ(bx_.download(size_t(n * dim)), bx) << "n " << n;
    EXPECT_EQ(bl_.download(size_t(n)), bloss) << "n " << n;
    EXPECT_EQ(bf_.download(size_t(n)), bfooled) << "n " << n;
    if (n > 2) {
      EXPECT_GT(changed, 0) << "the test must exercise a replacement";
    }
  }
}

TEST(CudaAttackRows, ZeroMaskedRowsLeavesActiveRows) {
  RAMPART_REQUIRE_GPU();
  const int64_t n = 129, k = 1000;
  auto m = test::uniform(size_t(n * k), -1.f, 1.f, 7);
  auto mask = test::bytes(size_t(n), 0, 1, 8);
  DeviceBuffer<float> m_{size_t(n * k)};
  DeviceBuffer<uint8_t> mask_{size_t(n)};
  m_.upload(m);
  mask_.upload(mask);
  zero_masked_rows(m_.get(), mask_.get(), n, k, context().stream());
  for (int64_t e = 0; e < n; ++e)
    if (!mask[e]) std::fill(m.begin() + e * k, m.begin() + (e + 1) * k, 0.f);
  EXPECT_EQ(m_.download(size_t(n * k)), m);
}

TEST(CudaAttackRows, RejectsBadArguments) {
  float f = 0.f;
  uint8_t b = 0;
  EXPECT_THROW(keep_best(&f, &f, &b, -1, 1, &f, &f, &b, nullptr), std::invalid_argument);
  EXPECT_THROW(keep_best(&f, nullptr, &b, 1, 1, &f, &f, &b, nullptr), std::invalid_argument);
  EXPECT_THROW(zero_masked_rows(&f, nullptr, 1, 1, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace rampart::cuda
