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
// A store may hold only a range of the examples (one rank's shard, cluster/train/
// carried_starts.h): rows travel between stores as packed bytes (pack / unpack).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace rampart {

// x_adv - x of one example (dim pixels) in units of eps / 127, clipped to [-127, 127]
// (|x_adv - x| <= eps); eps > 0. Returns the row's scale, eps / 127.
float quantize_perturbation(const float* x_adv, const float* x, int64_t dim, float eps, int8_t* codes);

// The perturbation of codes stored with scale (0: none) into delta [dim].
void dequantize_perturbation(const int8_t* codes, float scale, int64_t dim, float* delta);

// Packed rows, as pack() writes them: int64 n, then n x (int64 example, float scale,
// int8 codes[dim]). Calls row(example, scale, codes) for each in order;
// std::invalid_argument for bytes that are not whole rows of dim codes.
void for_each_packed_row(const std::string& bytes, int64_t dim,
                         const std::function<void(int64_t, float, const int8_t*)>& row);
// The packed form of n rows given by example, scale and codes [n, dim].
std::string pack_rows(const int64_t* idx, const float* scale, const int8_t* codes, int64_t n, int64_t dim);

class PerturbationStore {
 public:
  PerturbationStore() = default;
  // Every example of [0, examples).
  PerturbationStore(int64_t examples, int64_t dim) : PerturbationStore(examples, dim, 0, examples) {}
  // Only examples [first, first + rows) of a store of `examples` (a rank's shard).
  PerturbationStore(int64_t examples, int64_t dim, int64_t first, int64_t rows);

  int64_t examples() const { return examples_; }
  int64_t dim() const { return dim_; }
  int64_t first() const { return first_; }
  int64_t rows() const { return rows_; }  // held here
  bool holds(int64_t example) const { return example >= first_ && example < first_ + rows_; }
  bool enabled() const { return examples_ > 0; }
  int64_t stored() const;  // held examples holding a perturbation
  int64_t bytes() const { return int64_t(codes_.size() + scale_.size() * sizeof(float)); }

  // For the n examples idx[0..n): writes the stored perturbation into delta [n, dim]
  // and has[e] = 1, or zeros and has[e] = 0 where none is stored yet. Returns how many
  // had one. std::out_of_range for an example this store does not hold.
  int64_t load(const int64_t* idx, int64_t n, float* delta, uint8_t* has) const;

  // Stores x_adv - x (n rows of dim) for the examples idx, quantized in units of
  // eps / 127; eps > 0 bounds |x_adv - x| (values beyond it are clipped).
  void store(const int64_t* idx, int64_t n, const float* x_adv, const float* x, float eps);

  // The rows of examples idx as packed bytes, for another store's unpack().
  std::string pack(const int64_t* idx, int64_t n) const;
  // Applies packed rows; std::invalid_argument for malformed bytes, std::out_of_range for
  // an example not held here.
  void unpack(const std::string& bytes);

  // Checkpoint form of the held rows: codes int8 [rows, dim], scale float [rows] (0: none stored).
  const std::vector<int8_t>& codes() const { return codes_; }
  const std::vector<float>& scales() const { return scale_; }
  // std::invalid_argument unless the sizes match rows() x dim().
  void restore(std::vector<int8_t> codes, std::vector<float> scales);

  // The sum (mod 2^64) over held rows of an FNV-1a hash of (example, scale, codes): equal for
  // equal stores, and the shards' fingerprints add up to the whole store's, however it is split.
  uint64_t fingerprint() const;

 private:
  void check_held(int64_t example) const;

  int64_t examples_ = 0, dim_ = 0, first_ = 0, rows_ = 0;
  std::vector<int8_t> codes_;
  std::vector<float> scale_;  // eps / 127 of the stored row; 0 = nothing stored
};

}  // namespace rampart
