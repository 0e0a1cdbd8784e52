// Element-wise add, add-in-place and copy on GPU against host loops: exact, for
// aligned (float4) and misaligned pointers and every tail length.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/cuda/arith.cuh"
#include "kernels/cuda/context.h"

namespace rampart::cuda {
namespace {

using test::DeviceBuffer;

TEST(CudaArith, AddAddInplaceAndCopyAreExact) {
  RAMPART_REQUIRE_GPU();
  cudaStream_t s = context().stream();
  for (size_t n : {size_t(1), size_t(3), size_t(4), size_t(1027), size_t(1) << 20}) {
    for (size_t off : {size_t(0), size_t(1)}) {  // 1: breaks 16-byte alignment
      auto a = test::uniform(n, -1.f, 1.f, 1), b = test::uniform(n, -1.f, 1.f, 2);
      DeviceBuffer<float> a_(n, 1), b_(n, 1), y_(n, 1), c_(n, 1);
      a_.upload(a, off);
      b_.upload(b, off);
      add(a_.get(off), b_.get(off), y_.get(off), int64_t(n), s);
      copy(c_.get(off), a_.get(off), int64_t(n), s);
      add_inplace(a_.get(off), b_.get(off), int64_t(n), s);  // a += b
      synchronize();
      std::vector<float> sum(n);
      for (size_t i = 0; i < n; ++i) sum[i] = a[i] + b[i];
      EXPECT_EQ(y_.download(n, off), sum) << "add, n " << n << ", offset " << off;
      EXPECT_EQ(a_.download(n, off), sum) << "add_inplace, n " << n << ", offset " << off;
      EXPECT_EQ(c_.download(n, off), a) << "copy, n " << n << ", offset " << off;
    }
  }
}

TEST(CudaArith, AddMayWriteOverAnInput) {
  RAMPART_REQUIRE_GPU();
  const size_t n = 1001;
  auto a = test::uniform(n, -1.f, 1.f, 3), b = test::uniform(n, -1.f, 1.f, 4);
  DeviceBuffer<float> a_(n), b_(n);
  a_.upload(a);
  b_.upload(b);
  add(a_.get(), b_.get(), b_.get(), int64_t(n), context().stream());  // b = a + b
  std::vector<float> sum(n);
  for (size_t i = 0; i < n; ++i) sum[i] = a[i] + b[i];
  EXPECT_EQ(b_.download(n), sum);
}

TEST(CudaArith, RejectsBadArguments) {
  float f = 0.f;
  EXPECT_THROW(add(&f, &f, &f, -1, nullptr), std::invalid_argument);
  EXPECT_THROW(add_inplace(nullptr, &f, 2, nullptr), std::invalid_argument);
  EXPECT_THROW(copy(&f, nullptr, 2, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace rampart::cuda
