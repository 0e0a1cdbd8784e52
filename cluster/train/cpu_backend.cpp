// The CPU compute backend (see cpu_backend.h): the training step as it always ran,
// on the host Model's own buffers, so download_state and upload_state have nothing to do.
#include "cluster/train/cpu_backend.h"

#include <stdexcept>
#include <utility>
#include <vector>

#include "cluster/train/distributed_eval.h"
#include "kernels/cpu/softmax_xent.h"

namespace rampart {
namespace {

class CpuBackend final : public ComputeBackend {
 public:
  CpuBackend(Model& model, Sgd* sgd, Communicator& comm, int64_t bucket_bytes)
      : model_(model), sgd_(sgd), comm_(comm) {
    if (!sgd_) return;  // evaluation only
    std::vector<std::pair<int64_t, int64_t>> ranges;
    for (int i = 0; i < model.num_layers(); ++i) ranges.push_back(model.layer_param_range(i));
    reducer_ = std::make_unique<GradReducer>(comm, model.flat_grads(), ranges, bucket_bytes);
  }

  std::string device() const override { return "cpu"; }
  std::string describe() const override { return "cpu"; }

  StepCosts calibrate(const Tensor& x, const int32_t* labels, const CalibrationOptions& opt) override {
    return calibrate_step_costs(model_, x, labels, opt, comm_);
  }

  void set_batch(const Tensor& x, const int32_t* labels) override {
    x_ = &x;
    input_ = &x;
    labels_ = labels;
  }

  AttackStats attack(const AttackConfig& cfg, const RandomKey& key, const CarriedStart* carried) override {
    AttackStats st = attacker_.run(model_, *x_, labels_, cfg, key, x_adv_, carried);
    input_ = &x_adv_;
    return st;
  }

  const Tensor& adversarial_host() override { return x_adv_; }

  LossTotals forward_loss(float grad_scale) override {
    const int64_t n = x_->dim(0);
    const Tensor& logits = model_.forward(*input_, Mode::kTrain);
    dlogits_.resize(logits.shape());
    per_loss_.resize(n);
    auto tot = kernels::softmax_xent_cpu(logits.data(), labels_, n, logits.dim(1), grad_scale, dlogits_.data(),
                                         per_loss_.data(), nullptr);
    return {tot.loss_sum, tot.correct};
  }

  GradReducer::Stats backward_allreduce() override {
    training_only("backward_allreduce");
    reducer_->begin_step();
    model_.backward(dlogits_, false, true, [&](int layer) { reducer_->on_grad_ready(layer); });
    reducer_->finish(1.0f);
    return reducer_->last_stats();
  }

  void sgd_step(double lr) override {
    training_only("sgd_step");
    sgd_->step(model_.flat_params(), model_.flat_grads(), lr);
  }

  void download_state() override {}
  void upload_state() override {}

  EvalCounts evaluate_batch(const Tensor& x, const int32_t* labels, int64_t first_example,
                            const std::vector<AttackConfig>& attacks, uint64_t seed) override {
    Evaluator ev(attacks, seed);
    if (x.ndim() > 0 && x.dim(0) > 0) ev.add(model_, x, labels, first_example);
    return ev.counts();
  }

  EvalCounts evaluate_shard(const Dataset& set, int64_t n, const std::vector<AttackConfig>& attacks, uint64_t seed,
                            int64_t batch) override {
    return rampart::evaluate_shard(model_, set, n, attacks, seed, batch, comm_);
  }

 private:
  void training_only(const char* what) const {
    if (!reducer_) throw std::logic_error(std::string("CpuBackend::") + what + ": made for evaluation only (no Sgd)");
  }

  Model& model_;
  Sgd* sgd_;
  Communicator& comm_;
  std::unique_ptr<GradReducer> reducer_;
  Attacker attacker_;
  const Tensor* x_ = nullptr;
  const Tensor* input_ = nullptr;
  const int32_t* labels_ = nullptr;
  Tensor x_adv_, dlogits_;
  std::vector<float> per_loss_;
};

}  // namespace

std::unique_ptr<ComputeBackend> make_cpu_backend(Model& model, Sgd* sgd, Communicator& comm, int64_t bucket_bytes) {
  return std::make_unique<CpuBackend>(model, sgd, comm, bucket_bytes);
}

}  // namespace rampart
