// Bucket averaging kernels on GPU against a host loop.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/cuda/grad_buckets.cuh"

namespace rampart::cuda {
namespace {

using test::DeviceBuffer;

TEST(CudaGradBuckets, ScaleInplaceOnUnalignedRangesLeavesTheRestAlone) {
  RAMPART_REQUIRE_GPU();
  const size_t total = 10007;
  auto v = test::uniform(total, -2.f, 2.f, 1);
  DeviceBuffer<float> d(total);
  // Buckets as the reducer cuts them: ranges starting anywhere, of any length.
  const std::pair<size_t, size_t> ranges[] = {{0, 1}, {1, 4}, {5, 129}, {134, 9000}};
  for (float world : {1.f, 2.f, 3.f}) {
    d.upload(v);
    std::vector<float> expect = v;
    for (auto [b, n] : ranges) {
      scale_inplace(d.get(b), int64_t(n), 1.f / world, nullptr);
      for (size_t i = b; i < b + n; ++i) expect[i] = v[i] * (1.f / world);
    }
    test::sync();
    EXPECT_EQ(d.download(total), expect) << "world " << world;  // one multiply: exact
  }
}

TEST(CudaGradBuckets, ScaleCopy) {
  RAMPART_REQUIRE_GPU();
  for (size_t n : {1, 3, 129, 100003}) {
    auto v = test::uniform(n, -2.f, 2.f, 2);
    DeviceBuffer<float> src(n, 4), dst(n, 4);
    src.upload(v, 1);
    scale_copy(dst.get(3), src.get(1), int64_t(n), 0.25f, nullptr);
    test::sync();
    std::vector<float> expect(n);
    for (size_t i = 0; i < n; ++i) expect[i] = v[i] * 0.25f;
    EXPECT_EQ(dst.download(n, 3), expect) << "n " << n;
  }
}

TEST(CudaGradBuckets, RejectsOverlapAndNegativeSizes) {
  float* p = reinterpret_cast<float*>(64);
  EXPECT_THROW(scale_copy(p + 1, p, 8, 0.5f, nullptr), std::invalid_argument);
  EXPECT_THROW(scale_inplace(p, -1, 0.5f, nullptr), std::invalid_argument);
  EXPECT_NO_THROW(scale_inplace(nullptr, 0, 0.5f, nullptr));
}

}  // namespace
}  // namespace rampart::cuda
