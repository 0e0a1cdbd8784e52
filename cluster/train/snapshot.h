// An in-memory copy of what training needs to continue from a step: weights, momentum and
// batchnorm statistics. The overfitting guard rolls back to the last snapshot whose probe was
// healthy. Every rank holds its own (identical) copy, so restoring needs no communication.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "runtime/model.h"
#include "runtime/optimizer.h"

namespace rampart {

struct Snapshot {
  int64_t step = -1;  // -1: none taken
  std::vector<float> params, momentum, buffers;

  void take(int64_t at_step, Model& m, Sgd& sgd) {
    step = at_step;
    params.assign(m.flat_params(), m.flat_params() + m.num_params());
    momentum.assign(sgd.momentum(), sgd.momentum() + sgd.size());
    buffers.assign(m.flat_buffers(), m.flat_buffers() + m.num_buffer_values());
  }
  void restore(Model& m, Sgd& sgd) const {
    std::copy(params.begin(), params.end(), m.flat_params());
    std::copy(momentum.begin(), momentum.end(), sgd.momentum());
    std::copy(buffers.begin(), buffers.end(), m.flat_buffers());
  }
};

}  // namespace rampart
