// The cost model of adversarial training: measured seconds per pass -> predicted seconds,
// GPU-hours and money per step and per epoch, for any attack strength K and world size.
// Pure arithmetic (no MPI, no clocks): the trainer measures, this file predicts.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

namespace rampart {

// Measured seconds for one local batch on one rank.
struct StepCosts {
  double fwd_s = 0;             // one forward pass
  double bwd_input_s = 0;       // backward to the input only (an attack step's gradient)
  double bwd_full_s = 0;        // backward to the weights and the input (the training step)
  double pgd_update_s = 0;      // sign, step, project, clamp: tiny, but counted
  double allreduce_s = 0;       // one gradient all-reduce, measured at measured_world ranks
  double overlap_fraction = 0;  // share of the all-reduce hidden behind the backward, [0,1]
  double eval_s_per_image = 0;  // final evaluation (clean + all its attacks), per image, one rank
  double optimizer_s = 0;       // optimizer update
  double data_s = 0;            // loading and staging the batch (not hidden by prefetch)
  int local_batch = 1;
  int measured_world = 1;       // world size at which allreduce_s was measured
  // Passes of a step besides the attack's, by the training loss: cross-entropy 1 forward and
  // 1 backward; MART 3 and 2 (clean and attacked forwards, both backwards, the clean forward
  // again before its backward); TRADES 4 and 2 (its attack also forwards the clean batch).
  double train_forwards = 1, train_backwards = 1;
  // Whole steps, timed end to end as the trainer runs them (attack, carried starts, loss,
  // backward with the all-reduce, optimizer, batch staging) at two K and fitted as
  //   step(K) = whole_step_attack_s * K + whole_step_fixed_s   at measured_world ranks.
  // The sum of the passes above misses what lies between them (allocation, the loss and
  // argmax, the PGD kernels, thread wake-ups, staging) and was 10-20% low; the prediction
  // uses this fit when it is there (> 0), the passes only to split and scale it.
  double whole_step_attack_s = 0, whole_step_fixed_s = 0;
  // Per epoch, besides its steps: reading and augmenting this rank's rows (load_epoch), and
  // one checkpoint write (health check, then the HDF5 file written, fsync'ed and renamed) of
  // checkpoint_bytes (model, momentum and carried perturbations), timed once for real.
  double epoch_load_s = 0;
  double checkpoint_bytes = 0, checkpoint_write_s = 0;

  nlohmann::json to_json() const;
  static StepCosts from_json(const nlohmann::json& j);
};

// Per-image costs scale linearly with the batch; the all-reduce, the optimizer and the
// checkpoint do not. (Linear is optimistic for very small batches, where kernels run below
// their peak.) The whole-step fit scales with its compute: the attack part, and the fixed
// part less the optimizer.
StepCosts scale_to_local_batch(const StepCosts& c, int new_local_batch);

// A price, normalised to USD per rank-hour (on CPU ranks a GPU-hour means a rank-hour).
struct Price {
  enum Kind { kPerGpuHour, kPerNodeHour };
  Kind kind = kPerGpuHour;
  double amount_usd = 0;  // per GPU-hour or per node-hour, as given
  int gpus_per_node = 1;  // only for kPerNodeHour

  static Price per_gpu_hour(double usd);
  static Price per_node_hour(double usd, int gpus_per_node);
  double usd_per_gpu_hour() const;  // = per rank-hour
};

// Alpha-beta model of ring all-reduce:
//   time(bytes, p) = 2(p-1) * alpha + 2(p-1)/p * bytes * beta,   0 for p = 1.
// alpha: latency of one ring step; beta: seconds per byte of the link.
struct NetworkModel {
  double alpha_s = 0;
  double beta_s_per_byte = 0;
  bool valid() const { return alpha_s > 0 || beta_s_per_byte > 0; }
  double allreduce_s(double bytes, int p) const;
};

struct AllReduceSample {
  double bytes;
  int ranks;
  double seconds;
};

// Least squares (non-negative) over measured points; needs at least one point with ranks > 1.
NetworkModel fit_network(const std::vector<AllReduceSample>& samples);
// From NCCL's bus bandwidth (nccl-tests "busbw", GB/s = 1e9 B/s) and the per-step latency.
// busbw is defined as bytes/time * 2(p-1)/p, so beta = 1 / busbw exactly.
NetworkModel network_from_bus_bandwidth(double busbw_gb_per_s, double latency_s);

// Seconds of all-reduce at this world size: the network model when it is valid and
// grad_bytes > 0, else the measured c.allreduce_s (used as-is at any world > 1).
double allreduce_at(const StepCosts& c, int world, const NetworkModel& net, double grad_bytes);

// One training step on one rank (all ranks run in lock step):
//   K * (fwd + bwd_input + pgd_update)          the attack (K = 1: FGSM with random start)
// + fwd + bwd_full                              the training pass
// + (1 - overlap) * allreduce(world)            the exposed communication
// + optimizer + data
double predict_step(const StepCosts& c, int K, int world, const NetworkModel& net, double grad_bytes);

struct EpochCost {
  double wall_s = 0;
  double gpu_hours = 0;  // wall_s * world / 3600
  double usd = 0;        // 0 without a price
};
EpochCost cost_of_wall(double wall_s, int world, const std::optional<Price>& price);

// Weak-scaling efficiency: seconds per step on 1 rank over seconds per step on `world`
// ranks with the same local batch (1.0 = perfect). Used by the scaling benchmark.
double scaling_efficiency(const StepCosts& c, int K, int world, const NetworkModel& net, double grad_bytes);

// The calibrated estimate: initial costs from a few timed whole steps, then corrected from
// every epoch's measured step times. A step's time is affine in K, so measurements taken at
// different K separate the attack part from the fixed part:
//   measured - exposed_comm  ~=  ca * K * attack_unit + cf * fixed_compute
// The whole-step calibration (StepCosts::whole_step_*) sets the starting (ca0, cf0) so that
// the prediction is that fit; epochs then fit multipliers of (ca0, cf0).
// (ca, cf) are fitted by exponentially weighted least squares (recent epochs count most);
// with a single distinct K both get the weighted mean ratio. Communication is calibrated
// separately, from all-reduce samples, so that extrapolating to other world sizes stays honest.
class CostModel {
 public:
  CostModel() = default;
  CostModel(StepCosts measured, NetworkModel net, double grad_bytes, double decay = 0.5);

  const StepCosts& base_costs() const { return base_; }
  const NetworkModel& network() const { return net_; }
  double grad_bytes() const { return grad_bytes_; }
  double attack_scale() const { return ca_; }
  double fixed_scale() const { return cf_; }
  // The scales the whole-step calibration found before any epoch (1 without one): the
  // per-epoch refit corrects these, so that one K measured keeps the calibration's split.
  double calibrated_attack_scale() const { return ca0_; }
  double calibrated_fixed_scale() const { return cf0_; }
  // One checkpoint write as timed (0 when never timed: the reserve's fixed figure is used).
  double checkpoint_write_s() const { return base_.checkpoint_write_s; }
  // The final evaluation is mostly attack passes, so it takes the attack's correction.
  double eval_s_per_image() const;

  double predict_step(int K, int world) const;
  // steps * step + eval_images_per_epoch * eval_s_per_image / world + the epoch's data load
  // (checkpoint writes and probes are the plan's to count: schedule_policy.h).
  double predict_epoch_wall(int K, int world, int64_t steps, double eval_images_per_epoch = 0) const;
  EpochCost predict_epoch(int K, int world, int64_t steps, const std::optional<Price>& price,
                          double eval_images_per_epoch = 0) const;

  // Measured mean seconds per step over an interval run at K on `world` ranks.
  void update_step(int K, int world, double measured_step_s);
  void update_epoch(int K, int world, int64_t steps, double measured_epoch_s) {
    update_step(K, world, measured_epoch_s / double(steps));
  }
  // A measured all-reduce: the network model is refitted from all samples so far.
  void update_allreduce(const AllReduceSample& s);

  nlohmann::json to_json() const;
  static CostModel from_json(const nlohmann::json& j);

 private:
  struct Obs {
    int K;
    int world;
    double step_s;
  };
  void refit();

  StepCosts base_;
  NetworkModel net_;
  double grad_bytes_ = 0;
  double decay_ = 0.5;
  double ca0_ = 1, cf0_ = 1;             // from the whole-step calibration
  double ca_ = 1, cf_ = 1, common_ = 1;  // common_: the attack's scale with one ratio fitted to all observations
  std::vector<Obs> obs_;
  std::vector<AllReduceSample> net_samples_;
};

}  // namespace rampart
