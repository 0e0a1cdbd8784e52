// Budget validation (ConfigError with expected / found / how to fix) and the conversion
// of money, GPU-hours and wall time into one wall-clock allowance.
#include "cluster/schedule/budget.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "runtime/errors.h"

namespace rampart {

namespace {

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void check_positive(const std::optional<double>& v, const char* flag, const char* unit, const char* example) {
  if (!v) return;
  if (!std::isfinite(*v) || *v <= 0)
    throw ConfigError(std::string(flag) + " must be a positive number of " + unit + ", found " + num(*v) +
                      "; give e.g. " + flag + " " + example);
}

}  // namespace

std::optional<Price> make_price(std::optional<double> per_gpu_hour, std::optional<double> per_node_hour,
                                std::optional<int> gpus_per_node) {
  if (per_gpu_hour && per_node_hour)
    throw ConfigError("expected one price, found both --price-per-gpu-hour " + num(*per_gpu_hour) +
                      " and --price-per-node-hour " + num(*per_node_hour) + "; give only one of them");
  check_positive(per_gpu_hour, "--price-per-gpu-hour", "US dollars", "2.5");
  check_positive(per_node_hour, "--price-per-node-hour", "US dollars", "20");
  if (gpus_per_node && *gpus_per_node <= 0)
    throw ConfigError("--gpus-per-node must be a positive integer, found " + std::to_string(*gpus_per_node) +
                      "; give e.g. --gpus-per-node 8");
  if (per_gpu_hour) return Price::per_gpu_hour(*per_gpu_hour);
  if (per_node_hour) {
    if (!gpus_per_node)
      throw ConfigError("--price-per-node-hour needs --gpus-per-node (GPUs, or ranks, per node), found none; "
                        "give e.g. --gpus-per-node 8");
    return Price::per_node_hour(*per_node_hour, *gpus_per_node);
  }
  return std::nullopt;
}

void validate(const Budget& b, const std::optional<Price>& price) {
  check_positive(b.usd, "--budget-usd", "US dollars", "20");
  check_positive(b.gpu_hours, "--budget-gpu-hours", "GPU-hours", "8");
  check_positive(b.hours, "--budget-hours", "hours of wall time", "2");
  if (price) {
    if (!std::isfinite(price->amount_usd) || price->amount_usd <= 0)
      throw ConfigError(std::string(price->kind == Price::kPerGpuHour ? "--price-per-gpu-hour" : "--price-per-node-hour") +
                        " must be a positive number of US dollars, found " + num(price->amount_usd) +
                        "; give e.g. 2.5");
    if (price->kind == Price::kPerNodeHour && price->gpus_per_node <= 0)
      throw ConfigError("--gpus-per-node must be a positive integer, found " + std::to_string(price->gpus_per_node) +
                        "; give e.g. --gpus-per-node 8");
  }
  if (b.usd && !price)
    throw ConfigError("--budget-usd needs a price: give --price-per-gpu-hour or --price-per-node-hour with "
                      "--gpus-per-node");
}

double wall_seconds_allowed(const Budget& b, const Spend& spent, int world, const std::optional<Price>& price) {
  double allowed = std::numeric_limits<double>::infinity();
  const double ranks = std::max(1, world);
  if (b.hours) allowed = std::min(allowed, *b.hours * 3600.0 - spent.wall_s);
  if (b.gpu_hours) allowed = std::min(allowed, (*b.gpu_hours - spent.gpu_hours) * 3600.0 / ranks);
  if (b.usd && price) {
    const double usd_per_s = price->usd_per_gpu_hour() * ranks / 3600.0;
    allowed = std::min(allowed, (*b.usd - spent.usd) / usd_per_s);
  }
  return allowed;
}

double reserve_wall_s(const Reserve& r, const CostModel& cost, int world) {
  const double write_s = cost.checkpoint_write_s() > 0 ? cost.checkpoint_write_s() : r.checkpoint_s;
  return r.final_eval_images * cost.eval_s_per_image() / std::max(1, world) + write_s;
}

Spend spend_of(double wall_s, int world, const std::optional<Price>& price) {
  const EpochCost c = cost_of_wall(wall_s, world, price);
  return Spend{c.usd, c.gpu_hours, c.wall_s};
}

Spend operator+(const Spend& a, const Spend& b) {
  return Spend{a.usd + b.usd, a.gpu_hours + b.gpu_hours, a.wall_s + b.wall_s};
}

bool within(const Spend& s, const Budget& b) {
  const double tol = 1 + 1e-9;
  if (b.usd && s.usd > *b.usd * tol) return false;
  if (b.gpu_hours && s.gpu_hours > *b.gpu_hours * tol) return false;
  if (b.hours && s.wall_s > *b.hours * 3600.0 * tol) return false;
  return true;
}

nlohmann::json to_json(const Budget& b) {
  auto opt = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  return {{"usd", opt(b.usd)}, {"gpu_hours", opt(b.gpu_hours)}, {"hours", opt(b.hours)}};
}

nlohmann::json to_json(const Spend& s) {
  return {{"usd", s.usd}, {"gpu_hours", s.gpu_hours}, {"wall_s", s.wall_s}};
}

Spend spend_from_json(const nlohmann::json& j) {
  return Spend{j.value("usd", 0.0), j.value("gpu_hours", 0.0), j.value("wall_s", 0.0)};
}

}  // namespace rampart
