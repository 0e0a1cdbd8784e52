// Budgets (money, GPU-hours, wall time), prices, the reserve kept for the final evaluation
// and checkpoint, and the conversion of all of them into one wall-clock allowance.
// At a fixed world size every unit is linear in wall time, so "fits the budget" is a
// single comparison in seconds.
#pragma once
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cluster/schedule/cost_model.h"

namespace rampart {

// Any subset may be given; all given limits hold at once. None given: unlimited.
struct Budget {
  std::optional<double> usd;        // --budget-usd
  std::optional<double> gpu_hours;  // --budget-gpu-hours (rank-hours on CPU ranks)
  std::optional<double> hours;      // --budget-hours (wall time)
  bool limited() const { return usd || gpu_hours || hours; }
};

// What has been spent so far (or what something costs).
struct Spend {
  double usd = 0;
  double gpu_hours = 0;
  double wall_s = 0;
};

// Kept back from the budget and never planned for training.
struct Reserve {
  double final_eval_images = 10000;  // evaluated once at the end, split over the ranks
  // Writing the final checkpoint when the cost model has not timed a write
  // (CostModel::checkpoint_write_s, used when it has).
  double checkpoint_s = 10;
  // Share of the allowance left unplanned to absorb prediction error (measured costs drift,
  // re-planning after each epoch corrects the rest).
  double safety_fraction = 0.05;
};

// Builds the price from the command-line values; nullopt when none is given.
// Throws ConfigError on a non-positive or non-finite price, on a node price without
// --gpus-per-node, or on both kinds of price at once.
std::optional<Price> make_price(std::optional<double> per_gpu_hour, std::optional<double> per_node_hour,
                                std::optional<int> gpus_per_node);

// Throws ConfigError (exit 78) when a limit is negative, zero or not finite, when a
// price is not positive, or when a budget in USD comes without a price.
void validate(const Budget& b, const std::optional<Price>& price);

// Wall seconds at `world` ranks that the budget still allows after `spent`
// (+infinity without limits; may be <= 0 when the budget is used up).
double wall_seconds_allowed(const Budget& b, const Spend& spent, int world, const std::optional<Price>& price);

// Predicted wall seconds of the reserve's final evaluation and checkpoint.
double reserve_wall_s(const Reserve& r, const CostModel& cost, int world);

Spend spend_of(double wall_s, int world, const std::optional<Price>& price);
Spend operator+(const Spend& a, const Spend& b);
// True when every given limit of b holds for s (with a relative tolerance of 1e-9).
bool within(const Spend& s, const Budget& b);

nlohmann::json to_json(const Budget& b);
nlohmann::json to_json(const Spend& s);
Spend spend_from_json(const nlohmann::json& j);

}  // namespace rampart
