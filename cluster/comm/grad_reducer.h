// Sums gradients over ranks bucket by bucket while backward still runs:
// each bucket's all-reduce starts as soon as its last layer reports ready.
//   GradReducer red(comm, model.flat_grads(), ranges, 25 << 20);
//   red.begin_step();
//   model.backward(dlogits, false, true, [&](int l) { red.on_grad_ready(l); });
//   red.finish(1.0f);   // grads now hold the sum over ranks (times scale)
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "cluster/comm/bucketing.h"
#include "cluster/comm/communicator.h"

namespace rampart {

class GradReducer {
 public:
  // flat_grads: the model's flat gradient buffer; layer_ranges: per layer, in
  // forward order, its element range there (Model::layer_param_range).
  GradReducer(Communicator& comm, float* flat_grads, std::vector<std::pair<int64_t, int64_t>> layer_ranges,
              int64_t bucket_bytes);
  ~GradReducer();  // waits for requests still in flight (the buffer outlives them)

  void begin_step();
  // Layer `layer`'s gradients are final. Starts every bucket that is now
  // complete, in bucket order (the same order on every rank, which MPI needs),
  // and polls those in flight so they progress. Cheap; parameterless layers are ignored.
  void on_grad_ready(int layer);
  // Starts the buckets still waiting (layers that never reported), waits for
  // all, and multiplies the gradients by scale (skipped when scale == 1).
  void finish(float scale);

  struct Stats {
    double allreduce_s_total = 0;  // sum over buckets of start to observed completion
    double exposed_wait_s = 0;     // time finish() spent starting and waiting: not hidden
    double bytes = 0;              // bytes all-reduced this step (per rank)
    int buckets = 0;
  };
  // Of the last finished step. Completion is observed when test() is polled
  // (each on_grad_ready and in finish), so totals are upper bounds.
  Stats last_stats() const { return stats_; }
  const std::vector<Bucket>& buckets() const { return buckets_; }

 private:
  using Clock = std::chrono::steady_clock;
  void start_ready_buckets();
  void poll();

  Communicator& comm_;
  float* grads_;
  std::vector<Bucket> buckets_;
  std::vector<int> bucket_of_layer_;  // -1 for parameterless layers
  std::vector<int> pending_;          // layers still to report, per bucket
  std::vector<char> reported_;        // per layer, this step
  std::vector<std::unique_ptr<CommRequest>> requests_;
  std::vector<Clock::time_point> started_;
  std::vector<char> done_;
  size_t next_to_start_ = 0;
  size_t first_unfinished_ = 0;
  bool active_ = false;  // a world of more than one rank
  Stats stats_, current_;
};

}  // namespace rampart
