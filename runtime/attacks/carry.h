// Perturbations carried from one epoch to the next (--attack-init carry).
//
// An example's adversarial perturbation changes little between epochs, because the
// model changes little. Starting each attack where the example's last attack ended,
// instead of from a random point, lets a few steps a visit accumulate into a strong
// attack over the epochs (Zheng et al., "Efficient Adversarial Training with
// Transferable Adversarial Examples", CVPR 2020). On the reference workload PGD-2
// with carried starts is as robust as PGD-7 with random starts, for 41% of the
// cost (README, "Attack budget").
//
// The store holds one perturbation per training example, quantized to int8 in units
// of eps / 127: |x_adv - x| <= eps, and L-inf PGD leaves most pixels at exactly
// +-eps, which the code represents exactly. 60,000 Fashion-MNIST images take 47 MB.
// Every rank holds the whole store (ranks see other examples every epoch); each
// step's new rows are exchanged (pack / unpack) so the stores stay identical.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace rampart {

class PerturbationStore {
 public:
  PerturbationStore() = default;
  PerturbationStore(int64_t examples, int64_t dim);

  int64_t examples() const { return examples_; }
  int64_t dim() const { return dim_; }
  bool enabled() const { return examples_ > 0; }
  int64_t stored() const;  // examples holding a perturbation

  // For the n examples idx[0..n): writes the stored perturbation into delta [n, dim]
  // and has[e] = 1, or zeros and has[e] = 0 where none is stored yet. Returns how many
  // had one. std::out_of_range for an index outside [0, examples).
  int64_t load(const int64_t* idx, int64_t n, float* delta, uint8_t* has) const;

  // Stores x_adv - x (n rows of dim) for the examples idx, quantized in units of
  // eps / 127; eps > 0 bounds |x_adv - x| (values beyond it are clipped).
  void store(const int64_t* idx, int64_t n, const float* x_adv, const float* x, float eps);

  // The rows of examples idx as bytes (indices, scales, codes), for another rank's unpack().
  std::string pack(const int64_t* idx, int64_t n) const;
  // Applies rows packed by pack(); std::invalid_argument for malformed bytes.
  void unpack(const std::string& bytes);

  // Checkpoint form: codes int8 [examples, dim], scale float [examples] (0: none stored).
  const std::vector<int8_t>& codes() const { return codes_; }
  const std::vector<float>& scales() const { return scale_; }
  // std::invalid_argument unless the sizes match examples() x dim().
  void restore(std::vector<int8_t> codes, std::vector<float> scales);

  // FNV-1a of codes and scales: equal on every rank when the stores agree.
  uint64_t fingerprint() const;

 private:
  int64_t examples_ = 0, dim_ = 0;
  std::vector<int8_t> codes_;
  std::vector<float> scale_;  // eps / 127 of the stored row; 0 = nothing stored
};

}  // namespace rampart
