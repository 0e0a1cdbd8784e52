// What changed between the configuration a checkpoint was written with and the one a --resume
// runs with (both as "key = value" lines, launch/options.h resolved_config). Some settings give
// the step counter and the data order their meaning: resuming with another value would skip or
// repeat data without a word, so they must match. The rest may change (a lower --lr after a
// divergence, more --epochs) and are reported, never silently taken.
#pragma once
#include <string>
#include <vector>

namespace rampart {

struct ConfigChange {
  std::string key, before, now;
  bool must_match = false;  // batch, limit, seed, model, val-split: refused on --resume
};

// Changed keys, in key order; keys that cannot matter (resume, out, json, threads, logging,
// timeouts, the communicator) are left out. A key absent on one side counts as a change.
std::vector<ConfigChange> config_changes(const std::string& checkpoint_config, const std::string& current_config);

// Throws ConfigError (78) naming every must-match key that differs, with both values and the way
// out; returns one line listing the other changes ("" when none).
std::string check_resume_config(const std::string& checkpoint_config, const std::string& current_config,
                                const std::string& checkpoint_path);

}  // namespace rampart
