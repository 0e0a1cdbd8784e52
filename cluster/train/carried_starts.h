// The trainer's side of carried perturbations (--attack-init carry; the store itself is
// runtime/attacks/carry.h): one store on every rank, the starts of each step's attack,
// the per-step exchange that keeps the ranks' stores identical, and the checkpoint form.
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
  // enabled = false: nothing is stored and start() returns nullptr.
  CarriedStarts(bool enabled, int64_t examples, int64_t dim);
  bool enabled() const { return enabled_; }

  // Takes the store of a checkpoint being resumed. DataError (naming ck_path) when it
  // was written for another number of examples or pixels; false when it has none.
  bool restore(Checkpoint& ck, const std::string& ck_path);
  // Puts the store into a checkpoint about to be written (nothing when disabled).
  void save(Checkpoint& ck) const;

  // The starts of this step's examples idx[0..n) (the training-set indices); valid until
  // the next call. nullptr when disabled.
  const CarriedStart* start(const int64_t* idx, int64_t n);
  // Stores where this step's attack ended: x_adv - x, in units of eps / 127.
  void record(const int64_t* idx, int64_t n, const float* x_adv, const float* x, float eps);
  // Every rank's rows of this step to every rank. Collective when enabled and world > 1.
  void exchange(Communicator& comm, const int64_t* idx, int64_t n);

  // {examples, stored, fingerprint, fingerprints_agree}: collective (every rank's fingerprint).
  nlohmann::json report(Communicator& comm) const;

 private:
  bool enabled_;
  PerturbationStore store_;
  std::vector<float> delta_;
  std::vector<uint8_t> has_;
  CarriedStart start_;
};

}  // namespace rampart
