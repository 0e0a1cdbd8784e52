// A pretend world of N identical ranks inside one process, for testing code
// above the Communicator without MPI: every rank holds the same data, so a sum
// multiplies by N; allgather returns scripted per-rank strings when given.
#pragma once
#include <functional>
#include <stdexcept>

#include "cluster/comm/communicator.h"

namespace rampart::testing {

class FakeCommunicator final : public Communicator {
 public:
  explicit FakeCommunicator(int size) : size_(size) {}
  int rank() const override { return 0; }
  int size() const override { return size_; }
  std::string backend() const override { return "fake"; }
  void allreduce_sum(float* d, int64_t n) override { for (int64_t i = 0; i < n; ++i) d[i] *= float(size_); }
  void allreduce_sum(double* d, int64_t n) override { for (int64_t i = 0; i < n; ++i) d[i] *= size_; }
  void allreduce_max(double*, int64_t) override {}
  std::unique_ptr<CommRequest> allreduce_sum_async(float* d, int64_t n) override {
    started.push_back({d, n});
    return std::make_unique<Request>(this, d, n);
  }
  void broadcast(void*, int64_t, int) override {}
  void barrier() override {}
  std::vector<std::string> allgather(const std::string& s) override {
    if (gather_script) return gather_script(s);
    return std::vector<std::string>(size_t(size_), s);
  }
  // Every rank sends this one what this one sends it (to comes back as it is).
  std::vector<std::string> alltoallv(const std::vector<std::string>& to) override { return to; }
  [[noreturn]] void abort(int) override { throw std::logic_error("abort"); }

  std::vector<std::pair<float*, int64_t>> started;  // async all-reduces, in start order
  int tests = 0, waits = 0;
  int polls_to_complete = 2;  // test() returns true from the n-th call on
  std::function<std::vector<std::string>(const std::string&)> gather_script;

 private:
  class Request final : public CommRequest {
   public:
    Request(FakeCommunicator* c, float* d, int64_t n) : c_(c), d_(d), n_(n) {}
    ~Request() override { finish(); }
    void wait() override { ++c_->waits; finish(); }
    bool test() override {
      ++c_->tests;
      if (++polls_ >= c_->polls_to_complete) finish();
      return done_;
    }
   private:
    void finish() {
      if (done_) return;
      c_->allreduce_sum(d_, n_);
      done_ = true;
    }
    FakeCommunicator* c_;
    float* d_;
    int64_t n_;
    int polls_ = 0;
    bool done_ = false;
  };
  int size_;
};

}  // namespace rampart::testing
