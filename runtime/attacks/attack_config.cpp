// Range checks of an attack's recipe (see attack_config.h).
#include "runtime/attacks/attack_config.h"

#include <cmath>
#include <cstdio>

#include "runtime/errors.h"
#include "runtime/objectives/objective.h"

namespace rampart {

static std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

void validate(const AttackConfig& c, const std::string& where) {
  auto bad = [&](const std::string& what) { throw ConfigError(where + ": " + what); };
  if (!(c.eps >= 0) || !std::isfinite(c.eps)) bad("eps must be a number >= 0, found " + num(c.eps));
  if (c.steps < 1)
    bad("steps must be >= 1, found " + std::to_string(c.steps) +
        (where.find("training") != std::string::npos ? " (use --attack none for clean training)" : ""));
  if (!(c.alpha > 0) || !std::isfinite(c.alpha)) bad("step size must be > 0, found " + num(c.alpha));
  if (c.restarts < 1) bad("restarts must be >= 1, found " + std::to_string(c.restarts));
  if (c.norm == Norm::kLinf && c.eps > 1) bad("eps must be <= 1 for pixels in [0,1], found " + num(c.eps));
  if (c.method != Method::kPgd) {
    if (c.objective != "ce" && c.objective != "dlr") bad("expected the loss ce or dlr, found \"" + c.objective + "\"");
    if (c.targets < 0) bad("targets must be >= 0, found " + std::to_string(c.targets));
    if (c.queries < 1) bad("queries must be >= 1, found " + std::to_string(c.queries));
    return;
  }
  try {
    make_objective(c.objective);
  } catch (const ConfigError& e) {
    bad(e.what());
  }
}

}  // namespace rampart
