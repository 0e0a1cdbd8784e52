// L-inf PGD and evaluation on GPU (see gpu_attack.h). Host code only.
#include "runtime/gpu/gpu_attack.h"

#include <string>

#include "kernels/cuda/attack_track.cuh"
#include "kernels/cuda/pgd.cuh"
#include "runtime/errors.h"

namespace rampart::gpu {

AttackStats GpuAttacker::run(GpuModel& model, const float* x, const int32_t* labels, int64_t n,
                             const AttackConfig& cfg, const RandomKey& key, float* x_adv, uint8_t* fooled,
                             const float* carried_delta, const uint8_t* carried_has) {
  validate(cfg, "attack " + cfg.name);
  if (cfg.norm != Norm::kLinf) throw ConfigError("attack " + cfg.name + ": L2 PGD is not supported on --device cuda yet; use --device cpu");
  if (cfg.early_stop_tau >= 0) throw ConfigError("attack " + cfg.name + ": early-stopped PGD is not supported on --device cuda yet; use --device cpu");
  if (cfg.keep_best)
    throw ConfigError("attack " + cfg.name + ": keep_best is not implemented on GPU; pass `fooled` flags instead (GpuEvaluator does)");
  AttackStats st;
  cudaStream_t s = model.stream();
  const Shape& in = model.input_shape();
  const int64_t dim = in[0] * in[1] * in[2], size = n * dim;
  const int k = model.num_classes();
  if (cfg.eps == 0) {  // nothing to search: the clean point is the answer (as on the CPU)
    CUDA_CHECK(cudaMemcpyAsync(x_adv, x, sizeof(float) * size_t(size), cudaMemcpyDeviceToDevice, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    return st;
  }
  dlogits_.resize(n * k);
  loss_.resize(n);
  correct_.resize(n);
  totals_.resize(int64_t(cfg.restarts) * cfg.steps);
  for (int r = 0; r < cfg.restarts; ++r) {
    // The CPU attacker's keys: restart r draws from sub * 1000003 + r; element i
    // of this batch is element first_example * dim + i of the whole batch.
    cuda::RandomStartKey rk;
    rk.seed = key.seed;
    rk.rng_stream = uint32_t(key.stream);
    rk.sub = key.sub * 1000003ull + uint64_t(r);
    rk.first = key.first_example * dim;
    if (cfg.random_start)
      cuda::random_start(x_adv, x, size, cfg.eps, rk, s);
    else
      CUDA_CHECK(cudaMemcpyAsync(x_adv, x, sizeof(float) * size_t(size), cudaMemcpyDeviceToDevice, s));
    const bool carried = r == 0 && carried_delta && carried_has;
    if (carried) cuda::carried_start(x_adv, x, carried_delta, carried_has, n, dim, cfg.eps, s);
    for (int t = 0; t < cfg.steps; ++t) {
      const GpuTensor& logits = model.forward(x_adv, n);
      // Gradient of the summed loss, as on the CPU (sign() ignores the scale).
      cuda::softmax_xent(logits.data(), labels, n, k, 1.f, dlogits_.data(), loss_.data(), correct_.data(),
                         totals_.data() + int64_t(r) * cfg.steps + t, s);
      if (fooled) cuda::mark_fooled(correct_.data(), fooled, n, s);
      const GpuTensor& g = model.backward(dlogits_.data(), /*input_grad=*/true, /*param_grads=*/false);
      ++st.passes;
      if (t == 0 && cfg.random_start && !carried)  // regenerates the start instead of reading x_adv back
        cuda::pgd_linf_first_step(x_adv, g.data(), x, size, cfg.alpha, cfg.eps, rk, s);
      else
        cuda::pgd_linf_step(x_adv, g.data(), x, size, cfg.alpha, cfg.eps, s);
    }
    if (fooled) {  // the last iterate counts too (Attacker::consider after the loop)
      const GpuTensor& logits = model.forward(x_adv, n);
      cuda::softmax_xent(logits.data(), labels, n, k, 0.f, nullptr, loss_.data(), correct_.data(), nullptr, s);
      cuda::mark_fooled(correct_.data(), fooled, n, s);
    }
  }
  std::vector<cuda::XentTotals> host(totals_.size());
  CUDA_CHECK(cudaMemcpyAsync(host.data(), totals_.data(), sizeof(cuda::XentTotals) * host.size(),
                             cudaMemcpyDeviceToHost, s));
  CUDA_CHECK(cudaStreamSynchronize(s));
  for (auto& t : host) st.step_loss.push_back(t.loss_sum / double(n));
  return st;
}

GpuEvaluator::GpuEvaluator(std::vector<AttackConfig> attacks, uint64_t seed) : attacks_(std::move(attacks)), seed_(seed) {
  // The CPU Evaluator attacks with keep_best; here the fooled flags give the same counts.
  for (auto& a : attacks_) a.keep_best = false;
  counts_.robust_correct.assign(attacks_.size(), 0);
}

void GpuEvaluator::add(GpuModel& model, const Tensor& x, const int32_t* labels, int64_t first_example) {
  const int64_t n = x.dim(0);
  if (n == 0) return;
  cudaStream_t s = model.stream();
  const int k = model.num_classes();
  x_.resize(x.size());
  x_adv_.resize(x.size());
  labels_.resize(n);
  loss_.resize(n);
  clean_ok_.resize(n);
  fooled_.resize(n);
  totals_.resize(1);
  CUDA_CHECK(cudaMemcpyAsync(x_.data(), x.data(), sizeof(float) * size_t(x.size()), cudaMemcpyHostToDevice, s));
  CUDA_CHECK(cudaMemcpyAsync(labels_.data(), labels, sizeof(int32_t) * size_t(n), cudaMemcpyHostToDevice, s));
  const GpuTensor& logits = model.forward(x_.data(), n);
  cuda::softmax_xent(logits.data(), labels_.data(), n, k, 0.f, nullptr, loss_.data(), clean_ok_.data(),
                     totals_.data(), s);
  cuda::XentTotals tot;
  clean_ok_host_.resize(n);
  CUDA_CHECK(cudaMemcpyAsync(&tot, totals_.data(), sizeof tot, cudaMemcpyDeviceToHost, s));
  CUDA_CHECK(cudaMemcpyAsync(clean_ok_host_.data(), clean_ok_.data(), size_t(n), cudaMemcpyDeviceToHost, s));
  CUDA_CHECK(cudaStreamSynchronize(s));
  counts_.n += n;
  counts_.clean_correct += tot.correct;
  counts_.clean_loss_sum += tot.loss_sum;
  fooled_host_.resize(n);
  for (size_t a = 0; a < attacks_.size(); ++a) {
    RandomKey key{seed_, Stream::kEvalStart, uint64_t(a), first_example};
    CUDA_CHECK(cudaMemsetAsync(fooled_.data(), 0, size_t(n), s));
    // eps = 0 returns x itself and marks nothing: robust is then clean, as on the CPU.
    attacker_.run(model, x_.data(), labels_.data(), n, attacks_[a], key, x_adv_.data(), fooled_.data());
    CUDA_CHECK(cudaMemcpyAsync(fooled_host_.data(), fooled_.data(), size_t(n), cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    for (int64_t e = 0; e < n; ++e) counts_.robust_correct[a] += clean_ok_host_[e] && !fooled_host_[e];
  }
}

}  // namespace rampart::gpu
