// Model as a graph of named modules: PyTorch's state_dict names for nested specs,
// flat lists unchanged, and the errors of malformed containers and branch shapes.
// The passes (numbers, gradients, fusion, checkpoints): test_model_graph_passes.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "runtime/checkpoint.h"
#include "runtime/errors.h"
#include "runtime/model.h"
#include "runtime/model_state.h"
#include "tests/runtime/gradcheck.h"
#include "tests/runtime/model_graph_specs.h"
#include "tests/runtime/test_data_util.h"
namespace rampart {
namespace {

using nlohmann::json;
using testing::TempDir;
using namespace graph_test;

TEST(ModelGraph, PreActResNetNamesArePyTorchs) {
  Model m(tiny_preact(3, 8), {3, 8, 8});
  EXPECT_EQ(param_names(m),
            (Names{"conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias", "layer1.0.conv1.weight",
                   "layer1.0.bn2.weight", "layer1.0.bn2.bias", "layer1.0.conv2.weight", "layer1.0.shortcut.0.weight",
                   "layer1.1.bn1.weight", "layer1.1.bn1.bias", "layer1.1.conv1.weight", "layer1.1.bn2.weight",
                   "layer1.1.bn2.bias", "layer1.1.conv2.weight", "bn.weight", "bn.bias", "linear.weight",
                   "linear.bias"}));
  EXPECT_EQ(buffer_names(m), cat({bn_buffers("layer1.0.bn1"), bn_buffers("layer1.0.bn2"), bn_buffers("layer1.1.bn1"),
                                  bn_buffers("layer1.1.bn2"), bn_buffers("bn")}));
  EXPECT_EQ(m.layer_name(0), "conv1");
  EXPECT_EQ(m.layer_name(7), "layer1.0.shortcut.0");
  EXPECT_FALSE(m.is_plain_list());
  EXPECT_EQ(m.num_classes(), 3);
}

TEST(ModelGraph, WideResNetNamesArePyTorchs) {
  // TRADES' WideResNet: conv1, block1.layer.<i> of BasicBlock (bn1, relu1, conv1,
  // bn2, relu2, conv2, convShortcut when in != out), bn1, relu, fc.
  auto block = [](int in, int out) {
    json b = {{"type", "residual"},
              {"pre", {bn(in, "bn1"), relu("relu1")}},
              {"body", {conv(in, out, 3, 1, 1, "conv1"), bn(out, "bn2"), relu("relu2"), conv(out, out, 3, 1, 1, "conv2")}}};
    if (in != out) b["shortcut"] = json::array({conv(in, out, 1, 1, 0, "convShortcut")}), b["shortcut_from"] = "pre";
    return b;
  };
  json spec = json::array({conv(3, 4, 3, 1, 1, "conv1"),
                           seq("block1", {seq("layer", {block(4, 8), block(8, 8)})}),
                           bn(8, "bn1"), relu("relu"), {{"type", "avgpool2d"}, {"kernel_size", 4}},
                           {{"type", "flatten"}},
                           {{"type", "linear"}, {"name", "fc"}, {"in_features", 8}, {"out_features", 10}}});
  Model m(spec, {3, 4, 4});
  const std::string b0 = "block1.layer.0.", b1 = "block1.layer.1.";
  EXPECT_EQ(param_names(m),
            (Names{"conv1.weight", b0 + "bn1.weight", b0 + "bn1.bias", b0 + "conv1.weight", b0 + "bn2.weight",
                   b0 + "bn2.bias", b0 + "conv2.weight", b0 + "convShortcut.weight", b1 + "bn1.weight",
                   b1 + "bn1.bias", b1 + "conv1.weight", b1 + "bn2.weight", b1 + "bn2.bias", b1 + "conv2.weight",
                   "bn1.weight", "bn1.bias", "fc.weight", "fc.bias"}));
  EXPECT_EQ(buffer_names(m), cat({bn_buffers(b0 + "bn1"), bn_buffers(b0 + "bn2"), bn_buffers(b1 + "bn1"),
                                  bn_buffers(b1 + "bn2"), bn_buffers("bn1")}));
}

TEST(ModelGraph, ResNetBottleneckNamesArePyTorchs) {
  // torchvision's Bottleneck: conv1 bn1 conv2 bn2 conv3 bn3 (relu after each bn
  // but the last), downsample = Sequential(conv, bn), relu after the add.
  json block = {{"type", "residual"},
                {"body", {conv(4, 2, 1, 1, 0, "conv1"), bn(2, "bn1"), relu(), conv(2, 2, 3, 2, 1, "conv2"),
                          bn(2, "bn2"), relu(), conv(2, 8, 1, 1, 0, "conv3"), bn(8, "bn3")}},
                {"shortcut", {seq("downsample", {conv(4, 8, 1, 2, 0), bn(8)})}},
                {"post", {relu()}}};
  json spec = json::array({seq("layer1", {block}), {{"type", "flatten"}},
                           {{"type", "linear"}, {"name", "fc"}, {"in_features", 8 * 2 * 2}, {"out_features", 2}}});
  Model m(spec, {4, 4, 4});
  const std::string p = "layer1.0.";
  EXPECT_EQ(param_names(m),
            (Names{p + "conv1.weight", p + "bn1.weight", p + "bn1.bias", p + "conv2.weight", p + "bn2.weight",
                   p + "bn2.bias", p + "conv3.weight", p + "bn3.weight", p + "bn3.bias", p + "downsample.0.weight",
                   p + "downsample.1.weight", p + "downsample.1.bias", "fc.weight", "fc.bias"}));
  EXPECT_EQ(buffer_names(m), cat({bn_buffers(p + "bn1"), bn_buffers(p + "bn2"), bn_buffers(p + "bn3"),
                                  bn_buffers(p + "downsample.1")}));
}

TEST(ModelGraph, FlatListsKeepTheirNamesAndRanges) {
  Shape in = {1, 28, 28};
  Model m(expand_model("small-cnn-bn", in), in);
  EXPECT_TRUE(m.is_plain_list());
  EXPECT_EQ(param_names(m), (Names{"0.weight", "0.bias", "1.weight", "1.bias", "4.weight", "4.bias", "5.weight",
                                   "5.bias", "9.weight", "9.bias", "11.weight", "11.bias"}));
  EXPECT_EQ(buffer_names(m), cat({bn_buffers("1"), bn_buffers("5")}));
  ASSERT_EQ(m.num_layers(), 12);
  int64_t offset = 0;
  for (int i = 0; i < m.num_layers(); ++i) {
    EXPECT_EQ(m.layer_name(i), std::to_string(i));
    EXPECT_EQ(m.layer_param_range(i).first, offset) << "layer " << i;
    offset = m.layer_param_range(i).second;
  }
  EXPECT_EQ(offset, m.num_params());
}

// The same layers as a flat list and wrapped in containers: the same bits in
// every output and gradient, the same flat layout (only the names differ).
TEST(ModelGraph, BranchShapesMustMatch) {
  json block = preact_block(4, 6, 2);
  block.erase("shortcut");  // identity shortcut: [1, 4, 8, 8] against the body's [1, 6, 4, 4]
  block.erase("shortcut_from");
  json spec = json::array({seq("layer1", {block}), {{"type", "flatten"}},
                           {{"type", "linear"}, {"in_features", 96}, {"out_features", 2}}});
  try {
    Model m(spec, {4, 8, 8});
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    std::string w = e.what();
    EXPECT_NE(w.find("module layer1.0 (residual)"), std::string::npos) << w;
    EXPECT_NE(w.find("the body gives [1, 6, 4, 4] but the shortcut gives [1, 4, 8, 8]"), std::string::npos) << w;
  }
}

TEST(ModelGraph, MalformedContainersAreConfigErrors) {
  auto msg = [](const json& spec) -> std::string {
    try {
      Model m(spec, {4, 8, 8});
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no ConfigError";
  };
  auto has = [](const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; };
  json tail = json::array({{{"type", "flatten"}}, {{"type", "linear"}, {"in_features", 256}, {"out_features", 2}}});
  auto with = [&](json first) {
    json s = json::array({first});
    s.insert(s.end(), tail.begin(), tail.end());
    return s;
  };
  std::string m;
  m = msg(with(seq("a", {conv(4, 4, 3, 1, 1, "c"), conv(4, 4, 3, 1, 1, "c")})));
  EXPECT_TRUE(has(m, "module a (sequential): two children are named \"c\"")) << m;
  m = msg(with(seq("a.b", {relu()})));
  EXPECT_TRUE(has(m, "\"name\" must be a non-empty string of letters, digits and '_'")) << m;
  m = msg(with({{"type", "residual"}, {"name", "r"}, {"body", json::array()}}));
  EXPECT_TRUE(has(m, "module r (residual): \"body\" must be a non-empty list")) << m;
  m = msg(with({{"type", "residual"}, {"name", "r"}, {"body", {relu()}}, {"skip", json::array()}}));
  EXPECT_TRUE(has(m, "module r (residual): unknown field \"skip\"")) << m;
  m = msg(with({{"type", "residual"}, {"name", "r"}, {"body", {relu()}}, {"shortcut_from", "body"}}));
  EXPECT_TRUE(has(m, "\"shortcut_from\" must be \"input\"")) << m;
  m = msg(with({{"type", "sequential"}, {"name", "s"}}));
  EXPECT_TRUE(has(m, "module s (sequential): missing field \"children\"")) << m;
  // A leaf's own error, with its place in the tree.
  m = msg(with(seq("features", {conv(3, 4, 3, 1, 1, "conv")})));
  EXPECT_TRUE(has(m, "model spec: module features.conv: layer 0 (conv2d): in_channels is 3")) << m;
  // Flat lists keep their messages.
  EXPECT_EQ(msg(json::array({conv(3, 4, 3, 1, 1)})).rfind("layer 0 (conv2d): in_channels is 3", 0), 0u);
}

}  // namespace
}  // namespace rampart
