// The per-device context: one non-blocking stream, cuDNN and cuBLAS bound to it,
// the same object on every call, and a clean teardown (handles before the stream).
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/cuda/arith.cuh"
#include "kernels/cuda/context.h"

namespace rampart::cuda {
namespace {

TEST(CudaContext, OneNonBlockingStreamWithBoundHandles) {
  RAMPART_REQUIRE_GPU();
  Context& ctx = context();
  EXPECT_EQ(&ctx, &context());
  ASSERT_NE(ctx.stream(), nullptr);
  unsigned flags = 0;
  CUDA_CHECK(cudaStreamGetFlags(ctx.stream(), &flags));
  EXPECT_EQ(flags & cudaStreamNonBlocking, cudaStreamNonBlocking);
  cudaStream_t s = nullptr;
  CUDNN_CHECK(cudnnGetStream(ctx.cudnn(), &s));
  EXPECT_EQ(s, ctx.stream());
  CUBLAS_CHECK(cublasGetStream(ctx.cublas(), &s));
  EXPECT_EQ(s, ctx.stream());
  int device = -1;
  CUDA_CHECK(cudaGetDevice(&device));
  EXPECT_EQ(ctx.device(), device);
}

TEST(CudaContext, ReleaseAndRecreate) {
  RAMPART_REQUIRE_GPU();
  const size_t n = 1000;
  test::DeviceBuffer<float> a(n), b(n);
  a.upload(test::uniform(n, 0.f, 1.f, 1));
  copy(b.get(), a.get(), int64_t(n), context().stream());
  synchronize();
  release_contexts();  // destroys the handles, then the stream
  copy(b.get(), a.get(), int64_t(n), context().stream());  // a fresh context
  synchronize();
  EXPECT_EQ(a.download(n), b.download(n));
}

}  // namespace
}  // namespace rampart::cuda
