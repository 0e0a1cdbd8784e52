// Evaluation of a test set split across ranks (see distributed_eval.h).
#include "cluster/train/distributed_eval.h"

#include <algorithm>

#include "cluster/train/trainer.h"
#include "runtime/data/sampler.h"
#include "runtime/errors.h"

namespace rampart {

EvalCounts evaluate_shard_with(const AddEvalBatch& add, const EvalCounts& counts, const Dataset& set, int64_t n,
                               int64_t batch, Communicator& comm) {
  return evaluate_rows_with(add, counts, set, 0, n, batch, comm, /*stoppable=*/true);
}

EvalCounts evaluate_rows_with(const AddEvalBatch& add, const EvalCounts& counts, const Dataset& set, int64_t first,
                              int64_t last, int64_t batch, Communicator& comm, bool stoppable, int64_t max_batch) {
  const int rank = comm.rank(), world = comm.size();
  auto [begin, end] = rank_slice(first, last, rank, world);  // a contiguous shard of the rows
  const int64_t C = set.channels(), H = set.height(), W = set.width(), img = C * H * W;
  std::vector<uint8_t> images;
  std::vector<int32_t> labels;
  Tensor x;
  const int64_t eb = std::max<int64_t>(1, std::min<int64_t>(batch, max_batch));
  // A stop signal is honoured between batches, by every rank at the same batch: each rank walks
  // as many batches as the longest shard has (its own, then empty ones) and the ranks agree on
  // the stop at each, so nobody is left waiting in a collective.
  double iterations = double((end - begin + eb - 1) / eb);
  if (world > 1) comm.allreduce_max(&iterations, 1);
  for (int64_t i = 0, b = begin; i < int64_t(iterations); ++i, b += eb) {
    double stop = stoppable && stop_requested().load() ? 1.0 : 0.0;
    if (stoppable && world > 1) comm.allreduce_max(&stop, 1);
    if (stop > 0) throw Interrupted("stopped by a signal during the evaluation (after batch " + std::to_string(i) +
                                    " of " + std::to_string(int64_t(iterations)) + ")");
    if (b >= end) continue;
    const int64_t m = std::min(eb, end - b);
    images.resize(m * img);
    labels.resize(m);
    set.read_range(b, b + m, images.data(), labels.data());
    images_to_tensor(images.data(), m, C, H, W, x);
    add(x, labels.data(), b - first);
  }
  std::vector<double> packed = counts.pack();
  comm.allreduce_sum(packed.data(), int64_t(packed.size()));
  EvalCounts total;
  total.unpack(packed);
  return total;
}

EvalCounts evaluate_shard(Model& model, const Dataset& set, int64_t n, const std::vector<AttackConfig>& attacks,
                          uint64_t seed, int64_t batch, Communicator& comm, ExampleResults* examples) {
  Evaluator ev(attacks, seed);
  if (examples) ev.keep_examples();
  EvalCounts total = evaluate_shard_with(
      [&](const Tensor& x, const int32_t* labels, int64_t first) { ev.add(model, x, labels, first); }, ev.counts(), set,
      n, batch, comm);
  if (examples) {
    *examples = ExampleResults{};
    for (const std::string& part : comm.allgather(ev.examples().serialize())) examples->merge(part);
    examples->sort_by_index();
  }
  return total;
}

}  // namespace rampart
