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

// The same walk over rows [first, last) of `set` (the training rows held out at its end, say):
// first_example counts from `first`, so that random starts are keyed by the row's place among
// those rows, whatever the number of ranks. Batches of at most min(batch, max_batch) rows.
// stoppable: a stop signal ends the walk with Interrupted (every rank at the same batch), as
// evaluate_shard_with does; otherwise the walk never looks at it (and costs no collective per
// batch), and the caller honours the signal where it can checkpoint.
EvalCounts evaluate_rows_with(const AddEvalBatch& add, const EvalCounts& counts, const Dataset& set, int64_t first,
                              int64_t last, int64_t batch, Communicator& comm, bool stoppable,
                              int64_t max_batch = 256);

}  // namespace rampart
