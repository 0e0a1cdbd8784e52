// The attack loop without host synchronisation (see attack_loop.h).
#include "kernels/cuda/attack_loop.h"

#include <stdexcept>
#include <string>

#include "kernels/cuda/check.h"

namespace rampart::cuda {

AttackGraph::~AttackGraph() { reset(); }

void AttackGraph::reset() {
  if (exec_) cudaGraphExecDestroy(exec_);
  if (graph_) cudaGraphDestroy(graph_);
  exec_ = nullptr;
  graph_ = nullptr;
}

void AttackGraph::capture(cudaStream_t stream, const EnqueueStep& enqueue_step) {
  if (stream == nullptr)
    throw std::invalid_argument(
        "AttackGraph::capture: the legacy default stream cannot be captured; create a stream "
        "with cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)");
  reset();
  // Thread-local mode: other threads (NCCL's, the data loader's) keep working.
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    enqueue_step(stream);
  } catch (...) {
    cudaGraph_t partial = nullptr;
    cudaStreamEndCapture(stream, &partial);  // leave capture mode before rethrowing
    if (partial) cudaGraphDestroy(partial);
    cudaGetLastError();
    throw;
  }
  CUDA_CHECK(cudaStreamEndCapture(stream, &graph_));
  CUDA_CHECK(cudaGraphInstantiate(&exec_, graph_, 0));
}

void AttackGraph::replay(cudaStream_t stream, int times) {
  if (!exec_) throw std::logic_error("AttackGraph::replay before capture");
  if (times < 0) throw std::invalid_argument("AttackGraph::replay: times = " + std::to_string(times));
  for (int i = 0; i < times; ++i) CUDA_CHECK(cudaGraphLaunch(exec_, stream));
}

void run_attack_steps(int steps, cudaStream_t stream, const EnqueueStep& enqueue_step,
                      AttackGraph* graph) {
  if (steps < 0) throw std::invalid_argument("run_attack_steps: steps = " + std::to_string(steps));
  if (steps == 0) return;
  if (!graph) {
    for (int i = 0; i < steps; ++i) enqueue_step(stream);
    return;
  }
  if (!graph->captured()) graph->capture(stream, enqueue_step);
  graph->replay(stream, steps);
}

}  // namespace rampart::cuda
