// Named models: each expands to a spec of the JSON form in docs/model-spec.md. The
// residual networks carry the module names of the PyTorch definitions practitioners
// load (RobustBench / TRADES PreActResNet and WideResNet, kuangliu's CIFAR ResNet-18,
// torchvision's ResNet-50), so their checkpoints' names are those state_dict keys.
#include <map>
#include <regex>

#include "runtime/errors.h"
#include "runtime/json_strict.h"
#include "runtime/model.h"

namespace rampart {
namespace {

using nlohmann::json;

json conv(int in, int out, int k, int pad) {
  return {{"type", "conv2d"}, {"in_channels", in}, {"out_channels", out}, {"kernel_size", k},
          {"stride", 1}, {"padding", pad}};
}
json linear(int64_t in, int64_t out) { return {{"type", "linear"}, {"in_features", in}, {"out_features", out}}; }
json relu() { return {{"type", "relu"}}; }
json maxpool(int k) { return {{"type", "maxpool2d"}, {"kernel_size", k}}; }
json bn(int c) { return {{"type", "batchnorm2d"}, {"num_features", c}}; }

// The reference model of ../shared/PROTOCOL.md.
json small_cnn(const Shape& in, int classes) {
  int64_t flat = 64 * (in[1] / 4) * (in[2] / 4);
  return json::array({conv(int(in[0]), 32, 3, 1), relu(), maxpool(2), conv(32, 64, 3, 1), relu(), maxpool(2),
                      {{"type", "flatten"}}, linear(flat, 128), relu(), linear(128, classes)});
}

// small-cnn with batchnorm after each convolution.
json small_cnn_bn(const Shape& in, int classes) {
  int64_t flat = 64 * (in[1] / 4) * (in[2] / 4);
  return json::array({conv(int(in[0]), 32, 3, 1), bn(32), relu(), maxpool(2), conv(32, 64, 3, 1), bn(64), relu(),
                      maxpool(2), {{"type", "flatten"}}, linear(flat, 128), relu(), linear(128, classes)});
}

// A two-layer perceptron, for quick tests.
json mlp(const Shape& in, int classes) {
  return json::array({{{"type", "flatten"}}, linear(in[0] * in[1] * in[2], 256), relu(), linear(256, classes)});
}

json named(json j, const char* name) {
  j["name"] = name;
  return j;
}
// A conv2d without bias (the residual networks' convolutions), named.
json conv_nb(const char* name, int in, int out, int k, int stride, int pad) {
  json j = {{"type", "conv2d"}, {"in_channels", in}, {"out_channels", out}, {"kernel_size", k},
            {"stride", stride}, {"padding", pad}, {"bias", false}};
  if (name) j["name"] = name;
  return j;
}
json seq(const char* name, std::vector<json> children) {
  return {{"type", "sequential"}, {"name", name}, {"children", children}};
}
json avgpool(int64_t k) { return {{"type", "avgpool2d"}, {"kernel_size", k}}; }
json flatten() { return {{"type", "flatten"}}; }
json fc(const char* name, int64_t in, int64_t out) { return named(linear(in, out), name); }

// The final spatial size of a network that divides its input by `down`; ConfigError
// for an input it cannot take.
int64_t final_size(const char* model, const Shape& in, int64_t down) {
  if (in[1] != in[2] || in[1] % down != 0 || in[1] < down)
    throw ConfigError("model " + std::string(model) + ": expected a square input whose side is a multiple of " +
                      std::to_string(down) + " (e.g. 32 for CIFAR), found " + std::to_string(in[1]) + "x" +
                      std::to_string(in[2]) + "; pad or resize the images (rampart data import)");
  return in[1] / down;
}

// RobustBench's PreActBlock: out = conv2(relu(bn2(conv1(relu(bn1(x)))))) + shortcut, the
// projection shortcut reading relu(bn1(x)).
json preact_block(int in, int out, int stride) {
  json b = {{"type", "residual"},
            {"pre", {named(bn(in), "bn1"), relu()}},
            {"body", {conv_nb("conv1", in, out, 3, stride, 1), named(bn(out), "bn2"), relu(),
                      conv_nb("conv2", out, out, 3, 1, 1)}}};
  if (stride != 1 || in != out) {
    b["shortcut"] = json::array({conv_nb(nullptr, in, out, 1, stride, 0)});
    b["shortcut_from"] = "pre";
  }
  return b;
}

// kuangliu's CIFAR BasicBlock: out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).
json basic_block(int in, int out, int stride) {
  json b = {{"type", "residual"},
            {"body", {conv_nb("conv1", in, out, 3, stride, 1), named(bn(out), "bn1"), relu(),
                      conv_nb("conv2", out, out, 3, 1, 1), named(bn(out), "bn2")}},
            {"post", {relu()}}};
  if (stride != 1 || in != out) b["shortcut"] = {conv_nb(nullptr, in, out, 1, stride, 0), bn(out)};
  return b;
}

// layer1..layer4 of a CIFAR ResNet-18 shape: 64, 128, 256, 512 channels, 2 blocks each.
json resnet18_layers(json (*block)(int, int, int)) {
  json layers = json::array();
  int in = 64;
  const int widths[4] = {64, 128, 256, 512};
  const char* names[4] = {"layer1", "layer2", "layer3", "layer4"};
  for (int l = 0; l < 4; ++l) {
    const int stride = l == 0 ? 1 : 2;
    layers.push_back(seq(names[l], {block(in, widths[l], stride), block(widths[l], widths[l], 1)}));
    in = widths[l];
  }
  return layers;
}

json preact_resnet18(const Shape& in, int classes) {
  const int64_t k = final_size("preact-resnet18", in, 8);
  json m = json::array({conv_nb("conv1", int(in[0]), 64, 3, 1, 1)});
  for (auto& l : resnet18_layers(preact_block)) m.push_back(l);
  for (json j : {named(bn(512), "bn"), relu(), avgpool(k), flatten(), fc("linear", 512, classes)}) m.push_back(j);
  return m;
}

json resnet18(const Shape& in, int classes) {
  const int64_t k = final_size("resnet18", in, 8);
  json m = json::array({conv_nb("conv1", int(in[0]), 64, 3, 1, 1), named(bn(64), "bn1"), relu()});
  for (auto& l : resnet18_layers(basic_block)) m.push_back(l);
  for (json j : {avgpool(k), flatten(), fc("linear", 512, classes)}) m.push_back(j);
  return m;
}

// RobustBench's / TRADES' WideResNet-depth-widen: three groups of (depth - 4) / 6
// BasicBlocks (bn1, relu1, conv1, bn2, relu2, conv2; convShortcut where the width
// changes, reading relu1(bn1(x))), widths 16k, 32k, 64k. (TRADES' file also defines an
// unused sub_block1; RobustBench's has none by default, nor has this.)
json wide_resnet(const std::string& name, int depth, int widen, const Shape& in, int classes) {
  // Bounded so that a typo cannot ask for terabytes: WRN-106-20 is about 1.6e9 parameters
  // (Gowal et al.'s WRN-70-16, the largest in RobustBench, has 2.7e8).
  if (depth < 10 || depth > 106 || (depth - 4) % 6 != 0 || widen < 1 || widen > 20)
    throw ConfigError("model " + name + ": expected wrn-DEPTH-WIDTH with DEPTH = 6n + 4 in [10, 106] (16, 22, 28, "
                      "34, ...) and WIDTH in [1, 20] (e.g. wrn-34-10, wrn-16-4)");
  const int64_t k = final_size(name.c_str(), in, 4);
  const int n = (depth - 4) / 6;
  const int widths[4] = {16, 16 * widen, 32 * widen, 64 * widen};
  json m = json::array({conv_nb("conv1", int(in[0]), 16, 3, 1, 1)});
  const char* groups[3] = {"block1", "block2", "block3"};
  for (int g = 0; g < 3; ++g) {
    std::vector<json> blocks;
    for (int i = 0; i < n; ++i) {
      const int cin = i == 0 ? widths[g] : widths[g + 1], cout = widths[g + 1];
      const int stride = i == 0 && g > 0 ? 2 : 1;
      json b = {{"type", "residual"},
                {"pre", {named(bn(cin), "bn1"), named(relu(), "relu1")}},
                {"body", {conv_nb("conv1", cin, cout, 3, stride, 1), named(bn(cout), "bn2"), named(relu(), "relu2"),
                          conv_nb("conv2", cout, cout, 3, 1, 1)}}};
      if (cin != cout) {
        b["shortcut"] = json::array({conv_nb("convShortcut", cin, cout, 1, stride, 0)});
        b["shortcut_from"] = "pre";
      }
      blocks.push_back(b);
    }
    m.push_back(seq(groups[g], {seq("layer", blocks)}));
  }
  for (json j : {named(bn(widths[3]), "bn1"), named(relu(), "relu"), avgpool(k), flatten(), fc("fc", widths[3], classes)})
    m.push_back(j);
  return m;
}

// torchvision's Bottleneck (ResNet v1.5: the stride on the 3x3 convolution).
json bottleneck(int in, int width, int stride) {
  const int out = 4 * width;
  json b = {{"type", "residual"},
            {"body", {conv_nb("conv1", in, width, 1, 1, 0), named(bn(width), "bn1"), relu(),
                      conv_nb("conv2", width, width, 3, stride, 1), named(bn(width), "bn2"), relu(),
                      conv_nb("conv3", width, out, 1, 1, 0), named(bn(out), "bn3")}},
            {"post", {relu()}}};
  if (stride != 1 || in != out)
    b["shortcut"] = json::array({seq("downsample", {conv_nb(nullptr, in, out, 1, stride, 0), bn(out)})});
  return b;
}

// torchvision's resnet50 for ImageNet-size inputs (224: a 7x7 final map).
json resnet50(const Shape& in, int classes) {
  const int64_t k = final_size("resnet50", in, 32);
  json m = json::array({conv_nb("conv1", int(in[0]), 64, 7, 2, 3), named(bn(64), "bn1"), relu(),
                        {{"type", "maxpool2d"}, {"kernel_size", 3}, {"stride", 2}, {"padding", 1}}});
  const int blocks[4] = {3, 4, 6, 3}, widths[4] = {64, 128, 256, 512};
  const char* names[4] = {"layer1", "layer2", "layer3", "layer4"};
  int cin = 64;
  for (int l = 0; l < 4; ++l) {
    std::vector<json> layer;
    for (int i = 0; i < blocks[l]; ++i) {
      layer.push_back(bottleneck(cin, widths[l], i == 0 && l > 0 ? 2 : 1));
      cin = 4 * widths[l];
    }
    m.push_back(seq(names[l], layer));
  }
  for (json j : {avgpool(k), flatten(), fc("fc", 2048, classes)}) m.push_back(j);
  return m;
}

json wrn_16_4(const Shape& in, int classes) { return wide_resnet("wrn-16-4", 16, 4, in, classes); }
json wrn_28_10(const Shape& in, int classes) { return wide_resnet("wrn-28-10", 28, 10, in, classes); }
json wrn_34_10(const Shape& in, int classes) { return wide_resnet("wrn-34-10", 34, 10, in, classes); }

const std::map<std::string, json (*)(const Shape&, int)>& zoo() {
  static const std::map<std::string, json (*)(const Shape&, int)> z = {
      {"small-cnn", small_cnn}, {"small-cnn-bn", small_cnn_bn}, {"mlp", mlp},
      {"preact-resnet18", preact_resnet18}, {"resnet18", resnet18}, {"resnet50", resnet50},
      {"wrn-16-4", wrn_16_4}, {"wrn-28-10", wrn_28_10}, {"wrn-34-10", wrn_34_10}};
  return z;
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (auto& [k, v] : zoo()) names.push_back(k);
  return names;
}

json expand_model(const std::string& name_or_json, const Shape& input, int classes) {
  if (classes < 2 || classes > 1000000)  // runtime/data/dataset.h's kMaxClasses
    throw ConfigError("model: expected between 2 and 1000000 classes, found " + std::to_string(classes));
  auto it = zoo().find(name_or_json);
  if (it != zoo().end()) return it->second(input, classes);
  // Any WideResNet: wrn-DEPTH-WIDTH.
  std::smatch m;
  static const std::regex wrn("wrn-([0-9]{1,4})-([0-9]{1,4})");
  if (std::regex_match(name_or_json, m, wrn))
    return wide_resnet(name_or_json, std::stoi(m[1].str()), std::stoi(m[2].str()), input, classes);
  size_t first = name_or_json.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && name_or_json[first] == '[') {
    try {
      return parse_json_strict(name_or_json);
    } catch (const JsonTextError& e) {  // syntax, numbers too big, a key given twice
      if (e.kind == JsonTextError::Kind::kDuplicateKey)
        throw ConfigError("model spec: " + (e.element >= 0 ? "layer " + std::to_string(e.element) + ": " : "") +
                          "key \"" + e.key + "\" is given more than once; expected each field once per layer "
                          "(JSON would silently keep only the last)");
      throw ConfigError(std::string("model: the spec is not valid JSON: ") + e.what());
    }
  }
  std::string known;
  for (auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  throw ConfigError("model: unknown model \"" + name_or_json + "\"; expected one of " + known +
                    ", wrn-DEPTH-WIDTH or a JSON list of layers");
}

}  // namespace rampart
