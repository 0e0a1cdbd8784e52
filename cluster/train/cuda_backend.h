// The CUDA compute backend (--device cuda): GpuModel, GpuAttacker, GpuEvaluator
// and the SGD kernel, behind compute_backend.h's interface. Compiled only in CUDA
// builds; this header includes no CUDA header, so compute_backend.cpp can choose it.
#pragma once
#include <cstdint>
#include <memory>

#include "cluster/train/compute_backend.h"

namespace rampart {

// Makes GPU (local_rank % visible GPUs) current, or keeps the NCCL communicator's
// GPU when comm is one, builds the GpuModel twin of `model` (ConfigError for a
// layer it does not have) and uploads the weights and momentum.
// Gradient all-reduce: with the NCCL communicator the buckets are reduced in GPU
// memory as backward produces them (the communicator's collectives wait, by an
// event, for the model's stream); with any other communicator the gradients are
// downloaded after backward, reduced on the host and uploaded again.
std::unique_ptr<ComputeBackend> make_cuda_backend(Model& model, Sgd* sgd, Communicator& comm, int local_rank,
                                                  int64_t bucket_bytes);

}  // namespace rampart
