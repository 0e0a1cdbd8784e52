// Flatten's transposes and the attack's fooled flags on GPU against host loops.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/cuda/attack_track.cuh"
#include "kernels/cuda/layout.cuh"

namespace rampart::cuda {
namespace {

using test::DeviceBuffer;

TEST(CudaLayout, TransposesMatchHostLoopsBitForBit) {
  RAMPART_REQUIRE_GPU();
  struct Case { int64_t n, hw, c; };
  for (Case s : {Case{1, 1, 1}, Case{3, 49, 64}, Case{7, 5, 3}, Case{2, 784, 1}}) {
    const int64_t total = s.n * s.hw * s.c;
    auto x = test::uniform(size_t(total), -1.f, 1.f, uint32_t(total));
    std::vector<float> nchw(total), back(total);
    for (int64_t b = 0; b < s.n; ++b)
      for (int64_t p = 0; p < s.hw; ++p)
        for (int64_t ch = 0; ch < s.c; ++ch)
          nchw[(b * s.c + ch) * s.hw + p] = x[(b * s.hw + p) * s.c + ch];
    DeviceBuffer<float> x_(total), y_(total), z_(total);
    x_.upload(x);
    nhwc_to_nchw(x_.get(), y_.get(), s.n, s.hw, s.c, nullptr);
    nchw_to_nhwc(y_.get(), z_.get(), s.n, s.hw, s.c, nullptr);
    test::sync();
    EXPECT_EQ(y_.download(total), nchw) << s.n << "x" << s.hw << "x" << s.c;
    EXPECT_EQ(z_.download(total), x) << "round trip " << s.n << "x" << s.hw << "x" << s.c;
  }
}

TEST(CudaAttackTrack, MarkFooledOrsAcrossIterates) {
  RAMPART_REQUIRE_GPU();
  const size_t n = 1001;
  std::vector<uint8_t> a(n), b(n), expect(n);
  for (size_t e = 0; e < n; ++e) {
    a[e] = e % 3 != 0;
    b[e] = e % 5 != 0;
    expect[e] = !a[e] || !b[e];
  }
  DeviceBuffer<uint8_t> a_(n), b_(n), f_(n);
  a_.upload(a);
  b_.upload(b);
  CUDA_CHECK(cudaMemset(f_.get(), 0, n));
  mark_fooled(a_.get(), f_.get(), int64_t(n), nullptr);
  mark_fooled(b_.get(), f_.get(), int64_t(n), nullptr);
  test::sync();
  EXPECT_EQ(f_.download(n), expect);
}

}  // namespace
}  // namespace rampart::cuda
