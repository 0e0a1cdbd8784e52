// The settings of the two-prediction losses (TRADES, MART) that the CPU kernel
// (kernels/cpu/pair_loss.h, where the losses are written out) and the CUDA kernel
// (kernels/cuda/pair_loss.cuh) share.
#pragma once

namespace rampart::kernels {

enum class PairLossKind { kTrades, kMart };

struct PairLossParams {
  PairLossKind kind = PairLossKind::kTrades;
  float beta = 6.0f;
  float ce_weight = 1.0f;  // TRADES: the weight of CE(clean, y) (0 for the attack's KL alone)
};

// MART's constants, as its reference code writes them.
constexpr double kMartMargin = 1.0001, kMartEps = 1e-12, kMartWeight = 1.0000001;

}  // namespace rampart::kernels
