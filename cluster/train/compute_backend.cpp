// The compute backend (see compute_backend.h): one implementation for every device.
// The Model, the attack engine, the evaluator and the optimizer run where their
// tensors live (kernels/dispatch); this file only moves the batch and the state
// across, and picks how the gradients are summed: in place (NCCL on device memory,
// MPI on host memory), or through a host copy (MPI with a GPU model).
#include "cluster/train/compute_backend.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cluster/train/distributed_eval.h"
#include "runtime/attacks/attack_registry.h"
#include "runtime/objectives/objective.h"
#include "kernels/dispatch/memory.h"
#include "kernels/dispatch/ops.h"
#include "runtime/errors.h"

namespace rampart {

Device parse_device(const std::string& device) {
  if (device == "cpu") return Device::kCpu;
  if (device == "cuda") return Device::kCuda;
  throw ConfigError("device: expected cpu or cuda, found \"" + device + "\"");
}

void check_device(const std::string& device) {
  const Device d = parse_device(device);
  if (kernels::device_count(d) > 0) return;
  if (!kernels::cuda_built())
    throw ConfigError("--device cuda: expected a rampart built with the CUDA backend, found one built without it "
                      "(RAMPART_CUDA=OFF); rebuild with -DRAMPART_CUDA=ON where the CUDA toolkit is installed, "
                      "or use --device cpu");
  throw ConfigError("--device cuda: expected a visible CUDA GPU, found none (" + kernels::unavailable_reason(d) +
                    "); run on a GPU node (check nvidia-smi and CUDA_VISIBLE_DEVICES) or use --device cpu");
}

namespace {

using Clock = std::chrono::steady_clock;

class DeviceBackend final : public ComputeBackend {
 public:
  DeviceBackend(Device d, Model& model, Sgd* sgd, Communicator& comm, int64_t bucket_bytes)
      : d_(d), model_(model), sgd_(sgd), comm_(comm), labels_(d), carried_has_(d) {
    for (Tensor* t : {&x_dev_, &x_adv_, &dlogits_, &carried_delta_, &per_loss_, &clean_logits_, &dclean_,
                      &saved_buffers_})
      t->set_device(d);
    model_.to(d_);  // refuses, naming them, layers that cannot run on d
    if (!sgd_) return;  // evaluation only
    sgd_->to(d_);
    // Where the all-reduce reads the gradients: in place, or a host copy (MPI with a GPU model).
    reduce_in_place_ = d_ == Device::kCpu || comm_.backend() == "nccl" || comm_.size() == 1;
    std::vector<std::pair<int64_t, int64_t>> ranges;
    for (int i = 0; i < model_.num_layers(); ++i) ranges.push_back(model_.layer_param_range(i));
    reducer_ = std::make_unique<GradReducer>(comm, reduce_in_place_ ? model_.work_grads() : model_.flat_grads(),
                                             ranges, bucket_bytes);
  }

  std::string device() const override { return device_name(d_); }
  std::string describe() const override { return kernels::describe(d_); }

  void check_attack(const AttackConfig& a) const override { check_attack_on(d_, a); }

  StepCosts calibrate(const Tensor& x, const int32_t* labels, const CalibrationOptions& opt) override {
    set_batch(x, labels);
    return calibrate_step_costs(model_, *x_, this->labels(), opt, comm_);
  }

  void set_batch(const Tensor& x, const int32_t* labels) override {
    n_ = x.ndim() > 0 ? x.dim(0) : 0;
    attacked_ = false;
    if (d_ == Device::kCpu) {  // no copies: the host batch is the device batch
      x_ = &x;
      labels_host_ = labels;
      return;
    }
    x_dev_.copy_from(x);
    x_ = &x_dev_;
    labels_.resize(n_);
    kernels::copy_bytes(d_, labels_.data(), Device::kCpu, labels, sizeof(int32_t) * size_t(n_));
  }

  AttackStats attack(const AttackConfig& cfg, const RandomKey& key, const CarriedStart* carried) override {
    if (n_ == 0) throw std::logic_error("ComputeBackend::attack: an empty batch");
    CarriedStart on_device;
    if (carried && carried->delta && carried->has && d_ != Device::kCpu) {
      carried_delta_.resize(x_->shape());
      kernels::copy_bytes(d_, carried_delta_.data(), Device::kCpu, carried->delta, sizeof(float) * size_t(x_->size()));
      carried_has_.resize(n_);
      kernels::copy_bytes(d_, carried_has_.data(), Device::kCpu, carried->has, size_t(n_));
      on_device = {carried_delta_.data(), carried_has_.data()};
      carried = &on_device;
    }
    AttackStats st = attacker_.run(model_, *x_, labels(), cfg, key, x_adv_, carried);
    attacked_ = true;
    return st;
  }

  const Tensor& adversarial_host() override {
    const Tensor& src = attacked_ ? x_adv_ : *x_;
    if (d_ == Device::kCpu) return src;
    x_adv_host_.copy_from(src);
    return x_adv_host_;
  }

  void set_training_loss(const std::string& name, const ObjectiveParams& params) override {
    loss_ = make_objective(name, params);
  }

  LossTotals forward_loss(float grad_scale) override {
    if (n_ == 0) return {};
    pair_ = loss_->needs_reference();
    if (pair_) {
      if (!attacked_) throw std::logic_error("ComputeBackend::forward_loss: " + loss_->name() + " needs an attack");
      clean_logits_.copy_from(model_.forward(*x_, Mode::kTrain));
      dclean_.resize(clean_logits_.shape());
    }
    const Tensor& logits = model_.forward(attacked_ ? x_adv_ : *x_, Mode::kTrain);
    dlogits_.resize(logits.shape());
    per_loss_.resize({n_});
    LossOutput out;
    out.grad_scale = grad_scale;
    out.dlogits = dlogits_.data();
    out.dreference = pair_ ? dclean_.data() : nullptr;
    out.per_loss = per_loss_.data();
    const ObjectiveTotals tot = loss_->evaluate(
        {logits.data(), labels(), n_, logits.dim(1), pair_ ? clean_logits_.data() : nullptr, d_}, out);
    return {tot.loss_sum, tot.correct};
  }

  GradReducer::Stats backward_allreduce() override {
    training_only("backward_allreduce");
    // A rank with no examples in this batch still takes part, with zero gradients.
    auto backward = [&](const Model::GradReadyFn& ready) {
      if (n_ > 0 && pair_) {
        // The attacked branch (the model holds its activations), then the clean one: its
        // forward again, with the running statistics it would move put back, and its
        // gradients added; the buckets go out as this second backward finishes them.
        model_.backward(dlogits_, false, true);
        const int64_t nb = model_.num_buffer_values();
        saved_buffers_.resize({std::max<int64_t>(nb, 1)});
        if (nb) ops::copy(d_, saved_buffers_.data(), model_.work_buffers(), nb);
        model_.forward(*x_, Mode::kTrain);
        if (nb) ops::copy(d_, model_.work_buffers(), saved_buffers_.data(), nb);
        model_.backward(dclean_, false, true, ready, /*accumulate=*/true);
      } else if (n_ > 0) {
        model_.backward(dlogits_, false, true, ready);
      } else {
        kernels::zero_bytes(d_, model_.work_grads(), sizeof(float) * size_t(model_.num_params()));
        if (ready)  // as Model::backward reports them: layers with parameters, last to first
          for (int i = model_.num_layers() - 1; i >= 0; --i)
            if (model_.layer(i).has_params()) ready(i);
      }
    };
    if (reduce_in_place_) {  // buckets start while backward goes on with earlier layers
      reducer_->begin_step();
      backward([&](int layer) { reducer_->on_grad_ready(layer); });
      reducer_->finish(1.0f);
      return reducer_->last_stats();
    }
    // MPI with a GPU model: through the host, not overlapped; the copies count as
    // exposed communication time.
    backward(nullptr);
    const auto t0 = Clock::now();
    const size_t bytes = sizeof(float) * size_t(model_.num_params());
    kernels::copy_bytes(Device::kCpu, model_.flat_grads(), d_, model_.work_grads(), bytes);
    reducer_->begin_step();
    reducer_->finish(1.0f);
    kernels::copy_bytes(d_, model_.work_grads(), Device::kCpu, model_.flat_grads(), bytes);
    GradReducer::Stats st = reducer_->last_stats();
    const double total = std::chrono::duration<double>(Clock::now() - t0).count();
    st.exposed_wait_s = total;
    st.allreduce_s_total = std::max(st.allreduce_s_total, total);
    return st;
  }

  void sgd_step(double lr) override {
    training_only("sgd_step");
    sgd_->step(model_.work_params(), model_.work_grads(), lr);
  }

  void download_state() override {
    model_.pull_state();
    if (sgd_) sgd_->pull_state();
  }

  void upload_state() override {
    model_.push_state();
    if (sgd_) sgd_->push_state();
  }

  EvalCounts evaluate_batch(const Tensor& x, const int32_t* labels, int64_t first_example,
                            const std::vector<AttackConfig>& attacks, uint64_t seed) override {
    for (const auto& a : attacks) check_attack(a);
    Evaluator ev(attacks, seed);
    if (x.ndim() > 0 && x.dim(0) > 0) ev.add(model_, x, labels, first_example);
    return ev.counts();
  }

  EvalCounts evaluate_shard(const Dataset& set, int64_t n, const std::vector<AttackConfig>& attacks, uint64_t seed,
                            int64_t batch, ExampleResults* examples) override {
    for (const auto& a : attacks) check_attack(a);
    return rampart::evaluate_shard(model_, set, n, attacks, seed, batch, comm_, examples);
  }

 private:
  void training_only(const char* what) const {
    if (!reducer_) throw std::logic_error(std::string("ComputeBackend::") + what + ": made for evaluation only (no Sgd)");
  }
  const int32_t* labels() const { return d_ == Device::kCpu ? labels_host_ : labels_.data(); }

  Device d_;
  Model& model_;
  Sgd* sgd_;
  Communicator& comm_;
  bool reduce_in_place_ = true;
  std::unique_ptr<GradReducer> reducer_;
  Attacker attacker_;
  std::unique_ptr<Objective> loss_ = make_objective("ce");  // the training loss
  int64_t n_ = 0;
  bool attacked_ = false;
  const Tensor* x_ = nullptr;          // the batch on the device
  const int32_t* labels_host_ = nullptr;
  Tensor x_dev_, x_adv_, dlogits_, x_adv_host_, carried_delta_, per_loss_;
  // Losses of two predictions: the clean batch's logits and their gradient; the running
  // statistics kept across the clean branch's second forward.
  bool pair_ = false;
  Tensor clean_logits_, dclean_, saved_buffers_;
  Buffer<int32_t> labels_;
  Buffer<uint8_t> carried_has_;
};

}  // namespace

std::unique_ptr<ComputeBackend> make_compute_backend(const std::string& device, Model& model, Sgd* sgd,
                                                     Communicator& comm, int local_rank, int64_t bucket_bytes) {
  check_device(device);
  const Device d = parse_device(device);
  kernels::use_device(d, local_rank);  // before any of its memory is allocated
  return std::make_unique<DeviceBackend>(d, model, sgd, comm, bucket_bytes);
}

}  // namespace rampart
