// MPI backend of the Communicator interface (Open MPI, MPICH).
#include "cluster/comm/mpi_communicator.h"

#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <csignal>
#include <cstdlib>

#include "cluster/comm/heartbeat.h"
#include "cluster/comm/watchdog.h"
#include "runtime/errors.h"

namespace rampart {
namespace {

// MPI counts are ints: large buffers go in pieces of at most this many elements.
constexpr int64_t kMaxChunk = int64_t(1) << 30;

void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(kExitFailure, std::string("MPI call failed: ") + call + ": " + std::string(text, size_t(len)));
}
#define RAMPART_MPI(call) check((call), #call)

// Ends the whole job from the watchdog thread. alarm() is the fallback if the
// runtime is too broken to carry out MPI_Abort.
[[noreturn]] void abort_job(int code) {
  ::alarm(10);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

class MpiRequest final : public CommRequest {
 public:
  MpiRequest(MPI_Request req, Watchdog& dog, std::string what) : req_(req), dog_(dog), what_(std::move(what)) {}
  ~MpiRequest() override {
    // The buffer may be freed right after us: an unfinished operation must end
    // here. Destructors never throw, so errors end the job instead.
    if (req_ == MPI_REQUEST_NULL) return;
    auto guard = dog_.guard(what_);
    if (MPI_Wait(&req_, MPI_STATUS_IGNORE) != MPI_SUCCESS) abort_job(1);
  }
  void wait() override {
    if (req_ == MPI_REQUEST_NULL) return;
    auto guard = dog_.guard(what_);
    RAMPART_MPI(MPI_Wait(&req_, MPI_STATUS_IGNORE));
  }
  bool test() override {
    if (req_ == MPI_REQUEST_NULL) return true;
    int done = 0;
    RAMPART_MPI(MPI_Test(&req_, &done, MPI_STATUS_IGNORE));
    return done != 0;
  }

 private:
  MPI_Request req_;
  Watchdog& dog_;
  std::string what_;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(const World& world, double timeout_s) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      RAMPART_MPI(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
      owns_mpi_ = true;
      if (provided < MPI_THREAD_FUNNELED) {
        MPI_Finalize();
        throw ConfigError("this MPI library offers thread level " + std::to_string(provided) +
                          " but rampart needs at least MPI_THREAD_FUNNELED");
      }
    }
    // Errors come back as codes and become exceptions, instead of MPI aborting.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    RAMPART_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
    RAMPART_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size_));
    if ((world.size > 0 && world.size != size_) || (world.size > 0 && world.rank != rank_)) {
      std::string msg = "the launcher's environment says " + describe(world) + " but MPI says rank " +
                        std::to_string(rank_) + " of " + std::to_string(size_) +
                        "; start ranks with mpirun, or with srun --mpi=pmix under Slurm";
      if (owns_mpi_) MPI_Finalize();
      throw ConfigError(msg);
    }
    // Our own communicator, so other MPI users in the process cannot mix with our collectives.
    RAMPART_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &comm_));
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    dog_ = std::make_unique<Watchdog>(timeout_s, rank_, [](const std::string&) { abort_job(1); });
    if (dog_->enabled() && size_ > 1) start_heartbeat(timeout_s);
  }

  ~MpiCommunicator() override {
    // A peer that never reaches MPI_Finalize would hang us here too.
    auto guard = dog_->guard("shutting down MPI");
    MPI_Comm_free(&comm_);
    if (owns_mpi_) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  void allreduce_sum(float* data, int64_t n) override { allreduce(data, n, MPI_FLOAT, 4, MPI_SUM); }
  void allreduce_sum(double* data, int64_t n) override { allreduce(data, n, MPI_DOUBLE, 8, MPI_SUM); }
  void allreduce_max(double* data, int64_t n) override { allreduce(data, n, MPI_DOUBLE, 8, MPI_MAX); }

  std::unique_ptr<CommRequest> allreduce_sum_async(float* data, int64_t n) override {
    if (n > kMaxChunk)
      throw std::invalid_argument("allreduce_sum_async: " + std::to_string(n) +
                                  " elements exceed one MPI request; use smaller buckets");
    MPI_Request req = MPI_REQUEST_NULL;
    std::string what = "all-reduce of " + format_bytes(double(n) * 4);
    {
      // Nonblocking collectives are matched in order; starting one can block in
      // some MPI libraries, so it is watched too.
      auto guard = dog_->guard(what);
      RAMPART_MPI(MPI_Iallreduce(MPI_IN_PLACE, data, int(n), MPI_FLOAT, MPI_SUM, comm_, &req));
    }
    return std::make_unique<MpiRequest>(req, *dog_, std::move(what));
  }

  void broadcast(void* data, int64_t bytes, int root) override {
    auto guard = dog_->guard("broadcast of " + format_bytes(double(bytes)) + " from rank " + std::to_string(root));
    char* p = static_cast<char*>(data);
    for (int64_t off = 0; off < bytes; off += kMaxChunk)
      RAMPART_MPI(MPI_Bcast(p + off, int(std::min(kMaxChunk, bytes - off)), MPI_BYTE, root, comm_));
  }

  void barrier() override {
    auto guard = dog_->guard("barrier");
    RAMPART_MPI(MPI_Barrier(comm_));
  }

  std::vector<std::string> allgather(const std::string& s) override {
    auto guard = dog_->guard("all-gather of " + format_bytes(double(s.size())));
    if (s.size() > size_t(INT_MAX / std::max(size_, 1)))
      throw std::invalid_argument("allgather: string of " + std::to_string(s.size()) + " bytes is too long");
    int len = int(s.size());
    std::vector<int> lens(static_cast<size_t>(size_)), offs(static_cast<size_t>(size_));
    RAMPART_MPI(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, comm_));
    int64_t total = 0;
    for (int r = 0; r < size_; ++r) {
      offs[size_t(r)] = int(total);
      total += lens[size_t(r)];
    }
    if (total > INT_MAX) throw std::invalid_argument("allgather: strings too long in total");
    std::string all(size_t(total), '\0');
    RAMPART_MPI(MPI_Allgatherv(s.data(), len, MPI_CHAR, all.data(), lens.data(), offs.data(), MPI_CHAR, comm_));
    std::vector<std::string> out;
    out.reserve(size_t(size_));
    for (int r = 0; r < size_; ++r) out.push_back(all.substr(size_t(offs[size_t(r)]), size_t(lens[size_t(r)])));
    return out;
  }

  std::vector<std::string> alltoallv(const std::vector<std::string>& to) override {
    if (int(to.size()) != size_)
      throw std::invalid_argument("alltoallv: expected " + std::to_string(size_) + " messages, found " +
                                  std::to_string(to.size()));
    int64_t out_bytes = 0;
    for (const std::string& m : to) out_bytes += int64_t(m.size());
    auto guard = dog_->guard("all-to-all of " + format_bytes(double(out_bytes)));
    const auto n = size_t(size_);
    std::vector<int> send_len(n), send_off(n), recv_len(n), recv_off(n);
    std::string send;
    send.reserve(size_t(out_bytes));
    for (size_t q = 0; q < n; ++q) {
      if (int64_t(send.size()) + int64_t(to[q].size()) > INT_MAX)
        throw std::invalid_argument("alltoallv: " + format_bytes(double(out_bytes)) + " exceed one MPI message");
      send_off[q] = int(send.size());
      send_len[q] = int(to[q].size());
      send += to[q];
    }
    RAMPART_MPI(MPI_Alltoall(send_len.data(), 1, MPI_INT, recv_len.data(), 1, MPI_INT, comm_));
    int64_t total = 0;
    for (size_t q = 0; q < n; ++q) {
      recv_off[q] = int(total);
      total += recv_len[q];
      if (total > INT_MAX) throw std::invalid_argument("alltoallv: the messages to rank " +
                                                       std::to_string(rank_) + " exceed one MPI message");
    }
    std::string all(size_t(total), '\0');
    RAMPART_MPI(MPI_Alltoallv(send.data(), send_len.data(), send_off.data(), MPI_CHAR, all.data(), recv_len.data(),
                              recv_off.data(), MPI_CHAR, comm_));
    std::vector<std::string> out;
    out.reserve(n);
    for (size_t q = 0; q < n; ++q) out.push_back(all.substr(size_t(recv_off[q]), size_t(recv_len[q])));
    return out;
  }

  [[noreturn]] void abort(int code) override { abort_job(code); }

 private:
  // Heartbeats name the missing rank when a collective times out (watchdog.h). A rank
  // whose socket fails trains on, with the plain message.
  void start_heartbeat(double timeout_s) {
    // 5 datagrams a second to each peer up to 64 ranks, fewer beyond (each rank sends size - 1
    // per period), and at least 4 periods within the timeout.
    const double period = std::min(0.2 * std::max(1.0, size_ / 64.0), timeout_s / 4);
    std::string card(size_t(Heartbeat::kCardBytes), '\0');
    std::unique_ptr<Heartbeat> hb;
    try {
      hb = std::make_unique<Heartbeat>(rank_, size_, period);
      std::string c = hb->card();
      std::copy(c.begin(), c.end(), card.begin());
    } catch (const std::exception&) {
      hb.reset();  // every rank still takes part in the all-gather, with an empty card
    }
    std::string all(card.size() * size_t(size_), '\0');
    {
      auto guard = dog_->guard("all-gather of the heartbeat addresses");
      RAMPART_MPI(MPI_Allgather(card.data(), int(card.size()), MPI_CHAR, all.data(), int(card.size()), MPI_CHAR, comm_));
    }
    std::vector<std::string> cards;
    for (int r = 0; r < size_; ++r) {
      std::string c = all.substr(size_t(r) * card.size(), card.size());
      cards.push_back(c.substr(0, c.find('\0')));
    }
    if (!hb) return;
    for (const auto& c : cards)
      if (c.empty()) return;  // a peer has no socket: no one can be blamed fairly
    try {
      hb->start(cards);
    } catch (const std::exception&) {
      return;
    }
    heartbeat_ = std::move(hb);
    const double threshold = std::max(3 * period, 1.0);
    Heartbeat* h = heartbeat_.get();
    dog_->set_diagnosis([h, threshold] { return h->describe_silent(threshold); });
  }

  void allreduce(void* data, int64_t n, MPI_Datatype type, int elem, MPI_Op op) {
    auto guard = dog_->guard("all-reduce of " + format_bytes(double(n) * elem));
    char* p = static_cast<char*>(data);
    for (int64_t off = 0; off < n; off += kMaxChunk)
      RAMPART_MPI(MPI_Allreduce(MPI_IN_PLACE, p + off * elem, int(std::min(kMaxChunk, n - off)), type, op, comm_));
  }

  int rank_ = 0, size_ = 1;
  bool owns_mpi_ = false;
  MPI_Comm comm_ = MPI_COMM_NULL;
  std::unique_ptr<Heartbeat> heartbeat_;  // before dog_: outlives the watchdog thread that asks it
  std::unique_ptr<Watchdog> dog_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(const World& world, double timeout_s) {
  return std::make_unique<MpiCommunicator>(world, timeout_s);
}

}  // namespace rampart
