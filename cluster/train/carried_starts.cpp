// Carried perturbations in the training loop (see carried_starts.h).
#include "cluster/train/carried_starts.h"

#include <algorithm>
#include <cstdio>

#include "runtime/errors.h"

namespace rampart {

CarriedStarts::CarriedStarts(bool enabled, int64_t examples, int64_t dim)
    : enabled_(enabled), store_(enabled ? examples : 0, dim) {}

bool CarriedStarts::restore(Checkpoint& ck, const std::string& ck_path) {
  if (!enabled_ || ck.carried_scale.empty()) return false;
  if (ck.carried_dim != store_.dim() || int64_t(ck.carried_scale.size()) != store_.examples())
    throw DataError("--resume: " + ck_path + " carries perturbations for " + std::to_string(ck.carried_scale.size()) +
                    " examples of " + std::to_string(ck.carried_dim) + " pixels, but this run trains on " +
                    std::to_string(store_.examples()) + " of " + std::to_string(store_.dim()) +
                    "; resume with the same data, --limit and guard settings");
  store_.restore(std::move(ck.carried_codes), std::move(ck.carried_scale));
  return true;
}

void CarriedStarts::save(Checkpoint& ck) const {
  if (!enabled_) return;
  ck.carried_dim = store_.dim();
  ck.carried_codes = store_.codes();
  ck.carried_scale = store_.scales();
}

const CarriedStart* CarriedStarts::start(const int64_t* idx, int64_t n) {
  if (!enabled_) return nullptr;
  delta_.resize(n * store_.dim());
  has_.resize(n);
  store_.load(idx, n, delta_.data(), has_.data());
  start_ = {delta_.data(), has_.data()};
  return &start_;
}

void CarriedStarts::record(const int64_t* idx, int64_t n, const float* x_adv, const float* x, float eps) {
  if (enabled_) store_.store(idx, n, x_adv, x, eps);
}

void CarriedStarts::exchange(Communicator& comm, const int64_t* idx, int64_t n) {
  if (!enabled_ || comm.size() == 1) return;
  const std::vector<std::string> parts = comm.allgather(store_.pack(idx, n));
  for (int r = 0; r < comm.size(); ++r)
    if (r != comm.rank()) store_.unpack(parts[r]);
}

nlohmann::json CarriedStarts::report(Communicator& comm) const {
  char fp[17];
  std::snprintf(fp, sizeof fp, "%016llx", (unsigned long long)store_.fingerprint());
  const std::vector<std::string> fps = comm.allgather(fp);
  const bool agree = std::all_of(fps.begin(), fps.end(), [&](const std::string& f) { return f == fps[0]; });
  return {{"examples", store_.examples()}, {"stored", store_.stored()}, {"fingerprint", fp},
          {"fingerprints_agree", agree}};
}

}  // namespace rampart
