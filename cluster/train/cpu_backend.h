// The CPU compute backend (--device cpu): the host Model computes, with the
// Attacker, Sgd and Evaluator of runtime/; see compute_backend.h.
#pragma once
#include <cstdint>
#include <memory>

#include "cluster/train/compute_backend.h"

namespace rampart {

std::unique_ptr<ComputeBackend> make_cpu_backend(Model& model, Sgd* sgd, Communicator& comm, int64_t bucket_bytes);

}  // namespace rampart
