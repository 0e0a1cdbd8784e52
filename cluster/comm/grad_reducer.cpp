// Bucketed, overlapped gradient all-reduce (see grad_reducer.h).
#include "cluster/comm/grad_reducer.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace rampart {
namespace {
double seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

GradReducer::GradReducer(Communicator& comm, float* flat_grads, std::vector<std::pair<int64_t, int64_t>> layer_ranges,
                         int64_t bucket_bytes)
    : comm_(comm), grads_(flat_grads), active_(comm.size() > 1) {
  buckets_ = assign_buckets(layer_ranges, bucket_bytes, int(sizeof(float)));
  bucket_of_layer_.assign(layer_ranges.size(), -1);
  for (size_t b = 0; b < buckets_.size(); ++b)
    for (int l : buckets_[b].layers) bucket_of_layer_[size_t(l)] = int(b);
  pending_.assign(buckets_.size(), 0);
  reported_.assign(layer_ranges.size(), 0);
  requests_.resize(buckets_.size());
  started_.resize(buckets_.size());
  done_.assign(buckets_.size(), 0);
}

GradReducer::~GradReducer() = default;  // each request's destructor waits for it

void GradReducer::begin_step() {
  if (!active_) return;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    if (requests_[b]) throw std::logic_error("GradReducer::begin_step: the previous step was not finished");
    pending_[b] = int(buckets_[b].layers.size());
    done_[b] = 0;
  }
  std::fill(reported_.begin(), reported_.end(), 0);
  next_to_start_ = 0;
  first_unfinished_ = 0;
  current_ = Stats{};
}

void GradReducer::on_grad_ready(int layer) {
  if (!active_) return;
  if (layer < 0 || size_t(layer) >= bucket_of_layer_.size())
    throw std::out_of_range("GradReducer::on_grad_ready: no layer " + std::to_string(layer));
  int b = bucket_of_layer_[size_t(layer)];
  if (b >= 0) {
    if (reported_[size_t(layer)])
      throw std::logic_error("GradReducer::on_grad_ready: layer " + std::to_string(layer) +
                             " reported twice in one step; call begin_step() before each backward");
    reported_[size_t(layer)] = 1;
    if (--pending_[size_t(b)] == 0) start_ready_buckets();
  }
  poll();
}

void GradReducer::start_ready_buckets() {
  while (next_to_start_ < buckets_.size() && pending_[next_to_start_] == 0) {
    const Bucket& bk = buckets_[next_to_start_];
    started_[next_to_start_] = Clock::now();
    requests_[next_to_start_] = comm_.allreduce_sum_async(grads_ + bk.begin, bk.end - bk.begin);
    current_.bytes += double(bk.end - bk.begin) * sizeof(float);
    ++next_to_start_;
  }
}

// Drives MPI's progress engine and notes completions, oldest first (they
// usually complete in order, so the loop stops at the first unfinished one).
void GradReducer::poll() {
  while (first_unfinished_ < next_to_start_) {
    size_t b = first_unfinished_;
    if (!requests_[b]->test()) break;
    current_.allreduce_s_total += seconds(Clock::now() - started_[b]);
    done_[b] = 1;
    requests_[b].reset();
    ++first_unfinished_;
  }
}

void GradReducer::finish(float scale) {
  if (!active_) {
    stats_ = Stats{};
    if (scale != 1.0f)
      for (const Bucket& bk : buckets_)
        for (int64_t i = bk.begin; i < bk.end; ++i) grads_[i] *= scale;
    return;
  }
  // Exposed time: starting the late buckets and waiting; scaling is compute.
  auto t0 = Clock::now();
  for (size_t b = next_to_start_; b < buckets_.size(); ++b) pending_[b] = 0;
  start_ready_buckets();
  current_.exposed_wait_s = seconds(Clock::now() - t0);
  for (size_t b = 0; b < buckets_.size(); ++b) {
    if (!done_[b]) {
      auto w0 = Clock::now();
      requests_[b]->wait();
      auto w1 = Clock::now();
      current_.exposed_wait_s += seconds(w1 - w0);
      current_.allreduce_s_total += seconds(w1 - started_[b]);
      done_[b] = 1;
      requests_[b].reset();
    }
    if (scale != 1.0f) {
      float* g = grads_ + buckets_[b].begin;
      for (int64_t i = 0, n = buckets_[b].end - buckets_[b].begin; i < n; ++i) g[i] *= scale;
    }
  }
  first_unfinished_ = buckets_.size();
  current_.buckets = int(buckets_.size());
  stats_ = current_;
}

}  // namespace rampart
