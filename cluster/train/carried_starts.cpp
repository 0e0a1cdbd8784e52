// Carried perturbations in the training loop, sharded over the ranks (see carried_starts.h).
#include "cluster/train/carried_starts.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "runtime/data/sampler.h"
#include "runtime/errors.h"

namespace rampart {
namespace {

constexpr int64_t kStreamPieceBytes = int64_t(64) << 20;

std::string hex64(uint64_t v) {
  char s[17];
  std::snprintf(s, sizeof s, "%016llx", (unsigned long long)v);
  return s;
}

}  // namespace

int64_t CarriedStarts::shard_begin(int64_t examples, int r, int world) { return examples * r / world; }

int CarriedStarts::owner(int64_t example, int64_t examples, int world) {
  // The r with shard_begin(r) <= example < shard_begin(r + 1).
  return int(((example + 1) * world - 1) / examples);
}

CarriedStarts::CarriedStarts(bool enabled, int64_t examples, int64_t dim, int rank, int world)
    : enabled_(enabled), rank_(rank), world_(world) {
  if (!enabled_) return;
  const int64_t b = shard_begin(examples, rank, world), e = shard_begin(examples, rank + 1, world);
  shard_ = PerturbationStore(examples, dim, b, e - b);
}

bool CarriedStarts::restore(const Checkpoint& ck, const std::string& ck_path) {
  if (!enabled_ || ck.carried_examples == 0) return false;
  if (ck.carried_dim != shard_.dim() || ck.carried_examples != shard_.examples())
    throw DataError("--resume: " + ck_path + " carries perturbations for " + std::to_string(ck.carried_examples) +
                    " examples of " + std::to_string(ck.carried_dim) + " pixels, but this run trains on " +
                    std::to_string(shard_.examples()) + " of " + std::to_string(shard_.dim()) +
                    "; resume with the same data, --limit and guard settings");
  CarriedRowsRead rows = read_carried_rows(ck_path, shard_.first(), shard_.first() + shard_.rows());
  shard_.restore(std::move(rows.codes), std::move(rows.scale));
  return true;
}

void CarriedStarts::save(Checkpoint& ck, Communicator* through) const {
  if (!enabled_) return;
  ck.carried_examples = shard_.examples();
  ck.carried_dim = shard_.dim();
  if (through) {
    ck.carried_rows = [this, through](const CarriedRowsSink& sink) { stream(*through, sink); };
    return;
  }
  ck.carried_rows = [this](const CarriedRowsSink& sink) {
    const int64_t dim = shard_.dim(), piece = std::max<int64_t>(1, kStreamPieceBytes / dim);
    const std::vector<int8_t> zero_codes(size_t(std::min(piece, shard_.examples()) * dim), 0);
    const std::vector<float> zero_scale(size_t(std::min(piece, shard_.examples())), 0.f);
    for (int64_t first = 0; first < shard_.examples();) {
      if (shard_.holds(first)) {
        const int64_t r = first - shard_.first();
        sink({first, shard_.rows(), shard_.codes().data() + r * dim, shard_.scales().data() + r});
        first += shard_.rows();
      } else {
        const int64_t end = first < shard_.first() ? shard_.first() : shard_.examples();
        const int64_t k = std::min(piece, end - first);
        sink({first, k, zero_codes.data(), zero_scale.data()});
        first += k;
      }
    }
  };
}

void CarriedStarts::stream(Communicator& comm, const CarriedRowsSink& sink) const {
  if (!enabled_) return;
  const int64_t n = shard_.examples(), dim = shard_.dim();
  const int64_t piece = std::max<int64_t>(1, kStreamPieceBytes / dim);
  // Every rank walks the same schedule: shard by shard, piece by piece.
  for (int r = 0; r < world_; ++r) {
    const int64_t b = shard_begin(n, r, world_), e = shard_begin(n, r + 1, world_);
    for (int64_t first = b; first < e; first += piece) {
      const int64_t k = std::min(piece, e - first);
      const int8_t* codes = shard_.codes().data() + (first - b) * dim;
      const float* scale = shard_.scales().data() + (first - b);
      if (r == 0) {
        if (rank_ == 0) sink({first, k, codes, scale});
        continue;
      }
      std::vector<std::string> to(static_cast<size_t>(world_));
      if (rank_ == r) {
        std::string& m = to[0];
        m.resize(size_t(k * dim) + size_t(k) * sizeof(float));
        std::memcpy(m.data(), codes, size_t(k * dim));
        std::memcpy(m.data() + k * dim, scale, size_t(k) * sizeof(float));
      }
      const std::vector<std::string> from = comm.alltoallv(to);
      if (rank_ != 0) continue;
      const std::string& m = from[size_t(r)];
      if (m.size() != size_t(k * dim) + size_t(k) * sizeof(float))
        throw std::runtime_error("carried perturbations: rank " + std::to_string(r) + " sent " +
                                 std::to_string(m.size()) + " bytes for examples [" + std::to_string(first) + ", " +
                                 std::to_string(first + k) + ")");
      std::vector<float> s(static_cast<size_t>(k));
      std::memcpy(s.data(), m.data() + k * dim, size_t(k) * sizeof(float));
      sink({first, k, reinterpret_cast<const int8_t*>(m.data()), s.data()});
    }
  }
}

void CarriedStarts::fetch(Communicator& comm, const int64_t* batch, int64_t n_global) {
  if (!enabled_) return;
  const int64_t n = shard_.examples(), dim = shard_.dim();
  const auto [mb, me] = rank_slice(0, n_global, rank_, world_);
  local_.assign(batch + mb, batch + me);
  const int64_t n_local = me - mb;
  // Every row is written below: from this rank's shard, or from its owner's message.
  delta_.resize(size_t(n_local * dim));
  has_.resize(size_t(n_local));
  recorded_ = false;
  ++steps_;
  for (int64_t e = 0; e < n_local; ++e)
    if (shard_.holds(local_[e])) shard_.load(&local_[e], 1, delta_.data() + e * dim, &has_[e]);
  if (world_ == 1) return;

  // To each rank, the stored starts of its rows that this rank owns.
  std::vector<std::string> to(static_cast<size_t>(world_));
  std::vector<int64_t> rows;
  for (int q = 0; q < world_; ++q) {
    if (q == rank_) continue;
    const auto [qb, qe] = rank_slice(0, n_global, q, world_);
    rows.clear();
    for (int64_t i = qb; i < qe; ++i)
      if (shard_.holds(batch[i])) rows.push_back(batch[i]);
    if (!rows.empty()) to[size_t(q)] = shard_.pack(rows.data(), int64_t(rows.size()));
    sent_bytes_ += double(to[size_t(q)].size());
  }
  const std::vector<std::string> from = comm.alltoallv(to);
  // From each owner, the starts of this rank's rows it owns, in this rank's order.
  for (int o = 0; o < world_; ++o) {
    if (o == rank_) continue;
    received_bytes_ += double(from[size_t(o)].size());
    int64_t e = 0;
    auto next_row = [&] {
      while (e < n_local && owner(local_[e], n, world_) != o) ++e;
      return e;
    };
    if (!from[size_t(o)].empty())
      for_each_packed_row(from[size_t(o)], dim, [&](int64_t i, float s, const int8_t* codes) {
        if (next_row() == n_local || local_[e] != i)
          throw std::runtime_error("carried perturbations: rank " + std::to_string(o) + " sent the start of example " +
                                   std::to_string(i) + ", which rank " + std::to_string(rank_) +
                                   " does not attack next in this step (the ranks disagree on the batch)");
        has_[e] = s > 0;
        dequantize_perturbation(codes, s, dim, delta_.data() + e * dim);
        ++e;
      });
    if (next_row() != n_local)
      throw std::runtime_error("carried perturbations: rank " + std::to_string(o) + " sent no start for example " +
                               std::to_string(local_[e]) + " of rank " + std::to_string(rank_) + "'s rows");
  }
}

const CarriedStart* CarriedStarts::start() {
  if (!enabled_) return nullptr;
  start_ = {delta_.data(), has_.data()};
  return &start_;
}

void CarriedStarts::record(const float* x_adv, const float* x, float eps) {
  if (!enabled_) return;
  const int64_t dim = shard_.dim(), n_local = int64_t(local_.size());
  new_codes_.resize(size_t(n_local * dim));
  new_scale_.resize(size_t(n_local));
  for (int64_t e = 0; e < n_local; ++e) {
    if (shard_.holds(local_[e]))
      shard_.store(&local_[e], 1, x_adv + e * dim, x + e * dim, eps);
    else
      new_scale_[e] = quantize_perturbation(x_adv + e * dim, x + e * dim, dim, eps, new_codes_.data() + e * dim);
  }
  recorded_ = true;
}

void CarriedStarts::give_back(Communicator& comm) {
  if (!enabled_ || world_ == 1) return;
  const int64_t n = shard_.examples(), dim = shard_.dim(), n_local = int64_t(local_.size());
  std::vector<std::string> to(static_cast<size_t>(world_));
  if (recorded_) {
    std::vector<int64_t> idx;
    std::vector<float> scale;
    std::vector<int8_t> codes;
    for (int o = 0; o < world_; ++o) {
      if (o == rank_) continue;
      idx.clear(), scale.clear(), codes.clear();
      for (int64_t e = 0; e < n_local; ++e)
        if (owner(local_[e], n, world_) == o) {
          idx.push_back(local_[e]);
          scale.push_back(new_scale_[e]);
          codes.insert(codes.end(), new_codes_.begin() + e * dim, new_codes_.begin() + (e + 1) * dim);
        }
      if (!idx.empty()) to[size_t(o)] = pack_rows(idx.data(), scale.data(), codes.data(), int64_t(idx.size()), dim);
      sent_bytes_ += double(to[size_t(o)].size());
    }
  }
  const std::vector<std::string> from = comm.alltoallv(to);
  for (int q = 0; q < world_; ++q) {
    if (q == rank_ || from[size_t(q)].empty()) continue;
    received_bytes_ += double(from[size_t(q)].size());
    shard_.unpack(from[size_t(q)]);  // out_of_range for a row this rank does not own
  }
  recorded_ = false;
}

nlohmann::json CarriedStarts::report(Communicator& comm) const {
  // Per rank: rows stored, fingerprint, shard bytes, bytes sent and received per step.
  const double steps = double(std::max<int64_t>(steps_, 1));
  char mine[160];
  std::snprintf(mine, sizeof mine, "%lld %s %lld %.1f %.1f", (long long)shard_.stored(),
                hex64(shard_.fingerprint()).c_str(), (long long)shard_.bytes(), sent_bytes_ / steps,
                received_bytes_ / steps);
  int64_t stored = 0, shard_bytes = 0;
  uint64_t fp = 0;
  double sent = 0, received = 0;
  for (const std::string& p : comm.allgather(mine)) {
    long long s = 0, b = 0;
    unsigned long long f = 0;
    double x = 0, y = 0;
    if (std::sscanf(p.c_str(), "%lld %llx %lld %lf %lf", &s, &f, &b, &x, &y) != 5)
      throw std::runtime_error("carried perturbations: a rank reported '" + p + "'");
    stored += s;
    fp += f;
    shard_bytes = std::max<int64_t>(shard_bytes, b);
    sent = std::max(sent, x);
    received = std::max(received, y);
  }
  return {{"examples", shard_.examples()}, {"stored", stored}, {"fingerprint", hex64(fp)},
          {"shards", world_}, {"shard_bytes", shard_bytes}, {"sent_bytes_per_step", sent},
          {"received_bytes_per_step", received}};
}

}  // namespace rampart
