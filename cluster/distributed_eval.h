// Clean and robust evaluation of a dataset split across ranks.
#pragma once
#include <cstdint>
#include <vector>

#include "cluster/communicator.h"
#include "runtime/attacks/attack.h"
#include "runtime/data/dataset.h"
#include "runtime/evaluate.h"
#include "runtime/model.h"

namespace rampart {

// Evaluates the first n images of `set`: each rank its contiguous shard, counts
// summed over ranks (every rank gets the totals). Random starts are keyed by the
// image index, so the answer does not depend on the number of ranks.
EvalCounts evaluate_shard(Model& model, const Dataset& set, int64_t n, const std::vector<AttackConfig>& attacks,
                          uint64_t seed, int64_t batch, Communicator& comm);

}  // namespace rampart
