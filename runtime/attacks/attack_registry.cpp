// The attack names and their recipes (see attack_registry.h): a new attack is one line here.
#include "runtime/attacks/attack_registry.h"

#include "kernels/dispatch/ops.h"

#include "runtime/errors.h"

namespace rampart {
namespace {

// With eps 0 (the clean point) any step > 0 leaves x where it is; validate() wants alpha > 0.
float tied_step(float eps, float factor) { return eps > 0 ? factor * eps : 1e-12f; }

AttackConfig recipe(const char* name, Norm norm, bool random_start, float alpha, int steps, int restarts,
                    const AttackParams& p) {
  AttackConfig c;
  c.name = name;
  c.norm = norm;
  c.eps = p.eps;
  c.alpha = alpha;
  c.steps = steps;
  c.restarts = restarts;
  c.random_start = random_start;
  c.early_stop_tau = p.early_stop_tau;
  c.objective = "ce";
  return c;
}

// AutoAttack's searches (search_attacks.h), with the 'standard' version's settings: 100
// iterations for APGD and FAB, 9 target classes, 5000 Square queries, one restart (APGD-CE and
// APGD-DLR alone take --restarts).
AttackConfig search(const char* name, Method method, const char* loss, int targets, int restarts,
                    const AttackParams& p) {
  AttackConfig c = recipe(name, p.norm, true, 2 * p.eps > 0 ? 2 * p.eps : 1e-12f, 100, restarts, p);
  c.method = method;
  c.objective = loss;
  c.targets = targets;
  c.queries = 5000;
  c.early_stop_tau = -1;
  return c;
}

struct AttackKind {
  const char* name;
  bool single_step;
  AttackConfig (*build)(const AttackParams&);
  bool eval_only = false;
};

// Order: that of the error messages and --help texts.
const std::vector<AttackKind>& registry() {
  static const std::vector<AttackKind> r = {
      {"pgd", false,
       [](const AttackParams& p) { return recipe("pgd", Norm::kLinf, true, p.alpha, p.steps, p.restarts, p); }},
      {"fgsm", true,
       [](const AttackParams& p) { return recipe("fgsm", Norm::kLinf, false, tied_step(p.eps, 1.f), 1, 1, p); }},
      {"fgsm-rs", true,  // Wong et al.: the random start needs the longer step
       [](const AttackParams& p) { return recipe("fgsm-rs", Norm::kLinf, true, tied_step(p.eps, 1.25f), 1, 1, p); }},
      {"pgd-l2", false,
       [](const AttackParams& p) { return recipe("pgd-l2", Norm::kL2, true, p.alpha, p.steps, p.restarts, p); }},
      {"apgd-ce", false,
       [](const AttackParams& p) { return search("apgd-ce", Method::kApgd, "ce", 0, p.restarts, p); }, true},
      {"apgd-dlr", false,
       [](const AttackParams& p) { return search("apgd-dlr", Method::kApgd, "dlr", 0, p.restarts, p); }, true},
      {"apgd-t", false, [](const AttackParams& p) { return search("apgd-t", Method::kApgd, "dlr", 9, 1, p); }, true},
      {"fab-t", false, [](const AttackParams& p) { return search("fab-t", Method::kFab, "ce", 9, 1, p); }, true},
      {"square", false, [](const AttackParams& p) { return search("square", Method::kSquare, "ce", 0, 1, p); }, true},
  };
  return r;
}

// Words that stand for several attacks, in the order they run (the last is the robust one).
struct Alias {
  const char* word;
  std::vector<std::string> names;
};
const Alias kAll = {"all", {"fgsm", "pgd"}};
// AutoAttack 'standard' (Croce & Hein 2020): each attack only on the examples still robust.
const Alias kAutoAttack = {"autoattack", {"apgd-ce", "apgd-t", "fab-t", "square"}};

const AttackKind* find(const std::string& name) {
  for (const auto& k : registry())
    if (name == k.name) return &k;
  return nullptr;
}

std::string known_words(AttackWords accepted) {
  std::vector<std::string> words;
  for (const auto& k : registry())
    if (!k.eval_only || accepted != AttackWords::kNamesOrNone) words.push_back(k.name);
  if (accepted == AttackWords::kNamesNoneOrAll) words.push_back(kAutoAttack.word);
  if (accepted != AttackWords::kNames) words.push_back("none");
  if (accepted == AttackWords::kNamesNoneOrAll) words.push_back(kAll.word);
  std::string s;
  for (size_t i = 0; i < words.size(); ++i)
    s += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + words[i];
  return s;
}

}  // namespace

std::vector<std::string> attack_names() {
  std::vector<std::string> names;
  for (const auto& k : registry()) names.push_back(k.name);
  return names;
}

std::vector<AttackConfig> parse_attacks(const std::string& word, const AttackParams& p, AttackWords accepted) {
  if (const AttackKind* k = find(word)) {
    if (k->eval_only && accepted == AttackWords::kNamesOrNone)
      throw ConfigError("attack: " + word + " is an evaluation attack (rampart eval --attack " + word +
                        "); training takes " + known_words(accepted));
    return {k->build(p)};
  }
  if (word == "none" && accepted != AttackWords::kNames) return {};
  if (word == kAutoAttack.word && accepted == AttackWords::kNamesNoneOrAll) {
    std::vector<AttackConfig> chain;
    for (const auto& n : kAutoAttack.names) {
      AttackConfig c = find(n)->build(p);
      c.slot = int(chain.size());
      c.chained = !chain.empty();
      chain.push_back(c);
    }
    return chain;
  }
  if (word == kAll.word && accepted == AttackWords::kNamesNoneOrAll) {
    std::vector<AttackConfig> all;
    for (const auto& n : kAll.names) all.push_back(find(n)->build(p));
    return all;
  }
  throw ConfigError("attack: expected " + known_words(accepted) + ", found \"" + word + "\"");
}

AttackConfig make_attack(const std::string& name, const AttackParams& p) {
  return parse_attacks(name, p, AttackWords::kNames).front();
}

bool is_single_step_attack(const std::string& name) {
  const AttackKind* k = find(name);
  return k && k->single_step;
}

AttackConfig fgsm_config(float eps) { return make_attack("fgsm", {eps}); }
AttackConfig fgsm_rs_config(float eps) { return make_attack("fgsm-rs", {eps}); }
AttackConfig pgd_config(float eps, float alpha, int steps, int restarts) {
  return make_attack("pgd", {eps, alpha, steps, restarts});
}

void check_attack_on(Device d, const AttackConfig& a) {
  if (a.method != Method::kPgd) {
    if (d != Device::kCpu)
      throw ConfigError("attack " + a.name + ": expected --device cpu, found --device " + device_name(d) +
                        " (AutoAttack's searches run on the CPU only so far); use --device cpu");
    return;
  }
  std::vector<std::string> ops_used = {"softmax_xent"};
  if (a.random_start) ops_used.push_back(a.norm == Norm::kLinf ? "random_start_linf" : "random_start_l2");
  ops_used.push_back(a.norm == Norm::kLinf ? "pgd_linf_step" : "pgd_l2_step");
  if (a.keep_best) ops_used.push_back("keep_best");
  if (a.early_stop_tau >= 0) ops_used.push_back("zero_masked_rows");
  for (const std::string& op : ops_used) {
    const std::string why = ops::gap(d, op);
    if (!why.empty())
      throw ConfigError("attack " + a.name + ": expected kernels for --device " + device_name(d) + ", found none for " +
                        op + " (" + why + "); use --device cpu or another attack");
  }
}

}  // namespace rampart
