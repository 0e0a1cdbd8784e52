// The device side of the one stack that runs on any machine: gradient accumulation
// in Model::backward, the refusal of a device before anything moves, and tensors'
// copies. The CUDA side is tests/cuda/test_device_model.cpp.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/dispatch/memory.h"
#include "runtime/errors.h"
#include "runtime/model.h"
#include "runtime/rng.h"

namespace rampart {
namespace {

const Shape kIn{1, 12, 12};

nlohmann::json residual_spec() {
  return nlohmann::json::parse(R"([
    {"type": "conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3, "padding": 1, "name": "conv1"},
    {"type": "residual", "name": "block",
     "pre": [{"type": "batchnorm2d", "num_features": 4, "name": "bn"}, {"type": "relu"}],
     "body": [{"type": "conv2d", "in_channels": 4, "out_channels": 4, "kernel_size": 3, "padding": 1, "name": "conv"}]},
    {"type": "avgpool2d", "kernel_size": 12}, {"type": "flatten"},
    {"type": "linear", "in_features": 4, "out_features": 3, "name": "fc"}])");
}

Tensor batch(int64_t n, uint32_t seed) {
  Tensor x({n, 1, 12, 12});
  Rng rng(seed, Stream::kInit, 0);
  for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.uniform(0.f, 1.f);
  return x;
}

// Two backwards, the second accumulating: the gradients are the sum, and each leaf's
// GradReady fires once its sum is in place (the all-reduce reads it then).
TEST(ModelDevice, AccumulatedGradientsAreTheSumWhenGradReadyFires) {
  Model m(residual_spec(), kIn);
  m.init(4);
  Tensor xa = batch(3, 1), xb = batch(3, 2), dl({3, 3});
  for (int64_t i = 0; i < dl.size(); ++i) dl[i] = 0.1f * float(i % 5) - 0.2f;
  const int64_t np = m.num_params();

  m.forward(xb, Mode::kEval);
  m.backward(dl, false, true);
  std::vector<float> gb(m.flat_grads(), m.flat_grads() + np);
  m.forward(xa, Mode::kEval);
  m.backward(dl, false, true);
  std::vector<float> ga(m.flat_grads(), m.flat_grads() + np);

  m.forward(xb, Mode::kEval);
  m.backward(dl, false, true);  // overwrites: b
  m.forward(xa, Mode::kEval);
  int fired = 0;
  m.backward(dl, false, true, [&](int leaf) {
    ++fired;
    auto [begin, end] = m.layer_param_range(leaf);
    for (int64_t i = begin; i < end; ++i) ASSERT_EQ(m.flat_grads()[i], ga[i] + gb[i]) << "leaf " << leaf << " at " << i;
  }, /*accumulate=*/true);
  EXPECT_EQ(fired, 4);  // conv1, bn, conv, fc
  for (int64_t i = 0; i < np; ++i) ASSERT_EQ(m.flat_grads()[i], ga[i] + gb[i]) << i;
  // Without accumulate the next backward overwrites again.
  m.forward(xa, Mode::kEval);
  m.backward(dl, false, true);
  for (int64_t i = 0; i < np; ++i) ASSERT_EQ(m.flat_grads()[i], ga[i]) << i;
}

TEST(ModelDevice, ACudaModelWithoutCudaIsRefusedBeforeAnythingMoves) {
  if (kernels::cuda_built()) GTEST_SKIP() << "a CUDA build: tests/cuda/test_device_model.cpp covers the refusals";
  Model m(residual_spec(), kIn);
  m.init(1);
  try {
    m.to(Device::kCuda);
    FAIL() << "moved to a device this build has no kernels for";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--device cuda"), std::string::npos) << what;
    EXPECT_NE(what.find("without CUDA"), std::string::npos) << what;
    EXPECT_NE(what.find("--device cpu"), std::string::npos) << what;
  }
  EXPECT_EQ(m.device(), Device::kCpu);
  Tensor x = batch(2, 3);
  EXPECT_EQ(m.forward(x, Mode::kEval).dim(0), 2);  // still runs where it was
}

TEST(ModelDevice, TensorsCopyAcrossDevicesAndKeepTheirStorage) {
  Tensor a({2, 3});
  for (int64_t i = 0; i < a.size(); ++i) a[i] = float(i) + 0.5f;
  Tensor b = a.to(Device::kCpu);
  EXPECT_NE(b.data(), a.data());
  for (int64_t i = 0; i < a.size(); ++i) EXPECT_EQ(b[i], a[i]);
  const float* storage = b.data();
  b.copy_from(Tensor({3, 2}));  // same size: no reallocation
  EXPECT_EQ(b.data(), storage);
  EXPECT_EQ(b.shape(), (Shape{3, 2}));
  b.set_device(Device::kCpu);  // already there: kept
  EXPECT_EQ(b.data(), storage);
}

}  // namespace
}  // namespace rampart
