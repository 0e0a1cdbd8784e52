// Per-device stream and library handles (see context.h).
#include "kernels/cuda/context.h"

#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/check.h"

namespace rampart::cuda {

Context::Context(int device, bool allow_tf32) : device_(device) {
  int previous = 0;
  CUDA_CHECK(cudaGetDevice(&previous));
  CUDA_CHECK(cudaSetDevice(device));
  // Non-blocking: the legacy default stream (used by unaware libraries) does not
  // serialise with this one.
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  conv_ = std::make_unique<CudnnConv>(allow_tf32);
  linear_ = std::make_unique<CublasLinear>(allow_tf32);
  CUDNN_CHECK(cudnnSetStream(cudnn(), stream_));
  CUBLAS_CHECK(cublasSetStream(cublas(), stream_));
  CUDA_CHECK(cudaSetDevice(previous));
}

Context::~Context() {
  if (stream_) cudaStreamSynchronize(stream_);
  conv_.reset();    // cudnnDestroy while its stream still exists
  linear_.reset();  // cublasDestroy likewise (it may free its workspace stream-ordered)
  if (stream_) cudaStreamDestroy(stream_);
}

cudnnHandle_t Context::cudnn() const { return static_cast<cudnnHandle_t>(conv_->handle()); }
cublasHandle_t Context::cublas() const { return static_cast<cublasHandle_t>(linear_->handle()); }

namespace {

std::mutex contexts_mu;
// Indexed by device; raw pointers so that nothing is destroyed at static exit.
std::vector<Context*>& contexts() {
  static auto* v = new std::vector<Context*>();
  return *v;
}

}  // namespace

Context& context() {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(contexts_mu);
  auto& v = contexts();
  if (int(v.size()) <= device) v.resize(device + 1, nullptr);
  if (!v[device]) v[device] = new Context(device);
  return *v[device];
}

void release_contexts() {
  std::lock_guard<std::mutex> lock(contexts_mu);
  for (Context*& c : contexts()) {
    delete c;
    c = nullptr;
  }
}

void synchronize() { CUDA_CHECK(cudaStreamSynchronize(context().stream())); }

}  // namespace rampart::cuda
