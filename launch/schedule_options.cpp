// Scheduler options -> TrainConfig (see schedule_options.h).
#include "launch/schedule_options.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <optional>

#include "cluster/schedule/schedule_policy.h"
#include "cluster/schedule/train_schedule.h"
#include "runtime/errors.h"

namespace rampart {

namespace {
std::string num(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

template <class T>
std::optional<T> opt(const po::variables_map& vm, const char* name) {
  if (!vm.count(name)) return std::nullopt;
  return vm[name].as<T>();
}
}  // namespace

void set_schedule_options(const po::variables_map& vm, TrainConfig& c) {
  if (vm.count("schedule")) {
    c.schedule = vm["schedule"].as<std::string>();
  }
  c.budget.usd = opt<double>(vm, "budget-usd");
  c.budget.gpu_hours = opt<double>(vm, "budget-gpu-hours");
  c.budget.hours = opt<double>(vm, "budget-hours");
  c.price = make_price(opt<double>(vm, "price-per-gpu-hour"), opt<double>(vm, "price-per-node-hour"),
                       opt<int>(vm, "gpus-per-node"));
  c.max_k = vm["max-steps-k"].as<int>();
  c.probe_every = vm["probe-every"].as<int64_t>();
  const auto bw = opt<double>(vm, "network-busbw-gbs");
  const auto lat = opt<double>(vm, "network-latency-us");
  if (bw && !(*bw > 0 && std::isfinite(*bw)))
    throw ConfigError("--network-busbw-gbs must be a positive number of GB/s, found " + num(*bw) +
                      "; give e.g. --network-busbw-gbs 100");
  if (lat && !(*lat >= 0 && std::isfinite(*lat)))
    throw ConfigError("--network-latency-us must be >= 0 microseconds, found " + num(*lat) +
                      "; give e.g. --network-latency-us 10");
  if (bw || lat) c.network = network_from_bus_bandwidth(bw.value_or(0), lat.value_or(0) * 1e-6);
  // The schedule's options are checked with the rest of the configuration (train_config.h).
}

}  // namespace rampart
