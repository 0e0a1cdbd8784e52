// The one table of loss names (see objective.h): a new loss is one line here.
#include <functional>

#include "runtime/errors.h"
#include "runtime/objectives/cross_entropy.h"
#include "runtime/objectives/objective.h"
#include "runtime/objectives/pair_losses.h"

namespace rampart {
namespace {

using kernels::PairLossKind;
using kernels::PairLossParams;

struct Entry {
  const char* name;
  std::function<std::unique_ptr<Objective>(const ObjectiveParams&)> make;
};

const std::vector<Entry>& registry() {
  static const std::vector<Entry> r = {
      {"ce", [](const ObjectiveParams&) { return std::make_unique<CrossEntropy>(); }},
      {"trades", [](const ObjectiveParams& p) {
         return std::make_unique<PairLoss>("trades", PairLossParams{PairLossKind::kTrades, float(p.beta), 1.0f});
       }},
      {"trades-kl", [](const ObjectiveParams&) {
         return std::make_unique<PairLoss>("trades-kl", PairLossParams{PairLossKind::kTrades, 1.0f, 0.0f});
       }},
      {"mart", [](const ObjectiveParams& p) {
         return std::make_unique<PairLoss>("mart", PairLossParams{PairLossKind::kMart, float(p.beta), 0.0f});
       }},
  };
  return r;
}

}  // namespace

std::vector<std::string> objective_names() {
  std::vector<std::string> names;
  for (const auto& e : registry()) names.push_back(e.name);
  return names;
}

std::unique_ptr<Objective> make_objective(const std::string& name, const ObjectiveParams& params) {
  if (!(params.beta >= 0 && params.beta <= 1e6))
    throw ConfigError("objective " + name + ": expected beta in [0, 1e6], found " + std::to_string(params.beta));
  for (const auto& e : registry())
    if (name == e.name) return e.make(params);
  std::string known;
  for (const auto& n : objective_names()) known += (known.empty() ? "" : ", ") + n;
  throw ConfigError("objective: expected " + known + ", found \"" + name + "\"");
}

}  // namespace rampart
