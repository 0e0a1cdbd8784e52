// Named models: each expands to a spec of the JSON form in ../shared/DESIGN.md.
#include <map>

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
json small_cnn(const Shape& in) {
  int64_t flat = 64 * (in[1] / 4) * (in[2] / 4);
  return json::array({conv(int(in[0]), 32, 3, 1), relu(), maxpool(2), conv(32, 64, 3, 1), relu(), maxpool(2),
                      {{"type", "flatten"}}, linear(flat, 128), relu(), linear(128, 10)});
}

// small-cnn with batchnorm after each convolution.
json small_cnn_bn(const Shape& in) {
  int64_t flat = 64 * (in[1] / 4) * (in[2] / 4);
  return json::array({conv(int(in[0]), 32, 3, 1), bn(32), relu(), maxpool(2), conv(32, 64, 3, 1), bn(64), relu(),
                      maxpool(2), {{"type", "flatten"}}, linear(flat, 128), relu(), linear(128, 10)});
}

// A two-layer perceptron, for quick tests.
json mlp(const Shape& in) {
  return json::array({{{"type", "flatten"}}, linear(in[0] * in[1] * in[2], 256), relu(), linear(256, 10)});
}

const std::map<std::string, json (*)(const Shape&)>& zoo() {
  static const std::map<std::string, json (*)(const Shape&)> z = {
      {"small-cnn", small_cnn}, {"small-cnn-bn", small_cnn_bn}, {"mlp", mlp}};
  return z;
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (auto& [k, v] : zoo()) names.push_back(k);
  return names;
}

json expand_model(const std::string& name_or_json, const Shape& input) {
  auto it = zoo().find(name_or_json);
  if (it != zoo().end()) return it->second(input);
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
                    " or a JSON list of layers");
}

}  // namespace rampart
