// make_layer: the one place that maps a spec's "type" to a layer class.
#include <string>
#include <utility>

#include "runtime/errors.h"
#include "runtime/layers/avgpool2d.h"
#include "runtime/layers/batchnorm2d.h"
#include "runtime/layers/conv2d.h"
#include "runtime/layers/flatten.h"
#include "runtime/layers/layer.h"
#include "runtime/layers/linear.h"
#include "runtime/layers/maxpool2d.h"
#include "runtime/layers/normalize.h"
#include "runtime/layers/relu.h"
#include "runtime/layers/spec_fields.h"

namespace rampart {

namespace {

using Factory = std::unique_ptr<Layer> (*)(const nlohmann::json&, int);

constexpr std::pair<const char*, Factory> kLayerTypes[] = {
    {"conv2d", &Conv2d::from_spec},       {"linear", &Linear::from_spec},
    {"relu", &Relu::from_spec},           {"maxpool2d", &MaxPool2d::from_spec},
    {"avgpool2d", &AvgPool2d::from_spec}, {"flatten", &Flatten::from_spec},
    {"batchnorm2d", &BatchNorm2d::from_spec}, {"normalize", &Normalize::from_spec},
};

std::string type_list() {
  std::string s;
  for (auto& [name, f] : kLayerTypes) s += std::string(s.empty() ? "" : ", ") + name;
  return s;
}

}  // namespace

std::unique_ptr<Layer> make_layer(const nlohmann::json& spec, int index) {
  std::string where = "layer " + std::to_string(index) + ": ";
  if (!spec.is_object())
    throw ConfigError(where + "expected a JSON object such as {\"type\": \"relu\"}, found " + json_brief(spec));
  if (!spec.contains("type"))
    throw ConfigError(where + "missing field \"type\"; expected one of " + type_list() + ", found " +
                      json_brief(spec));
  const auto& t = spec["type"];
  if (!t.is_string())
    throw ConfigError(where + "\"type\" must be a string, one of " + type_list() + "; found " + json_brief(t));
  std::string type = t.get<std::string>();
  for (auto& [name, factory] : kLayerTypes)
    if (type == name) return factory(spec, index);
  throw ConfigError(where + "unknown layer type \"" + type + "\"; expected one of " + type_list());
}

}  // namespace rampart
