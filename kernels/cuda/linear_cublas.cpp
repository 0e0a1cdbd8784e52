// cuBLAS linear layer (see linear_cublas.h). Row-major A [r, c] is column-major
// A^T with leading dimension c; each call below names the column-major product.
#include "kernels/cuda/linear_cublas.h"

#include <cublas_v2.h>

#include <stdexcept>
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/eltwise.cuh"

namespace rampart::cuda {
namespace {

cublasHandle_t H(void* h) { return static_cast<cublasHandle_t>(h); }

void check_dims(const char* what, int n, int in, int out) {
  if (n < 0 || in < 1 || out < 1)
    throw std::invalid_argument(std::string(what) + ": n = " + std::to_string(n) + ", in = " +
                                std::to_string(in) + ", out = " + std::to_string(out) +
                                " (need n >= 0, in >= 1, out >= 1)");
}

}  // namespace

CublasLinear::CublasLinear(bool allow_tf32) {
  cublasHandle_t h = nullptr;
  CUBLAS_CHECK(cublasCreate(&h));
  handle_ = h;
  CUBLAS_CHECK(cublasSetMathMode(h, allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}

CublasLinear::~CublasLinear() {
  if (handle_) {
    // Unbind the caller's stream first: it may already be destroyed (review B1).
    cublasSetStream(H(handle_), nullptr);
    cublasDestroy(H(handle_));
  }
}

void CublasLinear::forward(const float* x, const float* w, const float* b, float* y, int n, int in,
                           int out, cudaStream_t stream) {
  check_dims("CublasLinear::forward", n, in, out);
  if (n == 0) return;
  const float one = 1.f, zero = 0.f;
  CUBLAS_CHECK(cublasSetStream(H(handle_), stream));
  // y^T [out, n] = (W^T)^T [out, in] * x^T [in, n]; W^T is stored as [in, out], ld in.
  CUBLAS_CHECK(cublasSgemm(H(handle_), CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, &one, w, in, x, in,
                           &zero, y, out));
  if (b) bias_add(y, b, n, out, stream);
}

void CublasLinear::backward_data(const float* dy, const float* w, float* dx, int n, int in, int out,
                                 cudaStream_t stream) {
  check_dims("CublasLinear::backward_data", n, in, out);
  if (n == 0) return;
  const float one = 1.f, zero = 0.f;
  CUBLAS_CHECK(cublasSetStream(H(handle_), stream));
  // dx^T [in, n] = W^T [in, out] * dy^T [out, n]
  CUBLAS_CHECK(cublasSgemm(H(handle_), CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, &one, w, in, dy, out,
                           &zero, dx, in));
}

void CublasLinear::backward_weights(const float* x, const float* dy, float* dw, float* db, int n,
                                    int in, int out, bool accumulate, cudaStream_t stream) {
  check_dims("CublasLinear::backward_weights", n, in, out);
  const float one = 1.f, beta = accumulate ? 1.f : 0.f;
  CUBLAS_CHECK(cublasSetStream(H(handle_), stream));
  if (n == 0) {
    // An empty batch contributes nothing; overwrite means zero.
    if (!accumulate) {
      CUDA_CHECK(cudaMemsetAsync(dw, 0, sizeof(float) * size_t(in) * out, stream));
      if (db) CUDA_CHECK(cudaMemsetAsync(db, 0, sizeof(float) * size_t(out), stream));
    }
    return;
  }
  // dw^T [in, out] = x^T [in, n] * (dy^T)^T [n, out]
  CUBLAS_CHECK(cublasSgemm(H(handle_), CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, &one, x, in, dy, out,
                           &beta, dw, in));
  if (db) bias_backward(dy, n, out, db, accumulate, stream);
}

}  // namespace rampart::cuda
