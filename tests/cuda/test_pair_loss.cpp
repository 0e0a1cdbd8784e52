// TRADES and MART losses on GPU against the CPU kernel (kernels/cpu/pair_loss.h, itself
// checked against the formulas and finite differences in tests/runtime/test_objectives.cpp).
#include <gtest/gtest.h>

#include <cmath>

#include "cuda_test_util.h"
#include "kernels/cpu/pair_loss.h"
#include "kernels/cuda/pair_loss.cuh"

namespace rampart::cuda {
namespace {

using test::DeviceBuffer;
using kernels::PairLossKind;
using kernels::PairLossParams;

TEST(CudaPairLoss, MatchesTheCpuKernel) {
  RAMPART_REQUIRE_GPU();
  for (const PairLossParams p : {PairLossParams{PairLossKind::kTrades, 6.f, 1.f},
                                 PairLossParams{PairLossKind::kTrades, 1.f, 0.f},
                                 PairLossParams{PairLossKind::kMart, 6.f, 0.f}}) {
    for (int64_t n : {1, 7, 300}) {
      for (int k : {2, 10, 100, 1000}) {
        SCOPED_TRACE("kind " + std::to_string(int(p.kind)) + ", ce_weight " + std::to_string(p.ce_weight) +
                     ", n " + std::to_string(n) + ", k " + std::to_string(k));
        const size_t nk = size_t(n) * size_t(k);
        auto a = test::uniform(nk, -6.f, 6.f, uint32_t(n * 7 + k));
        auto c = test::uniform(nk, -4.f, 4.f, uint32_t(n * 11 + k));
        std::vector<int32_t> y(static_cast<size_t>(n));
        for (int64_t e = 0; e < n; ++e) y[size_t(e)] = int32_t((e * 5 + 1) % k);
        std::vector<float> da(nk), dc(nk), loss(static_cast<size_t>(n));
        std::vector<uint8_t> ok(static_cast<size_t>(n));
        const float scale = 1.f / float(n);
        kernels::pair_loss_cpu(p, a.data(), c.data(), y.data(), n, k, scale, da.data(), dc.data(), loss.data(),
                               ok.data());
        const size_t ns = static_cast<size_t>(n);
        DeviceBuffer<float> ga(nk), gc(nk), gda(nk), gdc(nk), gl(ns);
        DeviceBuffer<int32_t> gy(ns);
        DeviceBuffer<uint8_t> gok(ns);
        ga.upload(a);
        gc.upload(c);
        gy.upload(y);
        pair_loss(p, ga.get(), gc.get(), gy.get(), n, k, scale, gda.get(), gdc.get(), gl.get(), gok.get(), nullptr);
        test::expect_near(gl.download(ns), loss, 1e-5f, 1e-5f, "loss");
        test::expect_near(gda.download(nk), da, 1e-7f, 1e-5f, "dadv");
        test::expect_near(gdc.download(nk), dc, 1e-7f, 1e-5f, "dclean");
        EXPECT_EQ(gok.download(ns), ok);
      }
    }
  }
}

}  // namespace
}  // namespace rampart::cuda
