// Batch normalisation on GPU over channels-last activations viewed as [rows, c]
// (rows = n*h*w; x's memory is [n, h, w, c]). CPU twin: kernels/cpu/batchnorm.h
// with runtime/layers/batchnorm2d.cpp, whose contract these follow:
//   - training: batch mean and biased variance normalise; running stats move by
//     `momentum` with the UNBIASED variance (var * rows / (rows - 1)), as PyTorch;
//   - reductions accumulate in double, in a fixed order (column_reduce.cuh), so a
//     shape gives the same bits on every run;
//   - invstd = float(1 / sqrt(double(var) + eps)), scale = gamma * invstd,
//     shift = beta - mean * scale, y = x * scale + shift.
// Device pointers; the launchers only enqueue work on `stream`.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace rampart::cuda {

// The per-channel state a layer keeps from forward to backward: a device array of
// kBnStats * c floats laid out [mean | invstd | scale | shift], each [c].
inline constexpr int kBnStats = 4;

// Training forward. momentum: the weight of the batch statistic in the running
// ones (the layer passes 1/num_batches_tracked for PyTorch's momentum=None).
// rows >= 2 (the layer reports fewer as a DataError). running_mean, running_var:
// [c], updated in place. y: [rows, c], may be x.
void batchnorm_forward_train(const float* x, int64_t rows, int c, const float* gamma,
                             const float* beta, double eps, double momentum, float* running_mean,
                             float* running_var, float* stats, float* y, cudaStream_t stream);

// Evaluation forward with the running statistics; fills stats the same way, so
// that batchnorm_backward(training = false) works after it.
void batchnorm_forward_eval(const float* x, int64_t rows, int c, const float* gamma,
                            const float* beta, double eps, const float* running_mean,
                            const float* running_var, float* stats, float* y, cudaStream_t stream);

// Backward from stats of the last forward. training selects the input gradient:
//   training: dx = gamma*invstd * (dy - sum_dy/rows - xhat * sum_dy_xhat/rows);
//   eval:     dx = dy * scale (running statistics are constants).
// dgamma = sum_dy_xhat and dbeta = sum_dy (overwritten, as the CPU layer does),
// skipped when both are null; dx skipped when null. dx may be dy.
void batchnorm_backward(const float* x, const float* dy, int64_t rows, int c, const float* gamma,
                        const float* stats, bool training, float* dx, float* dgamma, float* dbeta,
                        cudaStream_t stream);

// y[r, ch] = x[r, ch] * scale[ch] + shift[ch] (shift may be null); y may be x.
void channel_scale_shift(const float* x, const float* scale, const float* shift, float* y,
                         int64_t rows, int c, cudaStream_t stream);

}  // namespace rampart::cuda
