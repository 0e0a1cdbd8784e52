// Layer specs: parsing of PyTorch-style fields, spec() round trips, parameter
// names and shapes, PyTorch's default initialisation, and the ConfigError
// messages for bad specs and inputs that do not fit.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/errors.h"
#include "runtime/json_strict.h"
#include "runtime/model.h"
#include "runtime/layers/layer.h"
#include "tests/runtime/gradcheck.h"
#include "tests/runtime/test_data_util.h"

namespace rampart {
namespace {

using nlohmann::json;

// The message of the ConfigError that f throws ("" and a test failure if none).
template <typename F>
std::string config_error(F f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ConfigError, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected ConfigError, nothing thrown";
  return "";
}

std::string spec_error(const json& spec, int index = 3) {
  return config_error([&] { make_layer(spec, index); });
}

TEST(LayerSpec, Conv2dDefaultsAndRoundTrip) {
  auto l = make_layer(json::parse(R"({"type": "conv2d", "in_channels": 1, "out_channels": 32, "kernel_size": 3})"), 0);
  EXPECT_EQ(l->type(), "conv2d");
  EXPECT_EQ(l->spec(), json::parse(R"({"type": "conv2d", "in_channels": 1, "out_channels": 32, "kernel_size": 3,
                                       "stride": 1, "padding": 0, "bias": true})"));
  auto l2 = make_layer(l->spec(), 0);
  EXPECT_EQ(l2->spec(), l->spec());
  auto rect = make_layer(json::parse(R"({"type": "conv2d", "in_channels": 2, "out_channels": 4,
      "kernel_size": [3, 5], "stride": [2, 1], "padding": [1, 2], "bias": false})"), 0);
  EXPECT_EQ(rect->spec()["kernel_size"], json::parse("[3, 5]"));
  EXPECT_EQ(rect->output_shape({7, 2, 9, 10}), (Shape{7, 4, 5, 10}));
  ASSERT_EQ(rect->param_shapes().size(), 1u);
}

TEST(LayerSpec, ParamNamesAndShapesArePyTorchs) {
  auto conv = make_layer({{"type", "conv2d"}, {"in_channels", 3}, {"out_channels", 8}, {"kernel_size", {3, 5}}}, 0);
  auto p = conv->param_shapes();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].first, "weight");
  EXPECT_EQ(p[0].second, (Shape{8, 3, 3, 5}));
  EXPECT_EQ(p[1].first, "bias");
  EXPECT_EQ(p[1].second, (Shape{8}));
  auto lin = make_layer({{"type", "linear"}, {"in_features", 6272}, {"out_features", 10}}, 0);
  EXPECT_EQ(lin->param_shapes()[0].second, (Shape{10, 6272}));
  auto bn = make_layer({{"type", "batchnorm2d"}, {"num_features", 6}}, 0);
  ASSERT_EQ(bn->buffer_shapes().size(), 3u);
  EXPECT_EQ(bn->buffer_shapes()[0].first, "running_mean");
  EXPECT_EQ(bn->buffer_shapes()[1].first, "running_var");
  EXPECT_EQ(bn->buffer_shapes()[2].first, "num_batches_tracked");
  EXPECT_EQ(bn->spec(), json::parse(R"({"type": "batchnorm2d", "num_features": 6, "eps": 1e-5, "momentum": 0.1})"));
  for (const char* t : {"relu", "flatten"}) EXPECT_FALSE(make_layer({{"type", t}}, 0)->has_params());
}

TEST(LayerSpec, OutputShapesAndFlops) {
  // small-cnn from ../shared/PROTOCOL.md: 8.48 MFLOP per forward.
  json spec = json::parse(R"([
    {"type": "conv2d", "in_channels": 1, "out_channels": 32, "kernel_size": 3, "padding": 1},
    {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2},
    {"type": "conv2d", "in_channels": 32, "out_channels": 64, "kernel_size": 3, "padding": 1},
    {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2},
    {"type": "flatten"}, {"type": "linear", "in_features": 3136, "out_features": 128},
    {"type": "relu"}, {"type": "linear", "in_features": 128, "out_features": 10}])");
  Shape s = {1, 1, 28, 28};
  double flops = 0;
  for (size_t i = 0; i < spec.size(); ++i) {
    auto l = make_layer(spec[i], int(i));
    flops += l->flops(s);
    s = l->output_shape(s);
  }
  EXPECT_EQ(s, (Shape{1, 10}));
  EXPECT_DOUBLE_EQ(flops, 8482304.0);
  auto pool = make_layer({{"type", "maxpool2d"}, {"kernel_size", 3}, {"stride", 2}, {"padding", 1}}, 0);
  EXPECT_EQ(pool->output_shape({2, 5, 9, 8}), (Shape{2, 5, 5, 4}));
  EXPECT_EQ(pool->spec()["stride"], 2);
}

TEST(LayerSpec, DefaultInitIsPyTorchs) {
  testing::BoundLayer conv(make_layer({{"type", "conv2d"}, {"in_channels", 4}, {"out_channels", 16}, {"kernel_size", 3}}, 0));
  float bound = 1.0f / std::sqrt(36.0f);
  for (auto& p : conv.params()) {
    float lo = 1e9f, hi = -1e9f;
    for (int64_t i = 0; i < p.size(); ++i) { lo = std::min(lo, p.value[i]); hi = std::max(hi, p.value[i]); }
    EXPECT_GE(lo, -bound);
    EXPECT_LE(hi, bound);
    if (p.name == "weight") {  // 576 draws cover most of the range
      EXPECT_LT(lo, -0.9f * bound);
      EXPECT_GT(hi, 0.9f * bound);
    }
  }
  testing::BoundLayer bn(make_layer({{"type", "batchnorm2d"}, {"num_features", 3}}, 0));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(bn.param("weight").value[i], 1.0f);
    EXPECT_EQ(bn.param("bias").value[i], 0.0f);
    EXPECT_EQ(bn.buffer("running_mean").value[i], 0.0f);
    EXPECT_EQ(bn.buffer("running_var").value[i], 1.0f);
  }
  EXPECT_EQ(bn.buffer("num_batches_tracked").value[0], 0.0f);
}

TEST(LayerSpec, ErrorsNameLayerFieldAndValue) {
  EXPECT_EQ(spec_error({{"type", "conv2d"}, {"in_channels", 3}, {"out_channels", -2}, {"kernel_size", 3}}),
            "layer 3 (conv2d): \"out_channels\" must be a positive integer, found -2");
  EXPECT_EQ(spec_error({{"type", "conv3d"}}, 2),
            "layer 2: unknown layer type \"conv3d\"; expected one of conv2d, linear, relu, maxpool2d, "
            "avgpool2d, flatten, batchnorm2d, normalize");
  EXPECT_EQ(spec_error({{"type", "conv2d"}, {"in_channels", 3}, {"out_channels", 8}}),
            "layer 3 (conv2d): missing required field \"kernel_size\"");
  EXPECT_EQ(spec_error({{"type", "conv2d"}, {"in_channels", 3}, {"out_channels", 8}, {"kernel_size", {3, 3, 3}}}),
            "layer 3 (conv2d): \"kernel_size\" must be an integer >= 1 or a list [h, w] of such integers, "
            "found [3,3,3]");
  EXPECT_EQ(spec_error({{"type", "conv2d"}, {"in_channels", "3"}, {"out_channels", 8}, {"kernel_size", 3}}),
            "layer 3 (conv2d): \"in_channels\" must be a positive integer, found \"3\"");
  EXPECT_EQ(spec_error({{"type", "conv2d"}, {"in_channels", 3}, {"out_channels", 8}, {"kernel_size", 3}, {"dilation", 2}}),
            "layer 3 (conv2d): unknown field \"dilation\"; expected only in_channels, out_channels, kernel_size, "
            "stride, padding, bias");
  EXPECT_EQ(spec_error({{"type", "conv2d"}, {"in_channels", 3}, {"out_channels", 8}, {"kernel_size", 3}, {"padding", -1}}),
            "layer 3 (conv2d): \"padding\" must be an integer >= 0 or a list [h, w] of such integers, found -1");
  EXPECT_EQ(spec_error({{"type", "linear"}, {"in_features", 0}, {"out_features", 10}}),
            "layer 3 (linear): \"in_features\" must be a positive integer, found 0");
  EXPECT_EQ(spec_error({{"type", "linear"}, {"in_features", 5}, {"out_features", 10}, {"bias", 1}}),
            "layer 3 (linear): \"bias\" must be true or false, found 1");
  EXPECT_EQ(spec_error({{"type", "relu"}, {"inplace", true}}),
            "layer 3 (relu): unknown field \"inplace\"; expected no fields besides \"type\"");
  EXPECT_EQ(spec_error({{"type", "maxpool2d"}, {"kernel_size", 2}, {"padding", 2}}),
            "layer 3 (maxpool2d): \"padding\" must be at most half of \"kernel_size\" (as in PyTorch), "
            "found padding 2 with kernel_size 2");
  EXPECT_EQ(spec_error({{"type", "batchnorm2d"}, {"num_features", 4}, {"momentum", 2}}),
            "layer 3 (batchnorm2d): \"momentum\" must be a number in [0, 1], found 2");
  EXPECT_EQ(spec_error({{"type", "batchnorm2d"}, {"num_features", 4}, {"eps", 0}}),
            "layer 3 (batchnorm2d): \"eps\" must be a positive number, found 0");
  EXPECT_EQ(spec_error({{"type", "normalize"}, {"mean", {0.5}}, {"std", {0.0}}}),
            "layer 3 (normalize): \"std\" must hold positive numbers, found [0.0]");
  EXPECT_EQ(spec_error({{"type", "normalize"}, {"mean", {0.5, 0.4}}, {"std", {0.2, 0.3, 0.1}}}),
            "layer 3 (normalize): \"mean\" has 2 entries but \"std\" has 3; expected one per channel (or a single value)");
  EXPECT_EQ(spec_error({{"type", "normalize"}, {"std", {0.2}}}),
            "layer 3 (normalize): missing required field \"mean\"");
  EXPECT_EQ(spec_error(json("relu"), 1),
            "layer 1: expected a JSON object such as {\"type\": \"relu\"}, found \"relu\"");
  EXPECT_EQ(spec_error({{"kernel_size", 3}}, 0),
            "layer 0: missing field \"type\"; expected one of conv2d, linear, relu, maxpool2d, avgpool2d, flatten, "
            "batchnorm2d, normalize, found {\"kernel_size\":3}");
  // Accepted forms: [h, w] lists, 3.0 as 3, stride null as PyTorch's None.
  EXPECT_NO_THROW(make_layer(json::parse(R"({"type": "avgpool2d", "kernel_size": [2, 3], "stride": null})"), 0));
  EXPECT_NO_THROW(make_layer(json::parse(R"({"type": "linear", "in_features": 4.0, "out_features": 2})"), 0));
  EXPECT_NO_THROW(make_layer(json::parse(R"({"type": "batchnorm2d", "num_features": 4, "momentum": null})"), 0));
}

TEST(LayerSpec, InputsThatDoNotFit) {
  auto conv = make_layer({{"type", "conv2d"}, {"in_channels", 3}, {"out_channels", 8}, {"kernel_size", 3}}, 0);
  EXPECT_EQ(config_error([&] { conv->output_shape({1, 1, 28, 28}); }),
            "layer 0 (conv2d): in_channels is 3 but the input has 1 channels (input [1, 1, 28, 28])");
  EXPECT_EQ(config_error([&] { conv->output_shape({1, 3, 2, 28}); }),
            "layer 0 (conv2d): kernel 3x3 does not fit the padded input 2x28 (input [1, 3, 2, 28])");
  EXPECT_EQ(config_error([&] { conv->output_shape({1, 3136}); }),
            "layer 0 (conv2d): expected an input [N, C, H, W], found [1, 3136]");
  auto lin = make_layer({{"type", "linear"}, {"in_features", 6272}, {"out_features", 10}}, 7);
  EXPECT_EQ(config_error([&] { lin->output_shape({1, 3136}); }),
            "layer 7 (linear): in_features is 6272 but the input has 3136 features (input [1, 3136])");
  EXPECT_EQ(config_error([&] { lin->output_shape({1, 64, 7, 7}); }),
            "layer 7 (linear): expected an input [N, features], found [1, 64, 7, 7] (add a flatten layer before it)");
  auto bn = make_layer({{"type", "batchnorm2d"}, {"num_features", 4}}, 2);
  EXPECT_EQ(config_error([&] { bn->output_shape({1, 5, 3, 3}); }),
            "layer 2 (batchnorm2d): num_features is 4 but the input has 5 channels (input [1, 5, 3, 3])");
  auto norm = make_layer({{"type", "normalize"}, {"mean", {0.1, 0.2, 0.3}}, {"std", {1, 1, 1}}}, 0);
  EXPECT_EQ(config_error([&] { norm->output_shape({1, 1, 28, 28}); }),
            "layer 0 (normalize): \"mean\" has 3 entries but the input has 1 channels (input [1, 1, 28, 28])");
  auto pool = make_layer({{"type", "maxpool2d"}, {"kernel_size", 5}}, 4);
  EXPECT_EQ(config_error([&] { pool->output_shape({1, 2, 3, 3}); }),
            "layer 4 (maxpool2d): kernel 5x5 does not fit the padded input 3x3 (input [1, 2, 3, 3])");
  // forward checks too (a batch that does not fit is an error, not a crash).
  testing::BoundLayer bl(make_layer({{"type", "conv2d"}, {"in_channels", 3}, {"out_channels", 8}, {"kernel_size", 3}}, 0));
  Tensor x({2, 1, 8, 8}), y;
  EXPECT_NE(config_error([&] { bl->forward(x, y, Mode::kEval); }), "");
}

// The one JSON parse of user text: a key given twice is refused (naming the key and the element
// of the top-level list it is in), and a parse error describes a binary byte instead of quoting it.
TEST(LayerSpec, JsonTextWithDuplicateKeysOrBinaryBytesIsRefused) {
  auto dup = [](const std::string& text) {
    try {
      parse_json_strict(text);
    } catch (const JsonTextError& e) {
      EXPECT_EQ(e.kind, JsonTextError::Kind::kDuplicateKey) << e.what();
      return std::make_pair(e.key, e.element);
    }
    return std::make_pair(std::string("(none)"), int64_t(-2));
  };
  EXPECT_EQ(dup(R"([{"type": "flatten", "type": "relu"}])"), std::make_pair(std::string("type"), int64_t(0)));
  EXPECT_EQ(dup(R"([{"a": 1}, [1, 2], 3, {"b": {"c": 1, "c": 2}}])"), std::make_pair(std::string("c"), int64_t(3)));
  EXPECT_EQ(dup(R"({"x": 1, "x": 1})"), std::make_pair(std::string("x"), int64_t(-1)));
  // The same key in different objects is fine; so is a key that is also a value.
  EXPECT_EQ(parse_json_strict(R"([{"type": "relu"}, {"type": "relu", "x": "type"}])").size(), 2u);

  try {
    parse_json_strict(std::string("\x89PNG\r\n\x1a\n", 8));
    ADD_FAILURE() << "binary text parsed";
  } catch (const JsonTextError& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("byte 0x89 at offset 0"), std::string::npos) << w;
    for (unsigned char c : w) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "raw byte " << int(c) << " in: " << w;
  }
  try {
    parse_json_strict("[1, 2,\x01]");
    ADD_FAILURE() << "a control byte parsed";
  } catch (const JsonTextError& e) {
    for (unsigned char c : std::string(e.what())) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << e.what();  // <U+0001>
  }

  // Through --model: 78 naming the layer and the key.
  testing::expect_error([] { expand_model(R"([{"type": "flatten"}, {"type": "relu", "type": "relu"}])", {1, 2, 2}); },
                        kExitConfig, {"model spec: layer 1: key \"type\" is given more than once"});
}

}  // namespace
}  // namespace rampart
