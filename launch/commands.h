// The subcommands of the rampart executable. Each returns an exit code or throws
// a rampart::Error, which main() turns into a message and its exit code.
#pragma once
#include <string>
#include <vector>

namespace rampart {

int run_train(const std::vector<std::string>& args);
int run_eval(const std::vector<std::string>& args);
int run_data(const std::vector<std::string>& args);
int run_plan(const std::vector<std::string>& args);

// SIGTERM and SIGUSR1 ask training to checkpoint at the next step boundary and exit 75.
void install_stop_signals();

}  // namespace rampart
