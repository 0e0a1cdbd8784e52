// Finite-difference checks of every layer's backward (input and parameter
// gradients), at awkward sizes: batch 3, odd H and W, stride 2, padding,
// channel counts that are not multiples of 16.
#include <gtest/gtest.h>

#include "runtime/layers/layer.h"
#include "tests/runtime/gradcheck.h"

namespace rampart {
namespace {

using nlohmann::json;
using testing::BoundLayer;
using testing::gradcheck;

BoundLayer make(const json& spec) { return BoundLayer(make_layer(spec, 0)); }

TEST(LayerGrad, Conv2dBasic) {
  auto l = make({{"type", "conv2d"}, {"in_channels", 5}, {"out_channels", 7}, {"kernel_size", 3}});
  EXPECT_EQ(gradcheck(l, testing::random_tensor({3, 5, 9, 11}, 1), Mode::kTrain), 0);
}

TEST(LayerGrad, Conv2dStride2PadRect) {
  auto l = make({{"type", "conv2d"}, {"in_channels", 3}, {"out_channels", 17}, {"kernel_size", {3, 2}},
                 {"stride", 2}, {"padding", {1, 2}}});
  EXPECT_EQ(gradcheck(l, testing::random_tensor({3, 3, 9, 7}, 2), Mode::kTrain), 0);
}

TEST(LayerGrad, Conv2dOneChannelNoBias) {
  // in_channels 1 takes oneDNN's special paths for the first layer.
  auto l = make({{"type", "conv2d"}, {"in_channels", 1}, {"out_channels", 32}, {"kernel_size", 3},
                 {"padding", 1}, {"bias", false}});
  EXPECT_EQ(l.params().size(), 1u);
  EXPECT_EQ(gradcheck(l, testing::random_tensor({3, 1, 7, 9}, 3), Mode::kEval), 0);
}

TEST(LayerGrad, Conv2dWide) {
  auto l = make({{"type", "conv2d"}, {"in_channels", 32}, {"out_channels", 64}, {"kernel_size", 3},
                 {"padding", 1}});
  testing::GradCheckOptions o;
  o.max_checks = 60;
  EXPECT_EQ(gradcheck(l, testing::random_tensor({2, 32, 5, 5}, 4), Mode::kTrain, o), 0);
}

TEST(LayerGrad, Linear) {
  auto l = make({{"type", "linear"}, {"in_features", 37}, {"out_features", 13}});
  EXPECT_EQ(gradcheck(l, testing::random_tensor({3, 37}, 5), Mode::kTrain), 0);
}

TEST(LayerGrad, LinearNoBias) {
  auto l = make({{"type", "linear"}, {"in_features", 20}, {"out_features", 3}, {"bias", false}});
  EXPECT_EQ(gradcheck(l, testing::random_tensor({5, 20}, 6), Mode::kEval), 0);
}

TEST(LayerGrad, Relu) {
  auto l = make({{"type", "relu"}});
  EXPECT_EQ(gradcheck(l, testing::away_from_zero({3, 5, 7, 9}, 7), Mode::kTrain), 0);
  EXPECT_EQ(gradcheck(l, testing::away_from_zero({4, 33}, 8), Mode::kTrain), 0);
}

TEST(LayerGrad, MaxPool) {
  auto l = make({{"type", "maxpool2d"}, {"kernel_size", 2}});
  EXPECT_EQ(gradcheck(l, testing::distinct_tensor({3, 5, 9, 11}, 9), Mode::kTrain), 0);
}

TEST(LayerGrad, MaxPoolOverlapPad) {
  // stride < kernel: windows overlap and gradients add up; padding at the border.
  auto l = make({{"type", "maxpool2d"}, {"kernel_size", 3}, {"stride", 2}, {"padding", 1}});
  EXPECT_EQ(gradcheck(l, testing::distinct_tensor({3, 17, 9, 7}, 10), Mode::kTrain), 0);
}

TEST(LayerGrad, AvgPool) {
  auto l = make({{"type", "avgpool2d"}, {"kernel_size", 2}});
  EXPECT_EQ(gradcheck(l, testing::random_tensor({3, 5, 9, 11}, 11), Mode::kTrain), 0);
}

TEST(LayerGrad, AvgPoolOverlapPadRect) {
  auto l = make({{"type", "avgpool2d"}, {"kernel_size", {3, 2}}, {"stride", {2, 1}}, {"padding", {1, 1}}});
  EXPECT_EQ(gradcheck(l, testing::random_tensor({3, 19, 7, 6}, 12), Mode::kTrain), 0);
}

TEST(LayerGrad, Flatten) {
  auto l = make({{"type", "flatten"}});
  EXPECT_EQ(gradcheck(l, testing::random_tensor({3, 5, 3, 7}, 13), Mode::kTrain), 0);
  EXPECT_EQ(gradcheck(l, testing::random_tensor({3, 8}, 14), Mode::kTrain), 0);
}

TEST(LayerGrad, Normalize) {
  auto l = make({{"type", "normalize"}, {"mean", {0.5, 0.25, -0.1}}, {"std", {0.3, 2.0, 0.7}}});
  EXPECT_EQ(gradcheck(l, testing::random_tensor({3, 3, 5, 7}, 15), Mode::kTrain), 0);
  auto one = make({{"type", "normalize"}, {"mean", {0.2}}, {"std", {0.4}}});
  EXPECT_EQ(gradcheck(one, testing::random_tensor({3, 1, 5, 4}, 16), Mode::kTrain), 0);
}

// Non-trivial affine parameters and running statistics, so that every term shows.
void scramble_batchnorm(BoundLayer& l, int c) {
  Rng rng(99, Stream::kInit, 3);
  for (int i = 0; i < c; ++i) {
    l.param("weight").value[i] = rng.uniform(0.5f, 1.5f);
    l.param("bias").value[i] = rng.uniform(-0.5f, 0.5f);
    l.buffer("running_mean").value[i] = rng.uniform(-0.5f, 0.5f);
    l.buffer("running_var").value[i] = rng.uniform(0.5f, 2.0f);
  }
}

TEST(LayerGrad, BatchNormTrain) {
  auto l = make({{"type", "batchnorm2d"}, {"num_features", 19}});
  scramble_batchnorm(l, 19);
  testing::GradCheckOptions o;
  o.eps = 3e-3;  // batch statistics make the loss curved; a smaller step keeps the truncation error small
  EXPECT_EQ(gradcheck(l, testing::random_tensor({3, 19, 5, 3}, 17, -2.0f, 2.0f), Mode::kTrain, o), 0);
}

TEST(LayerGrad, BatchNormEval) {
  auto l = make({{"type", "batchnorm2d"}, {"num_features", 5}, {"eps", 1e-3}});
  scramble_batchnorm(l, 5);
  EXPECT_EQ(gradcheck(l, testing::random_tensor({3, 5, 7, 9}, 18, -2.0f, 2.0f), Mode::kEval), 0);
}

}  // namespace
}  // namespace rampart
