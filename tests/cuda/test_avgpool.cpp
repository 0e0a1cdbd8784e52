// Average pooling on GPU against kernels/cpu/pool.h. Tolerance: forward adds in the
// CPU's order and multiplies once (bit-identical unless the CPU compiler fuses);
// backward's terms may be fused on the CPU: 1 ulp per term, 1e-6 relative.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/cpu/pool.h"
#include "kernels/cuda/avgpool.cuh"
#include "kernels/cuda/context.h"

namespace rampart::cuda {
namespace {

using test::DeviceBuffer;

TEST(CudaAvgPool, ForwardAndBackwardMatchCpu) {
  RAMPART_REQUIRE_GPU();
  cudaStream_t s = context().stream();
  // n, h, w, c, kh, kw, sh, sw, ph, pw: plain 2x2, overlapping windows with padding,
  // gaps (stride > window), rectangular, global pooling (ResNet's head).
  const Pool2dShape shapes[] = {{2, 8, 8, 3, 2, 2, 2, 2, 0, 0},   {3, 7, 9, 5, 3, 3, 2, 2, 1, 1},
                                {2, 9, 9, 4, 2, 2, 3, 3, 0, 0},   {1, 6, 11, 7, 3, 2, 1, 3, 1, 1},
                                {4, 8, 8, 64, 8, 8, 1, 1, 0, 0}, {2, 5, 5, 33, 5, 5, 5, 5, 2, 2}};
  for (const Pool2dShape& p : shapes) {
    const size_t nin = size_t(p.n) * p.h * p.w * p.c, nout = size_t(p.n) * p.out_h() * p.out_w() * p.c;
    auto x = test::uniform(nin, -1.f, 1.f, 1), dy = test::uniform(nout, -1.f, 1.f, 2);
    DeviceBuffer<float> x_(nin), y_(nout), dy_(nout), dx_(nin);
    x_.upload(x);
    dy_.upload(dy);
    avgpool2d_forward(p, x_.get(), y_.get(), s);
    avgpool2d_backward(p, dy_.get(), dx_.get(), s);
    synchronize();
    kernels::cpu::PoolGeometry g{p.kh, p.kw, p.sh, p.sw, p.ph, p.pw};
    std::vector<float> y(nout), dx(nin);
    kernels::cpu::avgpool_forward(g, p.n, p.h, p.w, p.c, x.data(), y.data());
    kernels::cpu::avgpool_backward(g, p.n, p.h, p.w, p.c, dy.data(), dx.data());
    SCOPED_TRACE("h " + std::to_string(p.h) + " w " + std::to_string(p.w) + " k " +
                 std::to_string(p.kh) + "x" + std::to_string(p.kw));
    test::expect_near(y_.download(nout), y, 1e-7f, 1e-6f, "y");
    test::expect_near(dx_.download(nin), dx, 1e-7f, 1e-6f, "dx");
  }
}

TEST(CudaAvgPool, RejectsBadShapes) {
  float a = 0.f, b = 0.f;  // non-null: the shape check must be what throws
  const Pool2dShape bad[] = {{1, 4, 4, 1, 3, 3, 1, 1, 2, 2},   // pad > window/2
                             {1, 1, 1, 1, 2, 2, 2, 2, 0, 0},   // window larger than the input
                             {1, 4, 1, 1, 2, 2, 2, 2, 0, 0},   // fits h, not w
                             {1, 4, 4, 0, 2, 2, 2, 2, 0, 0},   // no channels
                             {1, 4, 4, 1, 2, 2, 0, 2, 0, 0}};  // zero stride
  for (const Pool2dShape& p : bad) {
    EXPECT_THROW(avgpool2d_forward(p, &a, &b, nullptr), std::invalid_argument);
    EXPECT_THROW(avgpool2d_backward(p, &a, &b, nullptr), std::invalid_argument);
  }
}

}  // namespace
}  // namespace rampart::cuda
