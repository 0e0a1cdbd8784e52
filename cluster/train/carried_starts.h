// The trainer's side of carried perturbations (--attack-init carry; the store itself is
// runtime/attacks/carry.h), sharded over the ranks.
//
// Rank r keeps only the perturbations of the examples it owns, a contiguous block of
// examples / world of them (shard_begin), so memory per rank falls with the ranks: 150 KB an
// example for ImageNet is 190 GB in all, 3 GB a rank on 64 ranks. A step's examples are
// attacked by whichever rank the sampler gives them to, so around each step's attack the
// starts travel point to point (one all-to-all each way, only the step's rows):
//   fetch      each owner sends every rank the stored starts of that rank's rows of the step;
//   attack     from those starts (start());
//   record     where the attacks ended, quantized (owned rows go straight into the shard);
//   give_back  every rank sends each owner the new rows of the examples it owns.
// An example's start is therefore the same bits on 1, 2 or 64 ranks. Checkpoints keep the
// file layout of one whole store: the shards pass through rank 0, a piece at a time, into
// /attack (stream), and a resumed rank reads only its own block, for any number of ranks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/comm/communicator.h"
#include "runtime/attacks/attack.h"
#include "runtime/attacks/carry.h"
#include "runtime/checkpoint.h"

namespace rampart {

class CarriedStarts {
 public:
  // enabled = false: nothing is stored, the collectives do nothing, start() returns nullptr.
  CarriedStarts(bool enabled, int64_t examples, int64_t dim, int rank, int world);
  bool enabled() const { return enabled_; }

  // Rank r keeps examples [shard_begin(r), shard_begin(r + 1)): sizes differ by at most one.
  static int64_t shard_begin(int64_t examples, int r, int world);
  static int owner(int64_t example, int64_t examples, int world);
  const PerturbationStore& shard() const { return shard_; }

  // Reads this rank's block of a checkpoint's carried perturbations (from ck_path, which ck was
  // read from). DataError (naming ck_path) when they were written for another number of examples
  // or pixels; false when it has none.
  bool restore(const Checkpoint& ck, const std::string& ck_path);
  // Sets what a checkpoint about to be written carries (nothing when disabled). through set: the
  // rows come from every rank through stream(), so every other rank must call stream(*through, {})
  // once for each file rank 0 writes. through null: this rank's rows and zeros for the others',
  // a file of the right size to time a write with (no collective).
  void save(Checkpoint& ck, Communicator* through) const;
  // Collective: every rank's rows in order into rank 0's sink (the others pass none), a piece of
  // at most 64 MiB at a time, so rank 0 never holds more than its shard and one piece.
  void stream(Communicator& comm, const CarriedRowsSink& sink) const;

  // A step (each collective when world > 1, so every rank calls it, with or without rows):
  // batch[0..n_global) is the global batch, of which this rank attacks its rank_slice.
  void fetch(Communicator& comm, const int64_t* batch, int64_t n_global);
  // The starts of this rank's rows of the step (valid until the next fetch); nullptr when disabled.
  const CarriedStart* start();
  // Where this rank's attacks ended: x_adv - x, in units of eps / 127.
  void record(const float* x_adv, const float* x, float eps);
  void give_back(Communicator& comm);

  // Collective: {examples, stored, fingerprint (the same however the store is sharded), shards,
  // shard_bytes (the largest rank's), sent_bytes_per_step and received_bytes_per_step (fetch and
  // give_back, the busiest rank's mean over its steps)}.
  nlohmann::json report(Communicator& comm) const;

 private:
  bool enabled_;
  int rank_, world_;
  PerturbationStore shard_;
  // This step: this rank's examples, their starts, and where their attacks ended.
  std::vector<int64_t> local_;
  std::vector<float> delta_;
  std::vector<uint8_t> has_;
  CarriedStart start_;
  std::vector<int8_t> new_codes_;
  std::vector<float> new_scale_;
  bool recorded_ = false;
  int64_t steps_ = 0;
  double sent_bytes_ = 0, received_bytes_ = 0;  // by this rank, fetch and give_back
};

}  // namespace rampart
