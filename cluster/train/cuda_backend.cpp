// The CUDA compute backend (see cuda_backend.h). Host code; the kernels are rampart_cuda's.
#include "cluster/train/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cluster/comm/nccl_communicator.h"
#include "cluster/train/distributed_eval.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/eltwise.cuh"
#include "kernels/cuda/softmax_xent.cuh"
#include "runtime/errors.h"
#include "runtime/gpu/gpu_attack.h"
#include "runtime/gpu/gpu_model.h"

namespace rampart {
namespace {

using gpu::DeviceArray;
using Clock = std::chrono::steady_clock;

class CudaBackend final : public ComputeBackend {
 public:
  CudaBackend(Model& host, Sgd* sgd, Communicator& comm, int local_rank, int64_t bucket_bytes)
      : host_(host), sgd_(sgd), comm_(comm), nccl_(dynamic_cast<NcclCommunicator*>(&comm)) {
    // The NCCL communicator chose this rank's GPU already (by the same rule).
    device_ = nccl_ ? nccl_->device() : cuda::select_device_for_local_rank(local_rank);
    CUDA_CHECK(cudaSetDevice(device_));
    model_ = std::make_unique<gpu::GpuModel>(host);
    if (sgd_) {
      momentum_.resize(host.num_params());
      std::vector<std::pair<int64_t, int64_t>> ranges;
      for (int i = 0; i < host.num_layers(); ++i) ranges.push_back(host.layer_param_range(i));
      // Scaling in GradReducer::finish runs on the host: the trainer passes 1 (the
      // loss gradient carries 1 / global batch already), which device buffers need.
      reducer_ = std::make_unique<GradReducer>(comm, nccl_ ? model_->flat_grads() : host.flat_grads(), ranges,
                                               bucket_bytes);
    }
    upload_state();
    // Collectives on GPU buffers wait for the work queued on the model's stream. Last:
    // the destructor, which undoes it, runs only for a finished constructor.
    if (nccl_) nccl_->set_compute_stream(model_->stream());
  }

  ~CudaBackend() override {
    // The communicator outlives us; it must not wait on a destroyed stream.
    if (nccl_) nccl_->set_compute_stream(nullptr);
  }

  std::string device() const override { return "cuda"; }
  std::string describe() const override {
    return "cuda:" + std::to_string(device_) + " (" + cuda::device_info(device_).name + ")";
  }

  void check_attack(const AttackConfig& a) const override {
    // What GpuAttacker::run would refuse at the first step, said before the run starts.
    if (a.norm != Norm::kLinf)
      throw ConfigError("attack " + a.name + ": L2 PGD is not supported on --device cuda yet; use --device cpu");
    if (a.early_stop_tau >= 0)
      throw ConfigError("attack " + a.name + ": early-stopped PGD (early-stop-tau " + std::to_string(a.early_stop_tau) +
                        ") is not supported on --device cuda yet; use --device cpu or early-stop-tau -1");
  }

  StepCosts calibrate(const Tensor& x, const int32_t* labels, const CalibrationOptions& opt) override {
    set_batch(x, labels);
    const int64_t n = n_, np = host_.num_params();
    cudaStream_t s = model_->stream();
    auto sync = [&] { CUDA_CHECK(cudaStreamSynchronize(s)); };
    const int k = model_->num_classes();
    dlogits_.resize(n * k);
    loss_.resize(n);
    correct_.resize(n);
    auto loss_grad = [&](const gpu::GpuTensor& logits) {
      cuda::softmax_xent(logits.data(), labels_.data(), n, k, 1.0f / float(n), dlogits_.data(), loss_.data(),
                         correct_.data(), nullptr, s);
    };
    DeviceArray<float> p, m, dev_buf;  // scratch: the real weights and momentum must not move
    std::vector<float> host_buf;
    CalibrationPasses passes;
    passes.batch = n;
    passes.forward = [&] { model_->forward(x_.data(), n); sync(); };
    passes.attack_pass = [&] {
      loss_grad(model_->forward(x_.data(), n));
      model_->backward(dlogits_.data(), true, false);
      sync();
    };
    passes.train_pass = [&] {
      loss_grad(model_->forward(x_.data(), n));
      model_->backward(dlogits_.data(), false, true);
      sync();
    };
    passes.optimizer = [&] {
      if (p.size() == 0) {  // in the untimed warm-up
        p.resize(np);
        m.resize(np);
        CUDA_CHECK(cudaMemcpyAsync(p.data(), model_->flat_params(), sizeof(float) * size_t(np),
                                   cudaMemcpyDeviceToDevice, s));
        CUDA_CHECK(cudaMemsetAsync(m.data(), 0, sizeof(float) * size_t(np), s));
      }
      cuda::sgd_momentum(p.data(), model_->flat_grads(), m.data(), np, 0.0f, 0.9f, 5e-4f, false, s);
      sync();
    };
    passes.allreduce = [&] {  // as backward_allreduce does it
      if (dev_buf.size() == 0) {
        dev_buf.resize(np);
        CUDA_CHECK(cudaMemsetAsync(dev_buf.data(), 0, sizeof(float) * size_t(np), s));
        host_buf.assign(size_t(np), 0.0f);
        sync();
      }
      if (nccl_) {
        comm_.allreduce_sum(dev_buf.data(), np);
      } else {
        CUDA_CHECK(cudaMemcpyAsync(host_buf.data(), dev_buf.data(), sizeof(float) * size_t(np),
                                   cudaMemcpyDeviceToHost, s));
        sync();
        comm_.allreduce_sum(host_buf.data(), np);
        CUDA_CHECK(cudaMemcpyAsync(dev_buf.data(), host_buf.data(), sizeof(float) * size_t(np),
                                   cudaMemcpyHostToDevice, s));
        sync();
      }
    };
    return time_step_costs(passes, opt, comm_);
  }

  void set_batch(const Tensor& x, const int32_t* labels) override {
    n_ = x.ndim() > 0 ? x.dim(0) : 0;
    attacked_ = false;
    if (n_ == 0) return;
    cudaStream_t s = model_->stream();
    x_.resize(x.size());
    labels_.resize(n_);
    // From pageable memory: each copy returns once the host buffer has been read.
    CUDA_CHECK(cudaMemcpyAsync(x_.data(), x.data(), sizeof(float) * size_t(x.size()), cudaMemcpyHostToDevice, s));
    CUDA_CHECK(cudaMemcpyAsync(labels_.data(), labels, sizeof(int32_t) * size_t(n_), cudaMemcpyHostToDevice, s));
  }

  AttackStats attack(const AttackConfig& cfg, const RandomKey& key, const CarriedStart* carried) override {
    if (n_ == 0) throw std::logic_error("CudaBackend::attack: an empty batch");
    x_adv_.resize(x_.size());
    const float* delta = nullptr;
    const uint8_t* has = nullptr;
    if (carried && carried->delta && carried->has) {
      cudaStream_t s = model_->stream();
      carried_delta_.resize(x_.size());
      carried_has_.resize(n_);
      CUDA_CHECK(cudaMemcpyAsync(carried_delta_.data(), carried->delta, sizeof(float) * size_t(x_.size()),
                                 cudaMemcpyHostToDevice, s));
      CUDA_CHECK(cudaMemcpyAsync(carried_has_.data(), carried->has, size_t(n_), cudaMemcpyHostToDevice, s));
      delta = carried_delta_.data();
      has = carried_has_.data();
    }
    AttackStats st = attacker_.run(*model_, x_.data(), labels_.data(), n_, cfg, key, x_adv_.data(), nullptr, delta, has);
    attacked_ = true;
    return st;
  }

  const Tensor& adversarial_host() override {
    const Shape& in = model_->input_shape();
    x_adv_host_.resize({n_, in[0], in[1], in[2]});
    if (n_ > 0) {
      cudaStream_t s = model_->stream();
      CUDA_CHECK(cudaMemcpyAsync(x_adv_host_.data(), attacked_ ? x_adv_.data() : x_.data(),
                                 sizeof(float) * size_t(x_adv_host_.size()), cudaMemcpyDeviceToHost, s));
      CUDA_CHECK(cudaStreamSynchronize(s));
    }
    return x_adv_host_;
  }

  LossTotals forward_loss(float grad_scale) override {
    if (n_ == 0) return {};
    cudaStream_t s = model_->stream();
    const gpu::GpuTensor& logits = model_->forward(attacked_ ? x_adv_.data() : x_.data(), n_);
    const int k = model_->num_classes();
    dlogits_.resize(n_ * k);
    loss_.resize(n_);
    correct_.resize(n_);
    totals_.resize(1);
    cuda::softmax_xent(logits.data(), labels_.data(), n_, k, grad_scale, dlogits_.data(), loss_.data(),
                       correct_.data(), totals_.data(), s);
    cuda::XentTotals tot{};
    CUDA_CHECK(cudaMemcpyAsync(&tot, totals_.data(), sizeof tot, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaStreamSynchronize(s));  // the trainer checks the loss every step
    return {tot.loss_sum, int64_t(tot.correct)};
  }

  GradReducer::Stats backward_allreduce() override {
    training_only("backward_allreduce");
    cudaStream_t s = model_->stream();
    const size_t bytes = sizeof(float) * size_t(host_.num_params());
    // A rank with no examples in this batch still takes part, with zero gradients.
    auto backward = [&](const Model::GradReadyFn& ready) {
      if (n_ > 0) model_->backward(dlogits_.data(), false, true, ready);
      else CUDA_CHECK(cudaMemsetAsync(model_->flat_grads(), 0, bytes, s));
    };
    if (nccl_) {  // buckets start on the GPU while backward goes on with earlier layers
      reducer_->begin_step();
      backward([&](int layer) { reducer_->on_grad_ready(layer); });
      reducer_->finish(1.0f);
      return reducer_->last_stats();
    }
    backward(nullptr);
    if (comm_.size() == 1) {  // nothing to sum: the gradients stay where they are
      reducer_->begin_step();
      reducer_->finish(1.0f);
      return reducer_->last_stats();
    }
    // Host reduction (MPI): simple and correct, not overlapped. The copies count as
    // exposed communication time.
    const auto t0 = Clock::now();
    model_->download_grads(host_.flat_grads());
    reducer_->begin_step();
    reducer_->finish(1.0f);
    CUDA_CHECK(cudaMemcpyAsync(model_->flat_grads(), host_.flat_grads(), bytes, cudaMemcpyHostToDevice, s));
    CUDA_CHECK(cudaStreamSynchronize(s));  // host_.flat_grads() may be written again by the next step
    GradReducer::Stats st = reducer_->last_stats();
    const double total = std::chrono::duration<double>(Clock::now() - t0).count();
    st.exposed_wait_s = total;
    st.allreduce_s_total = std::max(st.allreduce_s_total, total);
    return st;
  }

  void sgd_step(double lr) override {
    training_only("sgd_step");
    const SgdConfig& c = sgd_->config();
    cuda::sgd_momentum(model_->flat_params(), model_->flat_grads(), momentum_.data(), host_.num_params(), float(lr),
                       float(c.momentum), float(c.weight_decay), /*nesterov=*/false, model_->stream());
  }

  void download_state() override {
    model_->download_params(host_);
    if (sgd_) copy(sgd_->momentum(), momentum_.data(), cudaMemcpyDeviceToHost);
  }

  void upload_state() override {
    model_->upload_params(host_);
    if (sgd_) copy(momentum_.data(), sgd_->momentum(), cudaMemcpyHostToDevice);
  }

  EvalCounts evaluate_batch(const Tensor& x, const int32_t* labels, int64_t first_example,
                            const std::vector<AttackConfig>& attacks, uint64_t seed) override {
    for (const auto& a : attacks) check_attack(a);
    gpu::GpuEvaluator ev(attacks, seed);
    if (x.ndim() > 0 && x.dim(0) > 0) ev.add(*model_, x, labels, first_example);
    return ev.counts();
  }

  EvalCounts evaluate_shard(const Dataset& set, int64_t n, const std::vector<AttackConfig>& attacks, uint64_t seed,
                            int64_t batch) override {
    for (const auto& a : attacks) check_attack(a);
    gpu::GpuEvaluator ev(attacks, seed);
    return evaluate_shard_with(
        [&](const Tensor& x, const int32_t* labels, int64_t first) { ev.add(*model_, x, labels, first); }, ev.counts(),
        set, n, batch, comm_);
  }

 private:
  void training_only(const char* what) const {
    if (!reducer_) throw std::logic_error(std::string("CudaBackend::") + what + ": made for evaluation only (no Sgd)");
  }

  // A synchronous copy of the momentum buffer (num_params floats) on the model's stream.
  void copy(float* dst, const float* src, cudaMemcpyKind kind) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, sizeof(float) * size_t(host_.num_params()), kind, model_->stream()));
    CUDA_CHECK(cudaStreamSynchronize(model_->stream()));
  }

  Model& host_;
  Sgd* sgd_;
  Communicator& comm_;
  NcclCommunicator* nccl_;  // null: gradients are reduced on the host
  int device_ = 0;
  std::unique_ptr<gpu::GpuModel> model_;  // declared first of the device state: destroyed last
  DeviceArray<float> momentum_;
  std::unique_ptr<GradReducer> reducer_;
  gpu::GpuAttacker attacker_;
  int64_t n_ = 0;
  bool attacked_ = false;
  DeviceArray<float> x_, x_adv_, dlogits_, loss_, carried_delta_;
  DeviceArray<uint8_t> carried_has_;
  Tensor x_adv_host_;
  DeviceArray<int32_t> labels_;
  DeviceArray<uint8_t> correct_;
  DeviceArray<cuda::XentTotals> totals_;
};

}  // namespace

std::unique_ptr<ComputeBackend> make_cuda_backend(Model& model, Sgd* sgd, Communicator& comm, int local_rank,
                                                  int64_t bucket_bytes) {
  return std::make_unique<CudaBackend>(model, sgd, comm, local_rank, bucket_bytes);
}

}  // namespace rampart
