// Fully connected layer on GPU through cuBLAS: y = x W^T + b and its gradients.
// x: [n, in], W: [out, in] (PyTorch's layout, so the flat parameter buffer is the
// same bytes as on CPU), b: [out], y: [n, out]; all row-major device memory.
// cuBLAS is column-major: a row-major [r, c] matrix is a column-major [c, r] one,
// i.e. its transpose, so each product below is computed transposed (the
// "row-major trick"); see linear_cublas.cpp for the three calls.
#pragma once
#include <cuda_runtime.h>

namespace rampart::cuda {

class CublasLinear {
 public:
  // allow_tf32: TF32 tensor cores on Ampere/Hopper; off keeps FP32 products.
  explicit CublasLinear(bool allow_tf32 = false);
  ~CublasLinear();
  CublasLinear(const CublasLinear&) = delete;
  CublasLinear& operator=(const CublasLinear&) = delete;

  // y = x W^T (+ b when b is not null)
  void forward(const float* x, const float* w, const float* b, float* y, int n, int in, int out,
               cudaStream_t stream);
  // dx = dy W  ([n, in], overwritten)
  void backward_data(const float* dy, const float* w, float* dx, int n, int in, int out,
                     cudaStream_t stream);
  // dw = dy^T x ([out, in]); db = column sums of dy ([out], skipped when null).
  // accumulate adds to dw and db instead of overwriting them.
  void backward_weights(const float* x, const float* dy, float* dw, float* db, int n, int in,
                        int out, bool accumulate, cudaStream_t stream);

  // The cublasHandle_t (opaque here); context.h binds it to the context's stream.
  void* handle() const { return handle_; }

 private:
  void* handle_ = nullptr;  // cublasHandle_t
};

}  // namespace rampart::cuda
