// The attacks of AutoAttack (Croce & Hein 2020), beside the PGD engine (attack.h): APGD with
// the cross-entropy or the DLR loss, untargeted or over the top target classes (apgd.cpp),
// FAB-T (fab.cpp) and Square (square.cpp). Unlike PGD they search per example (step sizes,
// restarts and queries that differ between examples), run only on the examples still
// robust, and say which examples they broke.
//
// Every random number is keyed by the example's index in the evaluated set (SearchBatch::index),
// never by its position in a batch: N ranks, any batch size, or a batch that has shrunk to the
// examples an earlier attack left robust all draw what one rank draws for that example.
//
// They run on the host (Device::kCpu): the model must be on the CPU (a documented gap on
// CUDA: check_attack_on refuses them there before a run starts).
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/attacks/attack_config.h"
#include "runtime/model.h"
#include "runtime/rng.h"
#include "runtime/tensor.h"

namespace rampart {

// The examples an attack runs on, in host memory.
struct SearchBatch {
  const Tensor* x = nullptr;        // [n, C, H, W], stored channels-last (NHWC), in [0, 1]
  const int32_t* labels = nullptr;  // [n]
  const int64_t* index = nullptr;   // [n] each example's index in the evaluated set
  int64_t n() const { return x->dim(0); }
  int64_t dim() const { return x->size() / x->dim(0); }
};

// What an attack found: for examples with fooled[e] = 1, x_adv's row e is misclassified by
// the model and inside the ball (L-inf or L2 distance to x <= eps); other rows hold x.
struct SearchResult {
  Tensor x_adv;                  // [n, C, H, W]
  std::vector<uint8_t> fooled;   // [n]
};

// Runs cfg (cfg.method is kApgd, kFab or kSquare) on every example of b whose clean input the
// model classifies correctly. seed keys the random numbers (with the attack's slot in a chain).
SearchResult run_search_attack(Model& model, const SearchBatch& b, const AttackConfig& cfg, uint64_t seed);

// The three searches (run_search_attack dispatches on cfg.method); each writes r.x_adv and
// r.fooled for all n rows and may assume the model is on the CPU.
void apgd_attack(Model& model, const SearchBatch& b, const AttackConfig& cfg, uint64_t seed, SearchResult& r);
void fab_attack(Model& model, const SearchBatch& b, const AttackConfig& cfg, uint64_t seed, SearchResult& r);
void square_attack(Model& model, const SearchBatch& b, const AttackConfig& cfg, uint64_t seed, SearchResult& r);

// The random numbers of one example in one run of a search attack: a sequential Philox stream
// keyed by (seed, the attack's slot, the run (restart or target), the example's index).
inline Rng example_rng(uint64_t seed, uint32_t slot, uint32_t run, int64_t index) {
  return Rng(seed, Stream::kEvalSearch, (uint64_t(index) << 20) | (uint64_t(slot & 0xff) << 12) | (run & 0xfff));
}

// APGD's checkpoints for n_iter iterations: after iteration `iteration` (0-based) the step
// size is halved where the loss rose in at most 0.75 * window of the last `window` iterations
// (or stalled). For 100 iterations: after 22, 41, 57, 70, 80, 87, 93 and 99 iterations.
struct ApgdCheckpoint {
  int iteration;
  int window;
};
std::vector<ApgdCheckpoint> apgd_checkpoints(int n_iter);

// The DLR loss (Croce & Hein 2020) of one row of k logits z for label y, and, when dz is not
// null, its gradient dL/dz. Untargeted (target < 0): -(z_y - max_{i!=y} z_i) / (z_p1 - z_p3 + 1e-12);
// targeted: -(z_y - z_t) / (z_p1 - (z_p3 + z_p4) / 2 + 1e-12), with z_p1 >= z_p2 >= ... the sorted
// logits. Targeted needs k >= 4, untargeted k >= 3.
float dlr_loss(const float* z, int64_t k, int32_t y, int32_t target, float* dz);

// L-inf: max |a - b|; L2: ||a - b||_2 (over dim floats).
float distance(Norm norm, const float* a, const float* b, int64_t dim);

// The class a row of k logits predicts: argmax, ties to the lowest index (as the objectives'
// `correct`, and as PyTorch's max()).
int32_t predicted_class(const float* z, int64_t k);
// The class ranked r-th (1: the largest) by the logits z; ties to the lower index first. The
// targets of APGD-T and FAB-T are ranks 2..targets+1 of the clean logits.
int32_t class_ranked(const float* z, int64_t k, int r);
// A standard normal draw (Box-Muller on two uniforms).
float standard_normal(Rng& g);
// Rows `rows` of src (rows of dim floats) into dst, in that order.
void gather_rows(float* dst, const float* src, const std::vector<int64_t>& rows, int64_t dim);

}  // namespace rampart
