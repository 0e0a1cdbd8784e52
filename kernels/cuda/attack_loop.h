// Runs the K steps of an attack without a host synchronisation between them:
// either plain launches in a loop, or one step captured once as a CUDA graph and
// replayed K times (one launch per step instead of one per kernel). The step
// itself (forward, backward to the input, PGD step) is the caller's: a function
// that enqueues it on the given stream. bench_cuda_pgd measures both ways.
#pragma once
#include <cuda_runtime.h>

#include <functional>

namespace rampart::cuda {

using EnqueueStep = std::function<void(cudaStream_t)>;

// One captured attack step. Everything the step touches (buffers, cuDNN plans
// and workspaces, alpha and eps) must stay where it was at capture: a replay
// re-runs the same kernels on the same pointers with the same arguments.
class AttackGraph {
 public:
  AttackGraph() = default;
  ~AttackGraph();
  AttackGraph(const AttackGraph&) = delete;
  AttackGraph& operator=(const AttackGraph&) = delete;

  // Records enqueue_step(stream) into a graph; nothing runs. stream must not be
  // the legacy default stream (it cannot be captured), and the step must not
  // synchronise, allocate or copy to pageable host memory. Throws on failure,
  // leaving the stream out of capture mode.
  void capture(cudaStream_t stream, const EnqueueStep& enqueue_step);
  bool captured() const { return exec_ != nullptr; }
  // Enqueues the captured step `times` times on stream; returns without waiting.
  void replay(cudaStream_t stream, int times);

 private:
  void reset();
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

// Enqueues `steps` attack steps on stream and returns without waiting for them:
// by replaying graph when it is given (capturing it first if needed), else by
// calling enqueue_step `steps` times.
void run_attack_steps(int steps, cudaStream_t stream, const EnqueueStep& enqueue_step,
                      AttackGraph* graph);

}  // namespace rampart::cuda
