// NCCL backend of the Communicator interface (see nccl_communicator.h).
#include "cluster/comm/nccl_communicator.h"

#include <nccl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <mutex>
#include <thread>
#include <vector>

#include "cluster/comm/mpi_communicator.h"
#include "cluster/comm/watchdog.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/context.h"
#include "kernels/cuda/device.h"
#include "runtime/errors.h"

namespace rampart {
namespace {

bool on_device(const void* p) {
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    cudaGetLastError();  // an unknown pointer is host memory
    return false;
  }
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged;
}

class NcclComm;

// An all-reduce in flight: complete when its event on the comm stream has fired.
class NcclRequest final : public CommRequest {
 public:
  NcclRequest(NcclComm& owner, cudaEvent_t done, std::string what)
      : owner_(owner), done_(done), what_(std::move(what)) {}
  ~NcclRequest() override;
  void wait() override;
  bool test() override;

 private:
  NcclComm& owner_;
  cudaEvent_t done_;
  std::string what_;
  bool finished_ = false;
};

class NcclComm final : public NcclCommunicator {
 public:
  NcclComm(const World& world, double timeout_s)
      : host_(make_mpi_communicator(world, timeout_s)), timeout_s_(timeout_s) {
    rank_ = host_->rank();
    size_ = host_->size();
    require_one_gpu_per_rank(world);
    device_ = cuda::select_device_for_local_rank(world.local_rank);
    // The highest priority, as DDP's comm stream: bucket all-reduces are not queued
    // behind the backward kernels that keep being launched (review C3).
    int least = 0, greatest = 0;
    CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
    CUDA_CHECK(cudaStreamCreateWithPriority(&stream_, cudaStreamNonBlocking, greatest));
    CUDA_CHECK(cudaEventCreateWithFlags(&ready_, cudaEventDisableTiming));
    // The model, attack and optimizer run on the device's one compute stream.
    compute_ = cuda::context().stream();

    ncclUniqueId id{};
    if (rank_ == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    // MPI_Bcast through the MPI communicator (watched by its watchdog).
    host_->broadcast(&id, int64_t(sizeof id), 0);
    // A peer that never joins would block ncclCommInitRank forever: watch it.
    Watchdog dog(timeout_s, rank_, [this](const std::string&) { host_->abort(1); });
    auto guard = dog.guard("NCCL communicator setup");
    NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
  }

  // NCCL refuses two ranks of one communicator on one GPU, with a generic
  // "Duplicate GPU detected" from ncclCommInitRank (review A3). Every rank takes
  // part in the check, so that all of them stop with the same ConfigError instead
  // of the others waiting in NCCL's setup.
  void require_one_gpu_per_rank(const World& world) {
    const int gpus = cuda::cuda_device_count();
    double short_here = world.local_size > gpus ? 1.0 : 0.0;
    double short_somewhere = short_here;
    host_->allreduce_max(&short_somewhere, 1);
    if (short_here > 0)
      throw ConfigError("--backend nccl needs one GPU per rank: " + std::to_string(world.local_size) +
                        " ranks on this node, " + std::to_string(gpus) +
                        " GPUs; use --backend mpi or fewer ranks per node");
    if (short_somewhere > 0)
      throw ConfigError("--backend nccl needs one GPU per rank: another node has more ranks than "
                        "GPUs; use --backend mpi or fewer ranks per node");
  }

  ~NcclComm() override {
    // Destructors never throw: statuses are ignored; an aborted comm is null.
    if (comm_) {
      cudaStreamSynchronize(stream_);
      ncclCommDestroy(comm_);
    }
    if (ready_) cudaEventDestroy(ready_);
    for (cudaEvent_t e : free_events_) cudaEventDestroy(e);
    if (stream_) cudaStreamDestroy(stream_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }
  void set_compute_stream(cudaStream_t s) override { compute_ = s; }
  cudaStream_t comm_stream() const override { return stream_; }
  int device() const override { return device_; }

  void allreduce_sum(float* data, int64_t n) override {
    if (!on_device(data)) return host_->allreduce_sum(data, n);
    allreduce_sum_async(data, n)->wait();
  }
  void allreduce_sum(double* data, int64_t n) override { host_->allreduce_sum(data, n); }
  void allreduce_max(double* data, int64_t n) override { host_->allreduce_max(data, n); }

  std::unique_ptr<CommRequest> allreduce_sum_async(float* data, int64_t n) override {
    if (n < 0) throw std::invalid_argument("allreduce_sum_async: n = " + std::to_string(n));
    if (n > 0 && !on_device(data)) return host_->allreduce_sum_async(data, n);
    std::string what = "NCCL all-reduce of " + format_bytes(double(n) * 4);
    cudaEvent_t done = enqueue(what, [&] {
      NCCL_CHECK(ncclAllReduce(data, data, size_t(n), ncclFloat, ncclSum, comm_, stream_));
    });
    return std::make_unique<NcclRequest>(*this, done, std::move(what));
  }

  void broadcast(void* data, int64_t bytes, int root) override {
    if (bytes <= 0 || !on_device(data)) return host_->broadcast(data, bytes, root);
    std::string what = "NCCL broadcast of " + format_bytes(double(bytes)) + " from rank " +
                       std::to_string(root);
    cudaEvent_t done = enqueue(what, [&] {
      NCCL_CHECK(ncclBroadcast(data, data, size_t(bytes), ncclChar, root, comm_, stream_));
    });
    NcclRequest(*this, done, std::move(what)).wait();
  }

  void barrier() override {
    // Everything queued on the comm stream first, then the ranks meet.
    cudaEvent_t done = enqueue("NCCL barrier", [] {});
    NcclRequest(*this, done, "NCCL barrier").wait();
    host_->barrier();
  }

  std::vector<std::string> allgather(const std::string& s) override { return host_->allgather(s); }
  std::vector<std::string> alltoallv(const std::vector<std::string>& to) override { return host_->alltoallv(to); }

  [[noreturn]] void abort(int code) override {
    if (comm_) ncclCommAbort(comm_);  // frees peers blocked in our collectives
    comm_ = nullptr;
    host_->abort(code);
    std::_Exit(code);  // not reached: MPI_Abort ends the process
  }

  // Polls until `done` fires. A failed or overdue collective aborts the NCCL
  // communicator (a stuck kernel can only be ended that way) and throws.
  void wait_for(cudaEvent_t done, const std::string& what) {
    const auto start = std::chrono::steady_clock::now();
    for (int spin = 0;; ++spin) {
      cudaError_t e = cudaEventQuery(done);
      if (e == cudaSuccess) return;
      if (e != cudaErrorNotReady) CUDA_CHECK(e);
      check_async(what);
      const double waited =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (timeout_s_ > 0 && waited > timeout_s_)
        fail(what + " did not complete within " + std::to_string(timeout_s_) +
             " s (a peer rank died or stalled)");
      // Spin briefly for short collectives, then stop burning a core.
      if (spin > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  bool done(cudaEvent_t ev, const std::string& what) {
    cudaError_t e = cudaEventQuery(ev);
    if (e == cudaSuccess) return true;
    if (e != cudaErrorNotReady) CUDA_CHECK(e);
    check_async(what);
    return false;
  }

 private:
  // Orders the collective after the compute stream's queued work, runs it on the
  // comm stream, and returns an event that fires when it is done.
  template <class F>
  cudaEvent_t enqueue(const std::string& what, F&& call) {
    if (!comm_)
      throw Error(kExitFailure, "rank " + std::to_string(rank_) + ": " + what +
                                    " after the NCCL communicator was aborted");
    CUDA_CHECK(cudaEventRecord(ready_, compute_));
    CUDA_CHECK(cudaStreamWaitEvent(stream_, ready_, 0));
    call();
    cudaEvent_t done = take_event();
    CUDA_CHECK(cudaEventRecord(done, stream_));
    return done;
  }

 public:
  // Events are reused (one per bucket in flight), not made and destroyed per
  // collective (review C3).
  cudaEvent_t take_event() {
    std::lock_guard<std::mutex> lock(events_mutex_);
    if (!free_events_.empty()) {
      cudaEvent_t e = free_events_.back();
      free_events_.pop_back();
      return e;
    }
    cudaEvent_t e = nullptr;
    CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    return e;
  }
  void give_back(cudaEvent_t e) noexcept {
    std::lock_guard<std::mutex> lock(events_mutex_);
    free_events_.push_back(e);
  }

 private:
  std::mutex events_mutex_;
  std::vector<cudaEvent_t> free_events_;

  void check_async(const std::string& what) {
    if (!comm_) fail(what + ": the NCCL communicator was aborted");
    ncclResult_t async = ncclSuccess;
    NCCL_CHECK(ncclCommGetAsyncError(comm_, &async));
    if (async != ncclSuccess && async != ncclInProgress)
      fail(what + " failed: " + ncclGetErrorString(async) + " (a peer rank died or its GPU failed)");
  }

  [[noreturn]] void fail(const std::string& message) {
    if (comm_) ncclCommAbort(comm_);
    comm_ = nullptr;
    throw Error(kExitFailure, "rank " + std::to_string(rank_) + " of " + std::to_string(size_) +
                                  ": " + message + "; aborted the NCCL communicator");
  }

  std::unique_ptr<Communicator> host_;
  double timeout_s_;
  int rank_ = 0, size_ = 1, device_ = 0;
  cudaStream_t stream_ = nullptr;
  cudaStream_t compute_ = nullptr;
  cudaEvent_t ready_ = nullptr;
  ncclComm_t comm_ = nullptr;
};

NcclRequest::~NcclRequest() {
  // The buffer may be freed right after us: an unfinished all-reduce must end
  // here. Destructors never throw, so a failure ends the job instead.
  if (!finished_) {
    try {
      owner_.wait_for(done_, what_);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rampart: %s\n", e.what());
      owner_.abort(1);
    }
  }
  owner_.give_back(done_);
}

void NcclRequest::wait() {
  if (finished_) return;
  finished_ = true;  // also on failure: the communicator is aborted, nothing is left to wait for
  owner_.wait_for(done_, what_);
}

bool NcclRequest::test() {
  if (!finished_ && owner_.done(done_, what_)) finished_ = true;
  return finished_;
}

}  // namespace

std::unique_ptr<NcclCommunicator> make_nccl_communicator(const World& world, double timeout_s) {
  return std::make_unique<NcclComm>(world, timeout_s);
}

}  // namespace rampart
