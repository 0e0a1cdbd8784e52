// cuDNN convolutions (see conv_cudnn.h).
#include "kernels/cuda/conv_cudnn.h"

#include <cudnn.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/check.h"

namespace rampart::cuda {
namespace {

// An algorithm that wants more scratch than this is skipped for the next one.
constexpr size_t kMaxWorkspace = size_t(512) << 20;

}  // namespace

std::string describe(const ConvShape& s) {
  return "x [" + std::to_string(s.n) + ", " + std::to_string(s.h) + ", " + std::to_string(s.w) +
         ", " + std::to_string(s.c) + "] (NHWC), w [" + std::to_string(s.k) + ", " +
         std::to_string(s.c) + ", " + std::to_string(s.r) + ", " + std::to_string(s.s) +
         "], stride " + std::to_string(s.stride_h) + "x" + std::to_string(s.stride_w) + ", pad " +
         std::to_string(s.pad_h) + "x" + std::to_string(s.pad_w);
}

namespace {

const char* algo_name(const std::string& direction, int a) {
  static const char* fwd[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
                              "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const char* data[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD",
                               "WINOGRAD_NONFUSED"};
  static const char* filter[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD",
                                 "WINOGRAD_NONFUSED", "FFT_TILING"};
  auto pick = [a](const char* const* names, int count) { return a >= 0 && a < count ? names[a] : "UNKNOWN"; };
  if (direction == "forward") return pick(fwd, 8);
  if (direction == "backward-data") return pick(data, 6);
  return pick(filter, 7);
}

cudnnHandle_t H(void* h) { return static_cast<cudnnHandle_t>(h); }

// Picks from cuDNN's heuristic ranking (cudnnGet*_v7), not from timing runs
// (cudnnFind*): the choice is then the same on every run and every rank, which
// keeps resumed runs bit-identical; measured choices can flip between near-equal
// algorithms. Deterministic algorithms first (backward filter/data have
// atomics-based ones), then the first that works within kMaxWorkspace.
// Without allow_nondeterministic only pass 0 runs: a shape with no deterministic
// algorithm is an error that names the shape, rather than a silent loss of
// bit-identical resumes (review B2).
template <class Perf, class SizeFn>
int choose(const char* what, const ConvShape& shape, const std::vector<Perf>& perf, int returned,
           cudnnConvolutionDescriptor_t conv, bool allow_tf32, bool allow_nondeterministic,
           SizeFn workspace_size, size_t* bytes_out, std::vector<ConvAlgorithmChoice>& record) {
  bool any_nondeterministic = false;
  for (int pass = 0; pass < (allow_nondeterministic ? 2 : 1); ++pass) {
    for (int i = 0; i < returned; ++i) {
      const Perf& p = perf[i];
      if (p.status != CUDNN_STATUS_SUCCESS) continue;
      if (pass == 0 && p.determinism != CUDNN_DETERMINISTIC) {
        any_nondeterministic = true;
        continue;
      }
      CUDNN_CHECK(cudnnSetConvolutionMathType(conv, allow_tf32 ? p.mathType : CUDNN_FMA_MATH));
      size_t bytes = 0;
      if (workspace_size(p.algo, &bytes) != CUDNN_STATUS_SUCCESS || bytes > kMaxWorkspace)
        continue;
      *bytes_out = bytes;
      record.push_back({shape, what, int(p.algo), algo_name(what, int(p.algo)),
                        p.determinism == CUDNN_DETERMINISTIC, bytes});
      return int(p.algo);
    }
  }
  if (any_nondeterministic && !allow_nondeterministic)
    throw std::runtime_error(std::string("cuDNN offers only non-deterministic ") + what +
                             " algorithms for " + describe(shape) +
                             "; results would not repeat bit for bit. Allow them explicitly "
                             "(CudnnConv allow_nondeterministic) or change the layer's shape");
  throw std::runtime_error(std::string("cuDNN offers no ") + what + " algorithm for " +
                           describe(shape) + " within " + std::to_string(kMaxWorkspace >> 20) +
                           " MiB of workspace");
}

}  // namespace

struct CudnnConv::Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  // One convolution descriptor per direction: each carries the math type its
  // algorithm was chosen with.
  cudnnConvolutionDescriptor_t fwd = nullptr, bwd_data = nullptr, bwd_filter = nullptr;
  cudnnConvolutionFwdAlgo_t fwd_algo{};
  cudnnConvolutionBwdDataAlgo_t bwd_data_algo{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo{};
  size_t fwd_bytes = 0, bwd_data_bytes = 0, bwd_filter_bytes = 0;

  ~Plan() {  // destructors never throw: statuses are ignored here
    if (x) cudnnDestroyTensorDescriptor(x);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (w) cudnnDestroyFilterDescriptor(w);
    for (auto c : {fwd, bwd_data, bwd_filter})
      if (c) cudnnDestroyConvolutionDescriptor(c);
  }
};

CudnnConv::CudnnConv(bool allow_tf32, bool allow_nondeterministic)
    : allow_tf32_(allow_tf32), allow_nondeterministic_(allow_nondeterministic) {
  cudnnHandle_t h = nullptr;
  CUDNN_CHECK(cudnnCreate(&h));
  handle_ = h;
}

CudnnConv::~CudnnConv() {
  plans_.clear();
  if (workspace_) cudaFree(workspace_);
  if (handle_) {
    // Unbind the caller's stream first: it may already be destroyed (review B1).
    cudnnSetStream(H(handle_), nullptr);
    cudnnDestroy(H(handle_));
  }
}

std::string CudnnConv::algorithm_report() const {
  std::string out;
  for (const auto& c : record_)
    out += describe(c.shape) + ": " + c.direction + " " + c.name + " (" +
           std::to_string(c.algorithm) + "), " +
           (c.deterministic ? "deterministic" : "NON-DETERMINISTIC") + ", workspace " +
           std::to_string(c.workspace_bytes) + " B\n";
  return out;
}

void CudnnConv::reserve_workspace(size_t bytes) {
  if (bytes <= workspace_bytes_) return;
  // cudaFree waits for the device, so no queued call still uses the old buffer.
  if (workspace_) CUDA_CHECK(cudaFree(workspace_));
  workspace_ = nullptr;
  workspace_bytes_ = 0;
  CUDA_CHECK(cudaMalloc(&workspace_, bytes));
  workspace_bytes_ = bytes;
}

void CudnnConv::prepare(const ConvShape& shape) { plan(shape); }

CudnnConv::Plan& CudnnConv::plan(const ConvShape& s) {
  if (auto it = plans_.find(s); it != plans_.end()) return *it->second;
  if (s.n < 1 || s.c < 1 || s.h < 1 || s.w < 1 || s.k < 1 || s.r < 1 || s.s < 1 ||
      s.stride_h < 1 || s.stride_w < 1 || s.pad_h < 0 || s.pad_w < 0 || s.out_h() < 1 ||
      s.out_w() < 1)
    throw std::invalid_argument("CudnnConv: invalid shape " + describe(s));

  auto p = std::make_unique<Plan>();
  const int oh = s.out_h(), ow = s.out_w();
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->x));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->y));
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->w));
  // Dimensions are always given in N, C, H, W order; the format says the memory order.
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, s.n, s.c, s.h, s.w));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, s.n, s.k, oh, ow));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s.k, s.c, s.r, s.s));
  for (auto* c : {&p->fwd, &p->bwd_data, &p->bwd_filter}) {
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(c));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(*c, s.pad_h, s.pad_w, s.stride_h, s.stride_w, 1, 1,
                                                CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionMathType(*c, allow_tf32_ ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  }
  int n = 0, c = 0, h = 0, w = 0;
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p->fwd, p->x, p->w, &n, &c, &h, &w));
  if (n != s.n || c != s.k || h != oh || w != ow)
    throw std::logic_error("CudnnConv: cuDNN computes output [" + std::to_string(n) + ", " +
                           std::to_string(c) + ", " + std::to_string(h) + ", " +
                           std::to_string(w) + "] for " + describe(s) + ", expected [" +
                           std::to_string(s.n) + ", " + std::to_string(s.k) + ", " +
                           std::to_string(oh) + ", " + std::to_string(ow) + "]");

  cudnnHandle_t handle = H(handle_);
  int max_count = 0, returned = 0;
  {
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &max_count));
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(std::max(max_count, 1));
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, p->x, p->w, p->fwd, p->y,
                                                       int(perf.size()), &returned, perf.data()));
    p->fwd_algo = cudnnConvolutionFwdAlgo_t(choose(
        "forward", s, perf, returned, p->fwd, allow_tf32_, allow_nondeterministic_,
        [&](cudnnConvolutionFwdAlgo_t a, size_t* b) {
          return cudnnGetConvolutionForwardWorkspaceSize(handle, p->x, p->w, p->fwd, p->y, a, b);
        },
        &p->fwd_bytes, record_));
  }
  {
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, &max_count));
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(std::max(max_count, 1));
    CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, p->w, p->y, p->bwd_data, p->x,
                                                            int(perf.size()), &returned, perf.data()));
    p->bwd_data_algo = cudnnConvolutionBwdDataAlgo_t(choose(
        "backward-data", s, perf, returned, p->bwd_data, allow_tf32_, allow_nondeterministic_,
        [&](cudnnConvolutionBwdDataAlgo_t a, size_t* b) {
          return cudnnGetConvolutionBackwardDataWorkspaceSize(handle, p->w, p->y, p->bwd_data, p->x, a, b);
        },
        &p->bwd_data_bytes, record_));
  }
  {
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, &max_count));
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(std::max(max_count, 1));
    CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
        handle, p->x, p->y, p->bwd_filter, p->w, int(perf.size()), &returned, perf.data()));
    p->bwd_filter_algo = cudnnConvolutionBwdFilterAlgo_t(choose(
        "backward-filter", s, perf, returned, p->bwd_filter, allow_tf32_, allow_nondeterministic_,
        [&](cudnnConvolutionBwdFilterAlgo_t a, size_t* b) {
          return cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, p->x, p->y, p->bwd_filter,
                                                                p->w, a, b);
        },
        &p->bwd_filter_bytes, record_));
  }
  reserve_workspace(std::max({p->fwd_bytes, p->bwd_data_bytes, p->bwd_filter_bytes}));
  return *plans_.emplace(s, std::move(p)).first->second;
}

CudnnConv::Algorithms CudnnConv::algorithms(const ConvShape& shape) {
  Plan& p = plan(shape);
  return {int(p.fwd_algo), int(p.bwd_data_algo), int(p.bwd_filter_algo)};
}

void CudnnConv::forward(const ConvShape& shape, const float* x, const float* w, float* y,
                        cudaStream_t stream) {
  Plan& p = plan(shape);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnSetStream(H(handle_), stream));
  CUDNN_CHECK(cudnnConvolutionForward(H(handle_), &one, p.x, x, p.w, w, p.fwd, p.fwd_algo,
                                      workspace_, p.fwd_bytes, &zero, p.y, y));
}

void CudnnConv::backward_data(const ConvShape& shape, const float* dy, const float* w, float* dx,
                              cudaStream_t stream) {
  Plan& p = plan(shape);
  const float one = 1.f, zero = 0.f;
  CUDNN_CHECK(cudnnSetStream(H(handle_), stream));
  CUDNN_CHECK(cudnnConvolutionBackwardData(H(handle_), &one, p.w, w, p.y, dy, p.bwd_data,
                                           p.bwd_data_algo, workspace_, p.bwd_data_bytes, &zero,
                                           p.x, dx));
}

void CudnnConv::backward_filter(const ConvShape& shape, const float* x, const float* dy, float* dw,
                                bool accumulate, cudaStream_t stream) {
  Plan& p = plan(shape);
  const float one = 1.f, beta = accumulate ? 1.f : 0.f;
  CUDNN_CHECK(cudnnSetStream(H(handle_), stream));
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(H(handle_), &one, p.x, x, p.y, dy, p.bwd_filter,
                                             p.bwd_filter_algo, workspace_, p.bwd_filter_bytes,
                                             &beta, p.w, dw));
}

}  // namespace rampart::cuda
