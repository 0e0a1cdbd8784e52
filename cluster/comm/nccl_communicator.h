// The NCCL communicator: gradients in GPU memory are summed by NCCL on a stream of
// their own; everything else (host scalars, strings, barriers, the abort) goes
// through the MPI communicator it wraps, so MPI stays the control plane.
// Chosen, like every backend, in communicator.cpp (make_communicator).
#pragma once
#include <cuda_runtime.h>

#include <memory>

#include "cluster/comm/communicator.h"
#include "cluster/comm/world.h"

namespace rampart {

class NcclCommunicator : public Communicator {
 public:
  // The stream whose work produces the buffers handed to the all-reduces (the
  // backward pass). Each collective first waits (on the GPU, by an event) for
  // the work queued there so far, then runs on the communicator's own stream, so
  // backward goes on with earlier layers while a bucket is being reduced.
  // Default: the compute stream of kernels/cuda/context.h, where every op runs.
  virtual void set_compute_stream(cudaStream_t stream) = 0;
  // The stream NCCL's collectives run on.
  virtual cudaStream_t comm_stream() const = 0;
  // The GPU this rank uses (local rank modulo the visible GPUs).
  virtual int device() const = 0;
};

// Initialises MPI (through make_mpi_communicator), makes GPU (local_rank % GPUs)
// current, sends NCCL's unique id from rank 0 by MPI_Bcast and creates one NCCL
// communicator over all ranks.
// Buffers: allreduce_sum(float*), allreduce_sum_async and broadcast use NCCL when
// the pointer is GPU memory and MPI when it is host memory; the double
// collectives, allgather and barrier always use MPI.
// timeout_s (> 0): an NCCL collective not done after that long, or one that NCCL
// reports failed (ncclCommGetAsyncError), aborts the NCCL communicator
// (ncclCommAbort) and throws Error naming this rank, instead of hanging; the
// caller then ends the job (abort()). <= 0 waits forever.
// Throws std::runtime_error when there is no GPU.
std::unique_ptr<NcclCommunicator> make_nccl_communicator(const World& world, double timeout_s);

}  // namespace rampart
