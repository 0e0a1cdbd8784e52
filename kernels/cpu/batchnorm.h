// Per-channel statistics and gradients of batch normalisation over channels-last
// activations viewed as [rows, c] (rows = n*h*w). Reductions accumulate in double.
#pragma once
#include <cstdint>

namespace rampart::kernels::cpu {

// mean[c] and biased variance var[c] of x: [rows, c].
void bn_mean_var(const float* x, int64_t rows, int c, float* mean, float* var);

// sum_dy[c] = sum_r dy[r, c]; sum_dy_xhat[c] = sum_r dy[r, c] * (x[r, c] - mean[c]) * invstd[c].
void bn_backward_sums(const float* x, const float* dy, const float* mean, const float* invstd,
                      int64_t rows, int c, float* sum_dy, float* sum_dy_xhat);

// Training-mode input gradient (batch statistics depend on x):
// dx = gamma*invstd * (dy - sum_dy/rows - xhat * sum_dy_xhat/rows), xhat = (x - mean)*invstd.
void bn_backward_train_dx(const float* x, const float* dy, const float* mean, const float* invstd,
                          const float* gamma, const float* sum_dy, const float* sum_dy_xhat,
                          int64_t rows, int c, float* dx);

}  // namespace rampart::kernels::cpu
