// 2-D convolution on GPU through cuDNN's legacy API: forward, backward data and
// backward filter, with the algorithms chosen once per shape and cached.
//
// Layouts: activations NHWC (x: [n, h, w, c] in memory), as on the CPU path, so a
// batch moves between backends without a transpose; weights in PyTorch's
// [out, in, kh, kw] (cuDNN's KCRS, "NCHW" filter format), so the flat parameter
// buffer, its buckets, the broadcast and the checkpoint are the same bytes on
// CPU and GPU. cuDNN accepts this mix; the planner asks it which algorithms do and
// fails with the shape if none does. (A KRSC copy of the weights would open the
// fastest NHWC kernels but costs a transpose of weights and gradients per step;
// measure before adding it.) Bias is not here: eltwise.cuh's bias_add/bias_backward
// with rows = n * out_h * out_w.
#pragma once
#include <cuda_runtime.h>

#include <compare>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rampart::cuda {

struct ConvShape {
  int n, c, h, w;   // input [n, h, w, c]
  int k, r, s;      // weight [k, c, r, s]
  int stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;
  int out_h() const { return (h + 2 * pad_h - r) / stride_h + 1; }
  int out_w() const { return (w + 2 * pad_w - s) / stride_w + 1; }
  auto operator<=>(const ConvShape&) const = default;
};

// Which algorithm cuDNN runs for one shape and direction, and whether it is
// deterministic (review B2): the record that tests and benchmarks/gpu_check.sh print.
struct ConvAlgorithmChoice {
  ConvShape shape;
  std::string direction;   // "forward", "backward-data" or "backward-filter"
  int algorithm = 0;       // the cuDNN enum value
  std::string name;        // e.g. "IMPLICIT_PRECOMP_GEMM"
  bool deterministic = false;
  size_t workspace_bytes = 0;
};

std::string describe(const ConvShape& shape);

class CudnnConv {
 public:
  // allow_tf32: let Ampere/Hopper use TF32 tensor cores (10-bit mantissa products).
  // Off by default, so GPU results match the FP32 CPU path to FP32 rounding.
  // Deterministic algorithms are always preferred; where cuDNN offers none for a
  // shape and direction, planning throws (naming the shape) unless
  // allow_nondeterministic, since the run would lose bit-identical resumes.
  explicit CudnnConv(bool allow_tf32 = false, bool allow_nondeterministic = false);
  ~CudnnConv();
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  // Creates the descriptors, picks the algorithms and sizes the workspace for a
  // shape. Called by the first use of a shape; call it before capturing a CUDA
  // graph, since planning may allocate (cudaMalloc is not capturable).
  void prepare(const ConvShape& shape);

  // y: [n, out_h, out_w, k] = conv(x, w)
  void forward(const ConvShape& shape, const float* x, const float* w, float* y,
               cudaStream_t stream);
  // dx: [n, h, w, c] = dL/dx (overwritten)
  void backward_data(const ConvShape& shape, const float* dy, const float* w, float* dx,
                     cudaStream_t stream);
  // dw: [k, c, r, s] = dL/dw, added to dw when accumulate, else overwritten
  void backward_filter(const ConvShape& shape, const float* x, const float* dy, float* dw,
                       bool accumulate, cudaStream_t stream);

  // The chosen algorithms (cuDNN enum values), for logs and tests.
  struct Algorithms { int forward, backward_data, backward_filter; };
  Algorithms algorithms(const ConvShape& shape);

  // Every choice made so far, in planning order (three per shape).
  const std::vector<ConvAlgorithmChoice>& algorithm_record() const { return record_; }
  // The record as text, one line per choice.
  std::string algorithm_report() const;
  void set_allow_nondeterministic(bool allow) { allow_nondeterministic_ = allow; }

  // The cudnnHandle_t (opaque here); context.h binds it to the context's stream.
  void* handle() const { return handle_; }

 private:
  struct Plan;
  Plan& plan(const ConvShape& shape);
  void reserve_workspace(size_t bytes);

  bool allow_tf32_;
  bool allow_nondeterministic_;
  std::vector<ConvAlgorithmChoice> record_;
  void* handle_ = nullptr;  // cudnnHandle_t; kept opaque so this header needs no cudnn.h
  std::map<ConvShape, std::unique_ptr<Plan>> plans_;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
};

}  // namespace rampart::cuda
