// The scheduler's options, shared by `rampart train` and `rampart plan` (same names, same INI
// keys): plan accepts every train option, so one config file serves both.
#pragma once
#include "cluster/train/trainer.h"
#include "launch/options.h"

namespace rampart {

// Defined in train_command.cpp.
po::options_description train_options();
TrainConfig train_config(const po::variables_map& vm);

// --schedule, budgets, prices, --max-steps-k, --probe-every, network -> cfg; ConfigError (78)
// with a one-line message for invalid values.
void set_schedule_options(const po::variables_map& vm, TrainConfig& cfg);

}  // namespace rampart
