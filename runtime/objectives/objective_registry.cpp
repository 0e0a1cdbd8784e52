// The one table of loss names (see objective.h): a new loss is one line here.
#include <functional>

#include "runtime/errors.h"
#include "runtime/objectives/cross_entropy.h"
#include "runtime/objectives/objective.h"

namespace rampart {
namespace {

struct Entry {
  const char* name;
  std::function<std::unique_ptr<Objective>()> make;
};

const std::vector<Entry>& registry() {
  static const std::vector<Entry> r = {
      {"ce", [] { return std::make_unique<CrossEntropy>(); }},
  };
  return r;
}

}  // namespace

std::vector<std::string> objective_names() {
  std::vector<std::string> names;
  for (const auto& e : registry()) names.push_back(e.name);
  return names;
}

std::unique_ptr<Objective> make_objective(const std::string& name) {
  for (const auto& e : registry())
    if (name == e.name) return e.make();
  std::string known;
  for (const auto& n : objective_names()) known += (known.empty() ? "" : ", ") + n;
  throw ConfigError("objective: expected " + known + ", found \"" + name + "\"");
}

}  // namespace rampart
