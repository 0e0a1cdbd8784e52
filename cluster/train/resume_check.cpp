// Configuration changes across --resume (see resume_check.h).
#include "cluster/train/resume_check.h"

#include <map>
#include <set>
#include <sstream>

#include "runtime/errors.h"

namespace rampart {
namespace {

std::map<std::string, std::string> parse_lines(const std::string& text) {
  std::map<std::string, std::string> kv;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    kv[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return kv;
}

// The step counter indexes batches of `batch` images of the first `limit` images, in the order
// `seed` draws; the model's parameters are what the checkpoint holds.
// val-split holds images out of training (held_out.h).
const std::set<std::string> kMustMatch = {"batch", "limit", "seed", "model", "val-split"};
// Keys added after checkpoints were first written: absent from an older checkpoint's config, they
// read as the value the run then had.
const std::map<std::string, std::string> kAddedLater = {{"val-split", "0"}};
// Nothing the run computes depends on these.
const std::set<std::string> kIgnored = {"resume", "out", "json", "threads", "log-every", "log-level",
                                        "timeout", "backend", "help", "config"};

}  // namespace

std::vector<ConfigChange> config_changes(const std::string& checkpoint_config, const std::string& current_config) {
  const auto before = parse_lines(checkpoint_config), now = parse_lines(current_config);
  std::set<std::string> keys;
  for (auto& [k, v] : before) keys.insert(k);
  for (auto& [k, v] : now) keys.insert(k);
  std::vector<ConfigChange> out;
  for (const auto& k : keys) {
    if (kIgnored.count(k)) continue;
    auto b = before.find(k), n = now.find(k);
    const auto later = kAddedLater.find(k);
    const std::string bv = b != before.end() ? b->second : later != kAddedLater.end() ? later->second : "(not set)";
    const std::string nv = n == now.end() ? "(not set)" : n->second;
    if (bv != nv) out.push_back({k, bv, nv, kMustMatch.count(k) > 0});
  }
  return out;
}

std::string check_resume_config(const std::string& checkpoint_config, const std::string& current_config,
                                const std::string& checkpoint_path) {
  if (checkpoint_config.empty()) return "";  // written before checkpoints stored their config
  std::string refused, changed;
  for (const auto& c : config_changes(checkpoint_config, current_config)) {
    std::string& to = c.must_match ? refused : changed;
    to += (to.empty() ? "" : ", ") + c.key + " " + c.before + " -> " + c.now;
  }
  if (!refused.empty())
    throw ConfigError("--resume: " + checkpoint_path + " was written with other " + refused +
                      "; these fix which images each step trains on, so the resumed run would skip or repeat data. "
                      "Resume with the checkpoint's values, or start a new run with another --out");
  return changed.empty() ? "" : "resuming with changed settings: " + changed;
}

}  // namespace rampart
