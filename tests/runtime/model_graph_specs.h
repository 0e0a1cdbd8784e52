// Small module specs (the names PyTorch's residual networks use) shared by the
// module-graph tests: test_model_graph.cpp (names, errors) and
// test_model_graph_passes.cpp (numbers, gradients, fusion, checkpoints).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/model.h"

namespace rampart::graph_test {

using nlohmann::json;
using Names = std::vector<std::string>;

inline json conv(int in, int out, int k, int stride, int pad, const char* name = nullptr, bool bias = false) {
  json j = {{"type", "conv2d"}, {"in_channels", in}, {"out_channels", out}, {"kernel_size", k},
            {"stride", stride}, {"padding", pad}, {"bias", bias}};
  if (name) j["name"] = name;
  return j;
}
inline json bn(int c, const char* name = nullptr) {
  json j = {{"type", "batchnorm2d"}, {"num_features", c}};
  if (name) j["name"] = name;
  return j;
}
inline json relu(const char* name = nullptr) {
  json j = {{"type", "relu"}};
  if (name) j["name"] = name;
  return j;
}
// children: a std::vector, so that one child is a list of one under every compiler
// (a json parameter initialised from {child} is a copy of the child under clang).
inline json seq(const char* name, std::vector<json> children) {
  return {{"type", "sequential"}, {"name", name}, {"children", children}};
}

// PreActBlock of the RobustBench/TRADES code: bn1, relu, conv1, bn2, relu, conv2,
// plus shortcut.0 (a 1x1 conv from the pre-activated input) when the shape changes.
inline json preact_block(int in, int out, int stride) {
  json b = {{"type", "residual"},
            {"pre", {bn(in, "bn1"), relu()}},
            {"body", {conv(in, out, 3, stride, 1, "conv1"), bn(out, "bn2"), relu(), conv(out, out, 3, 1, 1, "conv2")}}};
  if (stride != 1 || in != out) {
    b["shortcut"] = json::array({conv(in, out, 1, stride, 0)});
    b["shortcut_from"] = "pre";
  }
  return b;
}

// A small PreActResNet: conv1, layer1 (two blocks, the first downsampling), bn, linear.
inline json tiny_preact(int c_in, int hw) {
  return json::array({conv(c_in, 4, 3, 1, 1, "conv1"),
                      seq("layer1", {preact_block(4, 6, 2), preact_block(6, 6, 1)}),
                      bn(6, "bn"), relu(), {{"type", "avgpool2d"}, {"kernel_size", hw / 2}}, {{"type", "flatten"}},
                      {{"type", "linear"}, {"name", "linear"}, {"in_features", 6}, {"out_features", 3}}});
}

inline Names param_names(Model& m) {
  Names n;
  for (auto& p : m.params()) n.push_back(p.name);
  return n;
}
inline Names buffer_names(Model& m) {
  Names n;
  for (auto& b : m.buffers()) n.push_back(b.name);
  return n;
}
inline Names bn_buffers(const std::string& p) {
  return {p + ".running_mean", p + ".running_var", p + ".num_batches_tracked"};
}
inline Names cat(std::initializer_list<Names> parts) {
  Names out;
  for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace rampart::graph_test
