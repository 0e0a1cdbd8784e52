// The attack loop: K PGD steps replayed from a CUDA graph give the same bits as K
// plain launches, and nothing waits on the host in between.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/cuda/attack_loop.h"
#include "kernels/cuda/pgd.cuh"

namespace rampart::cuda {
namespace {

using test::DeviceBuffer;

TEST(CudaAttackLoop, GraphReplayEqualsPlainLaunches) {
  RAMPART_REQUIRE_GPU();
  const int64_t n = 128 * 784 + 3;
  const int steps = 10;
  auto xc = test::uniform(size_t(n), 0.f, 1.f, 1);
  auto g = test::gradient(size_t(n), 2);
  // alpha << eps/steps (review D3): no pixel reaches the eps-ball in `steps` steps,
  // so every step moves the iterate and a wrong replay count changes the bits.
  const float eps = 0.03f, alpha = eps / 40;
  DeviceBuffer<float> a{size_t(n)}, b{size_t(n)}, c{size_t(n)}, dg{size_t(n)}, dxc{size_t(n)};
  dxc.upload(xc);
  dg.upload(g);
  a.upload(xc);
  b.upload(xc);
  c.upload(xc);
  cudaStream_t stream = nullptr;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  // A stand-in for forward/backward: the gradient is fixed, only the PGD step runs.
  auto step_on = [&](float* x) {
    return [&, x](cudaStream_t s) { pgd_linf_step(x, dg.get(), dxc.get(), n, alpha, eps, s); };
  };
  run_attack_steps(steps, stream, step_on(a.get()), nullptr);
  run_attack_steps(steps - 1, stream, step_on(c.get()), nullptr);
  AttackGraph graph;
  run_attack_steps(steps, stream, step_on(b.get()), &graph);
  EXPECT_TRUE(graph.captured());
  graph.replay(stream, 0);
  CUDA_CHECK(cudaStreamSynchronize(stream));
  CUDA_CHECK(cudaStreamDestroy(stream));
  auto ra = a.download(size_t(n)), rb = b.download(size_t(n));
  EXPECT_EQ(ra, rb);
  EXPECT_NE(ra, xc);  // the steps moved something
  EXPECT_NE(ra, c.download(size_t(n)));  // and one step fewer is visible
}

TEST(CudaAttackLoop, CaptureRefusesTheLegacyDefaultStream) {
  AttackGraph graph;
  EXPECT_THROW(graph.capture(nullptr, [](cudaStream_t) {}), std::invalid_argument);
  EXPECT_THROW(graph.replay(reinterpret_cast<cudaStream_t>(1), 1), std::logic_error);
}

}  // namespace
}  // namespace rampart::cuda
