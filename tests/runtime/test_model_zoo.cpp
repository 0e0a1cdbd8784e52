// The residual networks of the model zoo against the PyTorch definitions they name:
// parameter counts as PyTorch reports them (sum(p.numel() for p in model.parameters())),
// state_dict key names, and a forward/backward pass at CIFAR size.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "runtime/errors.h"
#include "runtime/model.h"
#include "runtime/rng.h"

namespace rampart {
namespace {

const Shape kCifar{3, 32, 32};

bool has_param(const Model& m, const std::string& name) {
  const auto& p = m.params();
  return std::any_of(p.begin(), p.end(), [&](const ParamView& v) { return v.name == name; });
}

// The parameter counts of the reference definitions (10 classes; ResNet-50: 1000).
// PreActResNet-18: RobustBench's (and Rice et al.'s) definition ends with bn(512) + relu
// before the pooling: kuangliu's 11,171,146 plus that batchnorm's 1,024.
TEST(ModelZoo, ParameterCountsArePyTorchs) {
  struct Case { const char* name; Shape in; int classes; int64_t params; };
  for (const Case& c : {Case{"preact-resnet18", kCifar, 10, 11172170}, Case{"resnet18", kCifar, 10, 11173962},
                        Case{"wrn-28-10", kCifar, 10, 36479194}, Case{"wrn-34-10", kCifar, 10, 46160474},
                        Case{"resnet50", Shape{3, 224, 224}, 1000, 25557032}}) {
    SCOPED_TRACE(c.name);
    Model m(expand_model(c.name, c.in, c.classes), c.in);
    EXPECT_EQ(m.num_params(), c.params);
  }
}

// The classifier takes the dataset's classes (CIFAR-100: 100); a JSON spec keeps its own.
TEST(ModelZoo, TheClassifierHasTheDatasetsClasses) {
  for (const char* name : {"preact-resnet18", "resnet18", "wrn-16-4", "small-cnn"}) {
    SCOPED_TRACE(name);
    Model m(expand_model(name, kCifar, 100), kCifar);
    EXPECT_EQ(m.num_classes(), 100);
  }
  Model r50(expand_model("resnet50", Shape{3, 64, 64}, 200), Shape{3, 64, 64});  // Tiny ImageNet
  EXPECT_EQ(r50.num_classes(), 200);
  // PreActResNet-18 with 100 classes: 11,172,170 - 5,130 + 51,300 (PyTorch's count).
  EXPECT_EQ(Model(expand_model("preact-resnet18", kCifar, 100), kCifar).num_params(), 11218340);
  EXPECT_THROW(expand_model("preact-resnet18", kCifar, 1), ConfigError);
}

TEST(ModelZoo, NamesAreTheStateDictKeysOfTheReferenceDefinitions) {
  Model pre(expand_model("preact-resnet18", kCifar), kCifar);
  for (const char* n : {"conv1.weight", "layer1.0.bn1.weight", "layer1.0.conv2.weight", "layer2.0.shortcut.0.weight",
                        "layer4.1.bn2.bias", "bn.weight", "linear.weight", "linear.bias"})
    EXPECT_TRUE(has_param(pre, n)) << n;
  EXPECT_FALSE(has_param(pre, "layer1.0.shortcut.0.weight"));  // identity in the first group
  EXPECT_EQ(pre.buffers().front().name, "layer1.0.bn1.running_mean");

  Model wrn(expand_model("wrn-16-4", kCifar), kCifar);
  for (const char* n : {"conv1.weight", "block1.layer.0.bn1.weight", "block1.layer.0.convShortcut.weight",
                        "block2.layer.1.conv2.weight", "block3.layer.0.convShortcut.weight", "bn1.weight", "fc.weight"})
    EXPECT_TRUE(has_param(wrn, n)) << n;
  EXPECT_FALSE(has_param(wrn, "block2.layer.1.convShortcut.weight"));

  Model r50(expand_model("resnet50", Shape{3, 224, 224}), Shape{3, 224, 224});
  for (const char* n : {"conv1.weight", "bn1.weight", "layer1.0.conv3.weight", "layer1.0.downsample.0.weight",
                        "layer1.0.downsample.1.weight", "layer3.5.bn3.bias", "fc.weight"})
    EXPECT_TRUE(has_param(r50, n)) << n;
  Model r18(expand_model("resnet18", kCifar), kCifar);
  for (const char* n : {"bn1.weight", "layer2.0.shortcut.0.weight", "layer2.0.shortcut.1.weight", "linear.bias"})
    EXPECT_TRUE(has_param(r18, n)) << n;
}

// A whole network on a CIFAR-size batch: logits of the right shape, finite, and gradients
// reaching the first convolution.
TEST(ModelZoo, WideResNetTrainsAStepOnCifarSizedInput) {
  Model m(expand_model("wrn-10-1", kCifar), kCifar);
  m.init(7);
  Tensor x({2, 3, 32, 32});
  Rng rng(1, Stream::kInit, 0);
  for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.uniform(0.f, 1.f);
  const Tensor& logits = m.forward(x, Mode::kTrain);
  ASSERT_EQ(logits.shape(), (Shape{2, 10}));
  Tensor dl(logits.shape());
  for (int64_t i = 0; i < dl.size(); ++i) dl[i] = i % 3 == 0 ? 0.5f : -0.25f;
  const Tensor& dx = m.backward(dl, true, true);
  ASSERT_EQ(dx.shape(), x.shape());
  double g = 0;
  auto [b, e] = m.layer_param_range(0);
  for (int64_t i = b; i < e; ++i) g += std::abs(m.flat_grads()[i]);
  EXPECT_GT(g, 0.0) << "no gradient reached conv1";
}

TEST(ModelZoo, BadShapesAndNamesAreConfigErrors) {
  EXPECT_THROW(expand_model("preact-resnet18", Shape{1, 28, 28}), ConfigError);  // 28 is not a multiple of 8
  EXPECT_THROW(expand_model("wrn-30-10", kCifar), ConfigError);                   // 30 is not 6n + 4
  EXPECT_THROW(expand_model("wrn-16-0", kCifar), ConfigError);
  EXPECT_THROW(expand_model("wrn-9994-64", kCifar), ConfigError);  // bounded: no terabyte model from a typo
  try {
    expand_model("wrn-30-10", kCifar);
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("DEPTH = 6n + 4"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rampart
