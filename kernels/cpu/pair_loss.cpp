// TRADES and MART losses and their gradients (see pair_loss.h). The derivatives, with
// p = softmax(a), q = softmax(c), and any r_j = log q_j - log(p_j + eps):
//   d/da_i KL(q || p)            = p_i - q_i                        (eps = 0, TRADES)
//   d/da_i sum_j q_j r_j         = -s_i + p_i sum_j s_j, s_j = q_j p_j / (p_j + eps)
//   d/dc_i sum_j q_j r_j = K     = q_i (r_i - K)
//   d/da_i -log(m - p_y')        = p_y' (delta_iy' - p_i) / (m - p_y')
//   d/dc_i (w0 - q_y)            = -q_y (delta_iy - q_i)
#include "kernels/cpu/pair_loss.h"

#include <cmath>
#include <vector>

namespace rampart::kernels {
namespace {

// Log-softmax of z [k] into out [k] (double); returns the argmax (ties to the lowest index).
int64_t log_softmax(const float* z, int64_t k, double* out) {
  int64_t arg = 0;
  double mx = z[0];
  for (int64_t j = 1; j < k; ++j)
    if (z[j] > mx) { mx = z[j]; arg = j; }
  double sum = 0;
  for (int64_t j = 0; j < k; ++j) sum += std::exp(double(z[j]) - mx);
  const double lse = mx + std::log(sum);
  for (int64_t j = 0; j < k; ++j) out[j] = double(z[j]) - lse;
  return arg;
}

}  // namespace

XentTotals pair_loss_cpu(const PairLossParams& prm, const float* adv, const float* clean, const int32_t* labels,
                         int64_t n, int64_t k, float grad_scale, float* dadv, float* dclean, float* per_loss,
                         uint8_t* correct) {
  double loss_sum = 0;
  int64_t n_correct = 0;
  const size_t ks = static_cast<size_t>(k);
  std::vector<double> lp(ks), lq(ks), p(ks), q(ks), r(ks), da(ks), dc(ks);
  const double beta = prm.beta, g = grad_scale;
  for (int64_t e = 0; e < n; ++e) {
    const int64_t arg = log_softmax(adv + e * k, k, lp.data());
    log_softmax(clean + e * k, k, lq.data());
    for (int64_t j = 0; j < k; ++j) { p[j] = std::exp(lp[j]); q[j] = std::exp(lq[j]); }
    const int32_t y = labels[e];
    std::fill(da.begin(), da.end(), 0.0);
    std::fill(dc.begin(), dc.end(), 0.0);
    double l = 0;
    if (prm.kind == PairLossKind::kTrades) {
      double kl = 0;
      for (int64_t j = 0; j < k; ++j) {
        r[j] = lq[j] - lp[j];
        kl += q[j] * r[j];
      }
      l = double(prm.ce_weight) * -lq[y] + beta * kl;
      for (int64_t j = 0; j < k; ++j) {
        da[j] = beta * (p[j] - q[j]);
        dc[j] = beta * q[j] * (r[j] - kl) + double(prm.ce_weight) * (q[j] - (j == y ? 1.0 : 0.0));
      }
    } else {
      // CE(adv, y), and the margin term on the strongest wrong class.
      int64_t wrong = -1;
      for (int64_t j = 0; j < k; ++j)
        if (j != y && (wrong < 0 || adv[e * k + j] > adv[e * k + wrong])) wrong = j;  // the logits: as the GPU kernel
      const double m = kMartMargin - (wrong >= 0 ? p[wrong] : 0.0) + kMartEps;
      l = -lp[y] + (wrong >= 0 ? -std::log(m) : 0.0);
      for (int64_t j = 0; j < k; ++j) da[j] = p[j] - (j == y ? 1.0 : 0.0);
      if (wrong >= 0)
        for (int64_t j = 0; j < k; ++j) da[j] += p[wrong] * ((j == wrong ? 1.0 : 0.0) - p[j]) / m;
      // beta * K * w, K = sum_j q_j (log q_j - log(p_j + eps)), w = 1.0000001 - q_y.
      double kk = 0, s_sum = 0;
      for (int64_t j = 0; j < k; ++j) {
        r[j] = lq[j] - std::log(p[j] + kMartEps);
        kk += q[j] * r[j];
        s_sum += q[j] * p[j] / (p[j] + kMartEps);
      }
      const double w = kMartWeight - q[y];
      l += beta * kk * w;
      for (int64_t j = 0; j < k; ++j) {
        const double s = q[j] * p[j] / (p[j] + kMartEps);
        da[j] += beta * w * (-s + p[j] * s_sum);
        dc[j] = beta * (w * q[j] * (r[j] - kk) - kk * q[y] * ((j == y ? 1.0 : 0.0) - q[j]));
      }
    }
    loss_sum += l;
    const bool ok = arg == y;
    n_correct += ok;
    if (per_loss) per_loss[e] = float(l);
    if (correct) correct[e] = ok;
    if (dadv)
      for (int64_t j = 0; j < k; ++j) dadv[e * k + j] = float(g * da[j]);
    if (dclean)
      for (int64_t j = 0; j < k; ++j) dclean[e * k + j] = float(g * dc[j]);
  }
  return {loss_sum, n_correct};
}

}  // namespace rampart::kernels
