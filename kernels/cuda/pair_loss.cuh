// TRADES and MART losses on GPU (CPU twin and the formulas: kernels/cpu/pair_loss.h), one
// thread per example (the rows are short; the loss is a sliver of a step's time).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/common/pair_loss_params.h"

namespace rampart::cuda {

// adv, clean: [n, k]; labels [n] (device memory). per_loss [n] and correct [n] are required;
// dadv, dclean [n, k] optional (null: not wanted).
void pair_loss(const kernels::PairLossParams& p, const float* adv, const float* clean, const int32_t* labels,
               int64_t n, int k, float grad_scale, float* dadv, float* dclean, float* per_loss, uint8_t* correct,
               cudaStream_t stream);

}  // namespace rampart::cuda
