// The kernels a layer, an attack or the optimizer calls, by device: each function
// runs the CPU kernel (kernels/cpu) or the CUDA kernel (kernels/cuda) for the device
// its pointers live on, so the code above kernels/ is written once. GPU work is
// queued on the one compute stream (kernels/cuda/context.h) and never waits for
// the host. Layouts are the CPU kernels' (activations [rows, c] = NHWC).
//
// Each op has a CPU and a CUDA kernel, or is named by gap() on the device that lacks
// it, so a model or an attack that cannot run there is refused before training.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/common/device.h"
#include "kernels/common/precision.h"
#include "kernels/common/pair_loss_params.h"
#include "kernels/cpu/conv_dnnl.h"
#include "kernels/cpu/pool.h"

namespace rampart::ops {

using kernels::cpu::ConvGeometry;
using kernels::cpu::PoolGeometry;

// Why `op` cannot run on d ("" when it can). ops: the names used below; "" asks about
// the device itself (a build without CUDA).
std::string gap(Device d, const std::string& op);
// Why convolutions cannot run at precision p on d ("" when they can): BF16 needs native BF16
// on the CPU, and is not implemented on CUDA yet.
std::string precision_gap(Device d, Precision p);

// ---- element-wise -----------------------------------------------------------
void copy(Device d, float* dst, const float* src, int64_t n);
void add(Device d, float* y, const float* a, const float* b, int64_t n);   // y = a + b
void accumulate(Device d, float* y, const float* x, int64_t n);            // y += x
void relu_forward(Device d, const float* x, float* y, int64_t n);
void relu_backward(Device d, const float* y, const float* dy, float* dx, int64_t n);
// [n, hw, c] <-> [n, c, hw] (flatten in PyTorch's order).
void nhwc_to_nchw(Device d, const float* x, float* y, int64_t n, int64_t hw, int64_t c);
void nchw_to_nhwc(Device d, const float* x, float* y, int64_t n, int64_t hw, int64_t c);

// ---- pooling (NHWC) ---------------------------------------------------------
void maxpool_forward(Device d, const PoolGeometry& g, int n, int ih, int iw, int c, const float* x, float* y,
                     int32_t* argmax);
void maxpool_backward(Device d, const PoolGeometry& g, int n, int ih, int iw, int c, const float* dy,
                      const int32_t* argmax, float* dx);
void avgpool_forward(Device d, const PoolGeometry& g, int n, int ih, int iw, int c, const float* x, float* y);
void avgpool_backward(Device d, const PoolGeometry& g, int n, int ih, int iw, int c, const float* dy, float* dx);

// ---- per-channel maps over [rows, c] ----------------------------------------
// y = (x - mean[ch]) / std[ch]; backward dx = dy * inv_std[ch]. Vectors on device d.
void channel_normalize(Device d, const float* x, const float* mean, const float* std, float* y, int64_t rows, int c);
void channel_scale(Device d, const float* x, const float* scale, float* y, int64_t rows, int c);

// ---- batch normalisation over [rows, c], PyTorch's semantics -------------------
// Training: batch mean and biased variance normalise; running_mean/var move by momentum
// (momentum < 0: cumulative average, 1/num_batches) with the unbiased variance;
// num_batches (one float) counts. stats ([kBatchNormStats * c]: mean, invstd, scale,
// shift) keeps the statistics of the last forward for backward.
struct BatchNormArgs {
  int64_t rows = 0;
  int c = 0;
  double eps = 1e-5, momentum = 0.1;  // momentum < 0: PyTorch's momentum=None
  const float *gamma = nullptr, *beta = nullptr;
  float *running_mean = nullptr, *running_var = nullptr, *num_batches = nullptr;
  float* stats = nullptr;  // scratch on the same device
};
inline constexpr int kBatchNormStats = 4;
void batchnorm_forward(Device d, const BatchNormArgs& a, bool train, const float* x, float* y);
// dgamma/dbeta (null: not wanted) are overwritten; dx (null: not wanted) uses the
// statistics of the last forward (train: batch statistics depend on x).
void batchnorm_backward(Device d, const BatchNormArgs& a, bool train, const float* x, const float* dy,
                        float* dx, float* dgamma, float* dbeta);

// ---- convolution and linear (stateful: cached plans per shape) -----------------
class Conv {
 public:
  virtual ~Conv() = default;
  // src [n, ih, iw, ic]; w [oc, ic, kh, kw]; b [oc] or null; dst [n, oh, ow, oc].
  virtual void forward(int n, int ih, int iw, const float* src, const float* w, const float* b, float* dst) = 0;
  virtual void backward_data(int n, int ih, int iw, const float* ddst, const float* w, float* dsrc) = 0;
  // dw, db (null without bias) overwritten.
  virtual void backward_weights(int n, int ih, int iw, const float* src, const float* ddst, float* dw,
                                float* db) = 0;
  // How many times the weights were converted into the kernel's own format (oneDNN
  // reorders them only after they change; cuDNN reads PyTorch's layout: always 0).
  virtual long weight_reorders() const { return 0; }
  // The arithmetic of forward and backward_data from now on (backward_weights stays FP32);
  // throws std::runtime_error with precision_gap()'s reason where p cannot run.
  virtual void set_precision(Precision p) = 0;
};
std::unique_ptr<Conv> make_conv(Device d, const ConvGeometry& g);

// y [n, out] = x [n, in] W^T + b (W [out, in], b [out] or null); dx = dy W; dW = dy^T x, db = colsum dy.
void linear_forward(Device d, const float* x, const float* w, const float* b, float* y, int n, int in, int out);
void linear_backward_data(Device d, const float* dy, const float* w, float* dx, int n, int in, int out);
void linear_backward_weights(Device d, const float* x, const float* dy, float* dw, float* db, int n, int in, int out);

// ---- loss, attack steps, optimizer -----------------------------------------------
struct XentTotals {
  double loss_sum = 0;
  int64_t correct = 0;
};
// Softmax cross-entropy (kernels/cpu/softmax_xent.h): dlogits, per_loss and correct
// may be null; the totals come back to the host (the GPU waits for them).
XentTotals softmax_xent(Device d, const float* logits, const int32_t* labels, int64_t n, int64_t k,
                        float grad_scale, float* dlogits, float* per_loss, uint8_t* correct);

// TRADES and MART (kernels/cpu/pair_loss.h): adv and clean logits [n, k]; the gradients
// into either (optional), per_loss and correct (optional; correct: argmax(adv) == label);
// the totals come back to the host. On a GPU the totals are summed in example order.
XentTotals pair_loss(Device d, const kernels::PairLossParams& p, const float* adv, const float* clean,
                     const int32_t* labels, int64_t n, int64_t k, float grad_scale, float* dadv, float* dclean,
                     float* per_loss, uint8_t* correct);

struct RandomKey {  // as kernels/cpu/pgd.h: Philox (seed, stream), counter sub, first element
  uint64_t seed = 0;
  uint32_t stream = 0;
  uint64_t sub = 0;
  int64_t first = 0;
};
void random_start_linf(Device d, float* x_adv, const float* x, int64_t n, float eps, const RandomKey& k);
// first = index of the first example (not element) for L2.
void random_start_l2(Device d, float* x_adv, const float* x, int64_t batch, int64_t dim, float eps,
                     const RandomKey& k);
void carried_start(Device d, float* x_adv, const float* x, const float* delta, const uint8_t* has, int64_t batch,
                   int64_t dim, float eps);
void pgd_linf_step(Device d, float* x_adv, const float* grad, const float* x, int64_t n, float alpha, float eps);
void pgd_l2_step(Device d, float* x_adv, const float* grad, const float* x, int64_t batch, int64_t dim, float alpha,
                 float eps);

// Early stop: zeroes row e of m ([n, k]) where mask[e] == 0 (mask on device d).
void zero_masked_rows(Device d, float* m, const uint8_t* mask, int64_t n, int64_t k);
// Keep-best: row e of x_cur ([n, dim]) replaces best_x's when it is misclassified and the
// best is not, or both agree and its loss is higher (ties keep the earlier iterate);
// best_loss and best_fooled follow. loss, correct: as softmax_xent writes them.
void keep_best(Device d, const float* x_cur, const float* loss, const uint8_t* correct, int64_t n, int64_t dim,
               float* best_x, float* best_loss, uint8_t* best_fooled);

// w -= lr * (buf = momentum * buf + grad + weight_decay * w), PyTorch's SGD.
void sgd_momentum(Device d, float* w, const float* g, float* buf, int64_t n, float lr, float momentum,
                  float weight_decay);

}  // namespace rampart::ops
