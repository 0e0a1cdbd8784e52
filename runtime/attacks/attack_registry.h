// The one table of attack names: each name is a recipe of parts (attack_config.h), and
// parse_attacks() is the one place a name becomes an AttackConfig, for every caller
// (rampart train, eval and plan, the training scheduler, the guard's probe, the final
// evaluation).
//
// Adding an attack touches:
//   - made of existing parts (a start, a norm's step rule and projection, an objective, the
//     stopping rules): 1 file, one line in attack_registry.cpp (plus its case in
//     tests/runtime/test_attacks.cpp);
//   - with a new part: that part's file as well: a new norm is a subclass in
//     runtime/attacks/threat_ball.cpp (and a Norm value in attack_types.h); a new loss is
//     runtime/objectives/<loss>.{h,cpp} plus one line in objective_registry.cpp; a new
//     stopping rule goes in runtime/attacks/stop_rules.{h,cpp} and the engine's loop
//     (runtime/attacks/attack.cpp).
// Every part runs on every device through kernels/dispatch/; a part whose kernel is missing on
// a device is refused, before the run, by check_attack_on() (the dispatch's gap).
#pragma once
#include <string>
#include <vector>

#include "kernels/common/device.h"
#include "runtime/attacks/attack_config.h"

namespace rampart {

// The numbers a caller has; each attack takes those it uses (FGSM: eps only, its step is
// tied to eps; PGD: all).
struct AttackParams {
  float eps = 0.1f;
  float alpha = 0.025f;  // step size of the multi-step attacks
  int steps = 7;
  int restarts = 1;
  int early_stop_tau = -1;
  Norm norm = Norm::kLinf;  // the threat model of AutoAttack's attacks (pgd-l2 is L2 PGD)
};

// What a caller accepts besides attack names: training takes "none" (clean training),
// evaluation "none" (clean accuracy only) and "all" (fgsm, then pgd).
enum class AttackWords { kNames, kNamesOrNone, kNamesNoneOrAll };

// The attacks `word` names, built from `p` (not yet validated: callers name the flags in
// their messages). "none" gives no attack. ConfigError
// `attack: expected pgd, fgsm, ...[, none][ or all], found "<word>"` otherwise.
// AutoAttack's attacks (apgd-ce, apgd-dlr, apgd-t, fab-t, square; "autoattack" for the
// standard chain of the four, each on the examples the earlier ones left robust) are
// evaluation attacks: accepted with kNames and kNamesNoneOrAll, refused for training.
std::vector<AttackConfig> parse_attacks(const std::string& word, const AttackParams& p, AttackWords accepted);
// The one attack `name` names (parse_attacks with kNames).
AttackConfig make_attack(const std::string& name, const AttackParams& p);

// ConfigError when an attack needs a kernel device d lacks (ops::gap), e.g. the L2 random
// start on CUDA, so that a run stops before it starts.
void check_attack_on(Device d, const AttackConfig& a);

// The attack names, in the registry's order.
std::vector<std::string> attack_names();
// True for attacks of one step whose size is tied to eps (fgsm, fgsm-rs): they take no
// --steps or --alpha. False for the others, "none" and unknown names.
bool is_single_step_attack(const std::string& name);

// Shorthands for make_attack, kept for the callers that build these by hand.
AttackConfig fgsm_config(float eps);     // FGSM without random start: one step of size eps
AttackConfig fgsm_rs_config(float eps);  // FGSM with random start (Wong et al. 2020): one step of 1.25 eps
AttackConfig pgd_config(float eps, float alpha, int steps, int restarts = 1);  // L-inf PGD, random start

}  // namespace rampart
