// Batch normalisation on GPU (see batchnorm.cuh).
#include "kernels/cuda/batchnorm.cuh"

#include <cmath>
#include <string>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/column_reduce.cuh"
#include "kernels/cuda/launch_config.h"

namespace rampart::cuda {
namespace {

struct SumLoad {  // x
  const float* x;
  int c;
  __device__ void operator()(int64_t r, int col, double (&v)[1]) const { v[0] = x[r * c + col]; }
};

struct MeanFinish {  // mean = float(sum / rows)
  float* mean;
  int64_t rows;
  __device__ void operator()(int, int col, double total) const {
    mean[col] = float(total / double(rows));
  }
};

struct SquaredDeviationLoad {  // (x - mean)^2 in double, after the mean (no cancellation)
  const float* x;
  const float* mean;
  int c;
  __device__ void operator()(int64_t r, int col, double (&v)[1]) const {
    const double d = double(x[r * c + col]) - double(mean[col]);
    v[0] = d * d;
  }
};

// The per-channel epilogue shared by training and evaluation.
__device__ void set_affine(float* stats, int c, int col, float mean, float var, double eps,
                           const float* gamma, const float* beta) {
  const float invstd = float(1.0 / sqrt(double(var) + eps));
  const float scale = gamma[col] * invstd;
  stats[col] = mean;
  stats[c + col] = invstd;
  stats[2 * c + col] = scale;
  stats[3 * c + col] = beta[col] - mean * scale;
}

struct TrainFinish {  // variance -> running stats, invstd, scale, shift
  float* stats;
  int c;
  int64_t rows;
  double eps, momentum;
  const float* gamma;
  const float* beta;
  float* running_mean;
  float* running_var;
  __device__ void operator()(int, int col, double total) const {
    const float var = float(total / double(rows));
    const float mean = stats[col];
    const double m = momentum, unbias = double(rows) / double(rows - 1);
    running_mean[col] = float((1 - m) * running_mean[col] + m * mean);
    running_var[col] = float((1 - m) * running_var[col] + m * var * unbias);
    set_affine(stats, c, col, mean, var, eps, gamma, beta);
  }
};

__global__ void eval_stats_kernel(float* stats, int c, double eps, const float* gamma,
                                  const float* beta, const float* running_mean,
                                  const float* running_var) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (col < c) set_affine(stats, c, col, running_mean[col], running_var[col], eps, gamma, beta);
}

struct BackwardSumsLoad {  // (dy, dy * xhat), xhat rounded to float first as on the CPU
  const float* x;
  const float* dy;
  const float* mean;
  const float* invstd;
  int c;
  __device__ void operator()(int64_t r, int col, double (&v)[2]) const {
    const int64_t i = r * c + col;
    const float xhat = (x[i] - mean[col]) * invstd[col];
    v[0] = dy[i];
    v[1] = double(dy[i]) * double(xhat);
  }
};

struct BackwardSumsFinish {  // sums: [sum_dy | sum_dy_xhat]; dbeta = sum_dy, dgamma = sum_dy_xhat
  float* sums;
  float* dgamma;
  float* dbeta;
  int c;
  __device__ void operator()(int v, int col, double total) const {
    const float t = float(total);
    sums[v * c + col] = t;
    if (v == 0 && dbeta) dbeta[col] = t;
    if (v == 1 && dgamma) dgamma[col] = t;
  }
};

__global__ void train_dx_kernel(const float* __restrict__ x, const float* dy,
                                const float* __restrict__ stats, const float* __restrict__ gamma,
                                const float* __restrict__ sums, int64_t total, int c,
                                float inv_rows, float* dx) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(blockDim.x) * gridDim.x) {
    const int ch = int(i % c);
    const float invstd = stats[c + ch];
    const float xhat = (x[i] - stats[ch]) * invstd;
    dx[i] = gamma[ch] * invstd * (dy[i] - sums[ch] * inv_rows - xhat * sums[c + ch] * inv_rows);
  }
}

__global__ void scale_shift_kernel(const float* x, const float* __restrict__ scale,
                                   const float* __restrict__ shift, float* y, int64_t total,
                                   int c) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(blockDim.x) * gridDim.x) {
    const int ch = int(i % c);
    y[i] = shift ? x[i] * scale[ch] + shift[ch] : x[i] * scale[ch];
  }
}

void check_bn(const char* what, int64_t rows, int c, bool pointers_ok) {
  require(rows >= 0 && c > 0, what,
          "rows = " + std::to_string(rows) + ", c = " + std::to_string(c) +
              " (need rows >= 0 and c >= 1)");
  require(pointers_ok, what, "a null pointer");
}

}  // namespace

void channel_scale_shift(const float* x, const float* scale, const float* shift, float* y,
                         int64_t rows, int c, cudaStream_t stream) {
  check_bn("channel_scale_shift", rows, c, rows == 0 || (x && scale && y));
  const int64_t total = rows * c;
  if (total == 0) return;
  scale_shift_kernel<<<grid_for(total), kThreads, 0, stream>>>(x, scale, shift, y, total, c);
  CUDA_CHECK_LAUNCH();
}

void batchnorm_forward_train(const float* x, int64_t rows, int c, const float* gamma,
                             const float* beta, double eps, double momentum, float* running_mean,
                             float* running_var, float* stats, float* y, cudaStream_t stream) {
  check_bn("batchnorm_forward_train", rows, c,
           x && gamma && beta && running_mean && running_var && stats && y);
  require(rows >= 2, "batchnorm_forward_train",
          "rows = " + std::to_string(rows) + " (training needs more than one value per channel)");
  detail::column_reduce<1, double>(rows, c, SumLoad{x, c}, MeanFinish{stats, rows}, stream);
  detail::column_reduce<1, double>(
      rows, c, SquaredDeviationLoad{x, stats, c},
      TrainFinish{stats, c, rows, eps, momentum, gamma, beta, running_mean, running_var}, stream);
  channel_scale_shift(x, stats + 2 * c, stats + 3 * c, y, rows, c, stream);
}

void batchnorm_forward_eval(const float* x, int64_t rows, int c, const float* gamma,
                            const float* beta, double eps, const float* running_mean,
                            const float* running_var, float* stats, float* y,
                            cudaStream_t stream) {
  check_bn("batchnorm_forward_eval", rows, c,
           gamma && beta && running_mean && running_var && stats && (rows == 0 || (x && y)));
  eval_stats_kernel<<<(c + 127) / 128, 128, 0, stream>>>(stats, c, eps, gamma, beta, running_mean,
                                                         running_var);
  CUDA_CHECK_LAUNCH();
  channel_scale_shift(x, stats + 2 * c, stats + 3 * c, y, rows, c, stream);
}

void batchnorm_backward(const float* x, const float* dy, int64_t rows, int c, const float* gamma,
                        const float* stats, bool training, float* dx, float* dgamma, float* dbeta,
                        cudaStream_t stream) {
  check_bn("batchnorm_backward", rows, c,
           gamma && stats && (rows == 0 || (x && dy)) && (!dgamma == !dbeta));
  const bool param_grads = dgamma != nullptr;
  if (!param_grads && !(dx && training)) {
    if (dx) channel_scale_shift(dy, stats + 2 * c, nullptr, dx, rows, c, stream);
    return;
  }
  DeviceScratch sums(sizeof(float) * 2 * size_t(c), stream);
  detail::column_reduce<2, double>(rows, c, BackwardSumsLoad{x, dy, stats, stats + c, c},
                                   BackwardSumsFinish{sums.as<float>(), dgamma, dbeta, c}, stream);
  if (!dx || rows == 0) return;
  if (!training) {
    channel_scale_shift(dy, stats + 2 * c, nullptr, dx, rows, c, stream);
    return;
  }
  const int64_t total = rows * c;
  train_dx_kernel<<<grid_for(total), kThreads, 0, stream>>>(x, dy, stats, gamma, sums.as<float>(),
                                                            total, c, 1.0f / float(rows), dx);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rampart::cuda
