// Per-channel normalisation on GPU against kernels/cpu/eltwise.h (the CPU
// Normalize layer's kernels). IEEE division and one multiply: bit-identical.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/cpu/eltwise.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/normalize.cuh"

namespace rampart::cuda {
namespace {

using test::DeviceBuffer;

TEST(CudaNormalize, ForwardAndBackwardEqualCpuBits) {
  RAMPART_REQUIRE_GPU();
  cudaStream_t s = context().stream();
  for (auto [rows, c] : {std::pair<int64_t, int>{1, 1}, {7 * 32 * 32, 3}, {1001, 17}}) {
    const size_t n = size_t(rows) * c;
    auto x = test::uniform(n, 0.f, 1.f, 1), dy = test::uniform(n, -1.f, 1.f, 2);
    auto mean = test::uniform(c, 0.3f, 0.6f, 3), std = test::uniform(c, 0.1f, 0.4f, 4);
    DeviceBuffer<float> x_(n), y_(n), dy_(n), dx_(n), m_(c), s_(c);
    x_.upload(x); dy_.upload(dy); m_.upload(mean); s_.upload(std);
    normalize_forward(x_.get(), m_.get(), s_.get(), y_.get(), rows, c, s);
    normalize_backward(dy_.get(), s_.get(), dx_.get(), rows, c, s);
    synchronize();
    std::vector<float> y(n), dx(n), inv(c);
    for (int ch = 0; ch < c; ++ch) inv[ch] = 1.0f / std[ch];
    kernels::cpu::channel_sub_div(x.data(), mean.data(), std.data(), y.data(), rows, c);
    kernels::cpu::channel_scale_shift(dy.data(), inv.data(), nullptr, dx.data(), rows, c);
    EXPECT_EQ(y_.download(n), y) << "rows " << rows << ", c " << c;
    EXPECT_EQ(dx_.download(n), dx) << "rows " << rows << ", c " << c;
  }
}

TEST(CudaNormalize, RejectsBadArguments) {
  float f = 1.f;
  EXPECT_THROW(normalize_forward(&f, &f, &f, &f, 1, 0, nullptr), std::invalid_argument);
  EXPECT_THROW(normalize_forward(&f, nullptr, &f, &f, 1, 1, nullptr), std::invalid_argument);
  EXPECT_THROW(normalize_backward(&f, &f, &f, -1, 1, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace rampart::cuda
