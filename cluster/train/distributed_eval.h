// Clean and robust evaluation of a dataset split across ranks.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "cluster/comm/communicator.h"
#include "runtime/attacks/attack.h"
#include "runtime/data/dataset.h"
#include "runtime/evaluate.h"
#include "runtime/model.h"

namespace rampart {

// Evaluates the first n images of `set`: each rank its contiguous shard, counts
// summed over ranks (every rank gets the totals). Random starts are keyed by the
// image index, so the answer does not depend on the number of ranks, example by example.
// With `examples`, every rank also gets every example's results, in order of index.
EvalCounts evaluate_shard(Model& model, const Dataset& set, int64_t n, const std::vector<AttackConfig>& attacks,
                          uint64_t seed, int64_t batch, Communicator& comm, ExampleResults* examples = nullptr);

// The same walk for any evaluator (a GPU one, say): add(x, labels, first_example) is
// called for each batch of this rank's shard (x: [m, C, H, W] in [0,1]; first_example:
// the index of x[0] in the set); then `counts` (what the adds produced on this rank)
// is summed over ranks and returned.
using AddEvalBatch = std::function<void(const Tensor& x, const int32_t* labels, int64_t first_example)>;
EvalCounts evaluate_shard_with(const AddEvalBatch& add, const EvalCounts& counts, const Dataset& set, int64_t n,
                               int64_t batch, Communicator& comm);

}  // namespace rampart
