// Clean and robust accuracy of a model over batches, for any list of attacks.
// Robust means correct on the clean input and on the attacked one; for a chained attack
// (AutoAttack's, attack_config.h) correct under every attack of the chain so far. Accuracy and the clean
// loss are scored with cross-entropy, whatever objective the attacks climb.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/attacks/attack.h"
#include "runtime/model.h"
#include "runtime/objectives/objective.h"

namespace rampart {

struct EvalCounts {
  int64_t n = 0;
  int64_t clean_correct = 0;
  double clean_loss_sum = 0;
  std::vector<int64_t> robust_correct;  // one per attack, in the order given
  // Flattened for an all-reduce: [n, clean_correct, clean_loss_sum, robust...].
  std::vector<double> pack() const;
  void unpack(const std::vector<double>& v);
};

// What the evaluation found for each example, kept when asked (Evaluator::keep_examples):
// its index in the evaluated set, its clean logits, whether it is classified correctly
// clean, and whether it stays correct under each attack (robust: correct clean and attacked).
struct ExampleResults {
  int64_t classes = 0;
  std::vector<int64_t> index;
  std::vector<float> logits;                         // [n, classes], the clean input's
  std::vector<uint8_t> clean_correct;                // [n]
  std::vector<std::vector<uint8_t>> robust_correct;  // per attack, [n]
  int64_t size() const { return int64_t(index.size()); }
  // For a gather over ranks: bytes of this object, read back by merge(); merge appends.
  std::string serialize() const;
  void merge(const std::string& bytes);
  // Rows in order of index (after merging the ranks' parts).
  void sort_by_index();
};

class Evaluator {
 public:
  Evaluator(std::vector<AttackConfig> attacks, uint64_t seed);
  // x: [N, C, H, W] in [0,1]; labels [N] (both on the host or both on the model's
  // device: a host batch is copied across); first_example: index of x[0] in the
  // whole evaluation set (keys the random starts, so any split gives the same answer).
  void add(Model& model, const Tensor& x, const int32_t* labels, int64_t first_example);
  const std::vector<AttackConfig>& attacks() const { return attacks_; }
  EvalCounts& counts() { return counts_; }
  // Keep per-example results from now on (their cost: the logits' copy to the host).
  void keep_examples() { keep_ = true; }
  ExampleResults& examples() { return examples_; }

 private:
  void search(Model& model, const Tensor& x, const int32_t* labels, int64_t first_example, const AttackConfig& cfg,
              const uint8_t* candidate, std::vector<uint8_t>& robust);

  std::vector<AttackConfig> attacks_;
  uint64_t seed_;
  EvalCounts counts_;
  bool keep_ = false;
  ExampleResults examples_;
  std::unique_ptr<Objective> score_;  // "ce": the reported clean loss and correctness
  Attacker attacker_;
  // On the model's device: the batch (when it came from the host), the attack's
  // output and the per-example scores; the host copies of the scores off the CPU.
  Tensor x_dev_, x_adv_, loss_, x_search_;
  Buffer<int32_t> labels_dev_;
  Buffer<uint8_t> clean_ok_, adv_ok_;
  std::vector<uint8_t> clean_host_, adv_host_;
};

// The result as JSON: n, clean_accuracy, <name>_accuracy per attack, robust_accuracy
// (the strongest, i.e. last, attack), and a warning string when FGSM accuracy is far
// above PGD accuracy, or PGD above FGSM (both signs of gradient masking).
nlohmann::json eval_report(const EvalCounts& c, const std::vector<AttackConfig>& attacks);

// The gradient-masking warning for an FGSM and a PGD accuracy, or "" when none.
std::string masking_warning(double fgsm_acc, double pgd_acc);

}  // namespace rampart
