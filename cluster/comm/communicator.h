// The communicator interface: what data parallelism needs from MPI or NCCL.
// Backends live one per file (self_communicator, mpi_communicator, nccl_communicator);
// make_communicator() in communicator.cpp is the one place that chooses.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rampart {

// A started asynchronous operation; wait() blocks until it is complete.
class CommRequest {
 public:
  virtual ~CommRequest() = default;
  virtual void wait() = 0;
  virtual bool test() = 0;  // true when complete (never blocks)
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "self", "mpi", "nccl"

  // In-place sums over all ranks.
  virtual void allreduce_sum(float* data, int64_t n) = 0;
  virtual void allreduce_sum(double* data, int64_t n) = 0;
  virtual void allreduce_max(double* data, int64_t n) = 0;
  // Starts an in-place sum; data must stay valid until the request completes.
  virtual std::unique_ptr<CommRequest> allreduce_sum_async(float* data, int64_t n) = 0;
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // Every rank's string, in rank order (for agreement checks before training).
  virtual std::vector<std::string> allgather(const std::string& s) = 0;
  // Personalized exchange: to[q] goes to rank q (to.size() == size(); to[rank()] comes back as
  // it is); returns what each rank sent this one, in rank order. Empty strings cost nothing.
  virtual std::vector<std::string> alltoallv(const std::vector<std::string>& to) = 0;
  // Ends every rank of the job now with this exit code (MPI_Abort); never returns.
  [[noreturn]] virtual void abort(int code) = 0;
};

// A world of one rank: every collective is the identity.
std::unique_ptr<Communicator> make_self_communicator();

}  // namespace rampart
