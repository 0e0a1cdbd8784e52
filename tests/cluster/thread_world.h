// A world of N ranks as threads of one process, for testing code above the Communicator whose
// ranks hold different data (FakeCommunicator's ranks are all alike). Every collective is a
// meeting at a barrier: each rank posts its part, then reads the others'. A rank that throws
// leaves the world (the others' collectives then see it no more); run() rethrows the first error.
#pragma once
#include <barrier>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "cluster/comm/communicator.h"

namespace rampart::testing {

class ThreadWorld {
 public:
  explicit ThreadWorld(int size) : size_(size), sync_(size), mail_(size_t(size), std::vector<std::string>(size_t(size))) {}

  void run(const std::function<void(Communicator&)>& fn) {
    std::vector<std::thread> threads;
    std::exception_ptr first;
    std::mutex m;
    for (int r = 0; r < size_; ++r)
      threads.emplace_back([&, r] {
        Rank comm(*this, r);
        try {
          fn(comm);
        } catch (...) {
          std::lock_guard<std::mutex> lock(m);
          if (!first) first = std::current_exception();
          sync_.arrive_and_drop();
          return;
        }
      });
    for (std::thread& t : threads) t.join();
    if (first) std::rethrow_exception(first);
  }

 private:
  class Done final : public CommRequest {
   public:
    void wait() override {}
    bool test() override { return true; }
  };

  class Rank final : public Communicator {
   public:
    Rank(ThreadWorld& w, int rank) : w_(w), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return w_.size_; }
    std::string backend() const override { return "threads"; }
    void allreduce_sum(float* d, int64_t n) override { reduce(d, n, [](float& a, float b) { a += b; }); }
    void allreduce_sum(double* d, int64_t n) override { reduce(d, n, [](double& a, double b) { a += b; }); }
    void allreduce_max(double* d, int64_t n) override { reduce(d, n, [](double& a, double b) { a = std::max(a, b); }); }
    std::unique_ptr<CommRequest> allreduce_sum_async(float* d, int64_t n) override {
      allreduce_sum(d, n);
      return std::make_unique<Done>();
    }
    void broadcast(void* data, int64_t bytes, int root) override {
      std::vector<std::string> parts =
          allgather(rank_ == root ? std::string(static_cast<char*>(data), static_cast<size_t>(bytes)) : std::string());
      std::memcpy(data, parts[size_t(root)].data(), size_t(bytes));
    }
    void barrier() override { allgather(""); }
    std::vector<std::string> allgather(const std::string& s) override {
      return alltoallv(std::vector<std::string>(size_t(w_.size_), s));
    }
    std::vector<std::string> alltoallv(const std::vector<std::string>& to) override {
      if (int(to.size()) != w_.size_) throw std::invalid_argument("alltoallv: one message per rank expected");
      w_.mail_[size_t(rank_)] = to;
      w_.sync_.arrive_and_wait();
      std::vector<std::string> out(static_cast<size_t>(w_.size_));
      for (int q = 0; q < w_.size_; ++q) out[size_t(q)] = w_.mail_[size_t(q)][size_t(rank_)];
      w_.sync_.arrive_and_wait();
      return out;
    }
    [[noreturn]] void abort(int) override { throw std::logic_error("abort"); }

   private:
    template <class T, class Op> void reduce(T* d, int64_t n, Op op) {
      std::vector<std::string> parts = allgather(std::string(reinterpret_cast<const char*>(d), size_t(n) * sizeof(T)));
      std::vector<T> acc(static_cast<size_t>(n));
      std::memcpy(acc.data(), parts[0].data(), size_t(n) * sizeof(T));
      for (size_t q = 1; q < parts.size(); ++q)
        for (int64_t i = 0; i < n; ++i) op(acc[size_t(i)], reinterpret_cast<const T*>(parts[q].data())[i]);
      std::memcpy(d, acc.data(), size_t(n) * sizeof(T));
    }
    ThreadWorld& w_;
    int rank_;
  };

  int size_;
  std::barrier<> sync_;
  std::vector<std::vector<std::string>> mail_;  // mail_[from][to]
};

}  // namespace rampart::testing
