// The attack engine against the algorithm it replaced, bit for bit: ReferenceAttacker below
// is a verbatim copy of the Attacker of commit 34f9f67 (hard-wired softmax cross-entropy and
// PGD kernels), and kGolden holds fingerprints of what that code returned, recorded before the
// engine was rebuilt from parts. Every attack name, early stopping, keep-best with restarts,
// carried starts and the Evaluator are covered; any change of bits fails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>

#include "kernels/cpu/conv_dnnl.h"
#include "kernels/cpu/pgd.h"
#include "kernels/cpu/softmax_xent.h"
#include "runtime/attacks/attack.h"
#include "runtime/attacks/attack_registry.h"
#include "runtime/errors.h"
#include "runtime/evaluate.h"

namespace rampart {
namespace {

// ---- Today's algorithm, copied (only renamed, and validate()-free as it was) ----
class ReferenceAttacker {
 public:
  AttackStats run(Model& model, const Tensor& x, const int32_t* labels, const AttackConfig& cfg,
                  const RandomKey& key, Tensor& x_adv, const CarriedStart* carried = nullptr) {
    AttackStats st;
    const int64_t n = x.dim(0);
    x_adv.resize(x.shape());
    if (cfg.eps == 0) {
      std::memcpy(x_adv.data(), x.data(), x.size() * sizeof(float));
      return st;
    }
    if (cfg.keep_best) {
      best_x_.resize(x.shape());
      best_loss_.assign(n, -INFINITY);
      best_fooled_.assign(n, 0);
    }
    for (int r = 0; r < cfg.restarts; ++r) {
      RandomKey k = key;
      k.sub = key.sub * 1000003ull + uint64_t(r);
      x_cur_.resize(x.shape());
      one_restart(model, x, labels, cfg, k, x_cur_, st, r == 0 ? carried : nullptr);
    }
    if (cfg.keep_best) {
      std::memcpy(x_adv.data(), best_x_.data(), x.size() * sizeof(float));
      for (int64_t e = 0; e < n; ++e) st.fooled += best_fooled_[e];
    } else {
      std::memcpy(x_adv.data(), x_cur_.data(), x.size() * sizeof(float));
    }
    return st;
  }

 private:
  void consider(const Tensor& x_cur, const Tensor& logits, const int32_t* labels, int64_t n) {
    const int64_t k = logits.dim(1), dim = x_cur.size() / n;
    loss_.resize(n);
    correct_.resize(n);
    kernels::softmax_xent_cpu(logits.data(), labels, n, k, 0.f, nullptr, loss_.data(), correct_.data());
    for (int64_t e = 0; e < n; ++e) {
      uint8_t fooled = !correct_[e];
      bool better = fooled > best_fooled_[e] || (fooled == best_fooled_[e] && loss_[e] > best_loss_[e]);
      if (better) {
        best_fooled_[e] = fooled;
        best_loss_[e] = loss_[e];
        std::memcpy(best_x_.data() + e * dim, x_cur.data() + e * dim, dim * sizeof(float));
      }
    }
  }

  void one_restart(Model& model, const Tensor& x, const int32_t* labels, const AttackConfig& cfg,
                   const RandomKey& key, Tensor& xc, AttackStats& st, const CarriedStart* carried) {
    const int64_t n = x.dim(0), dim = x.size() / n, size = x.size();
    if (cfg.random_start) {
      if (cfg.norm == Norm::kLinf)
        kernels::random_start_cpu(xc.data(), x.data(), size, cfg.eps, key.seed, uint32_t(key.stream), key.sub,
                                  key.first_example * dim);
      else
        kernels::random_start_l2_cpu(xc.data(), x.data(), n, dim, cfg.eps, key.seed, uint32_t(key.stream), key.sub,
                                     key.first_example);
    } else {
      std::memcpy(xc.data(), x.data(), size * sizeof(float));
    }
    if (carried && carried->delta && carried->has) {
      if (cfg.norm != Norm::kLinf) throw ConfigError(cfg.name + ": carried starts need the L-inf norm");
      kernels::carried_start_cpu(xc.data(), x.data(), carried->delta, carried->has, n, dim, cfg.eps);
    }
    const bool early = cfg.early_stop_tau >= 0;
    if (early) stop_in_.assign(n, -1);
    for (int t = 0; t < cfg.steps; ++t) {
      const Tensor& logits = model.forward(xc, Mode::kEval);
      const int64_t k = logits.dim(1);
      dlogits_.resize(logits.shape());
      loss_.resize(n);
      correct_.resize(n);
      auto tot = kernels::softmax_xent_cpu(logits.data(), labels, n, k, 1.f, dlogits_.data(), loss_.data(),
                                           correct_.data());
      st.step_loss.push_back(tot.loss_sum / double(n));
      if (cfg.keep_best) consider(xc, logits, labels, n);
      if (early) {
        for (int64_t e = 0; e < n; ++e) {
          if (!correct_[e] && stop_in_[e] < 0) stop_in_[e] = cfg.early_stop_tau;
          if (stop_in_[e] == 0) std::memset(dlogits_.data() + e * k, 0, k * sizeof(float));
          else if (stop_in_[e] > 0) --stop_in_[e];
        }
      }
      const Tensor& g = model.backward(dlogits_, /*input_grad=*/true, /*param_grads=*/false);
      ++st.passes;
      if (cfg.norm == Norm::kLinf)
        kernels::pgd_linf_step_cpu(xc.data(), g.data(), x.data(), size, cfg.alpha, cfg.eps);
      else
        kernels::pgd_l2_step_cpu(xc.data(), g.data(), x.data(), n, dim, cfg.alpha, cfg.eps);
    }
    if (cfg.keep_best) consider(xc, model.forward(xc, Mode::kEval), labels, n);
  }

  Tensor x_cur_, dlogits_, best_x_;
  std::vector<float> loss_, best_loss_;
  std::vector<uint8_t> correct_, best_fooled_;
  std::vector<int> stop_in_;
};

// ---- Fixtures ----
struct Batch {
  Model model;
  Tensor x;
  std::vector<int32_t> y;
  std::vector<float> delta;  // a carried perturbation per example
  std::vector<uint8_t> has;  // which examples carry one
};

// n examples of 1x12x12; labels: the model's own prediction for even examples (so they start
// correct and early stopping has something to wait for), random for odd ones.
Batch make_batch(const std::string& arch, uint64_t seed, int64_t n) {
  Shape in = {1, 12, 12};
  Batch b{Model(expand_model(arch, in), in), Tensor({n, 1, 12, 12}), {}, {}, {}};
  b.model.init(seed);
  std::mt19937 g{uint32_t(seed)};
  std::uniform_real_distribution<float> u(0, 1), d(-0.4f, 0.4f);
  for (int64_t i = 0; i < b.x.size(); ++i) b.x[i] = u(g);
  const Tensor& z = b.model.forward(b.x, Mode::kEval);
  b.y.resize(n);
  for (int64_t e = 0; e < n; ++e) {
    int32_t arg = 0;
    for (int32_t j = 1; j < int32_t(z.dim(1)); ++j)
      if (z[e * z.dim(1) + j] > z[e * z.dim(1) + arg]) arg = j;
    b.y[e] = e % 2 == 0 ? arg : int32_t(g() % 10);
  }
  b.delta.resize(b.x.size());
  for (auto& v : b.delta) v = d(g);
  b.has.resize(n);
  for (int64_t e = 0; e < n; ++e) b.has[e] = e % 3 != 0;
  return b;
}

struct Case {
  const char* label;
  const char* arch;
  AttackConfig cfg;
  RandomKey key;
  bool carried;
};

AttackConfig with(AttackConfig a, int tau, bool keep_best) {
  a.early_stop_tau = tau;
  a.keep_best = keep_best;
  return a;
}

AttackConfig l2(float eps, float alpha, int steps, int restarts) {
  AttackConfig a = pgd_config(eps, alpha, steps, restarts);
  a.norm = Norm::kL2;
  a.name = "pgd-l2";
  return a;
}

std::vector<Case> cases() {
  const RandomKey k0{11, Stream::kRandomStart, 5, 0}, k1{12, Stream::kEvalStart, 2, 37};
  return {
      {"pgd", "small-cnn", pgd_config(0.1f, 0.025f, 5), k0, false},
      {"pgd_mlp_offset", "mlp", pgd_config(0.2f, 0.05f, 4), k1, false},
      {"fgsm", "small-cnn", fgsm_config(0.1f), k0, false},
      {"fgsm_rs", "small-cnn-bn", fgsm_rs_config(0.15f), k1, false},
      {"pgd_l2", "small-cnn", l2(1.0f, 0.25f, 5, 1), k0, false},
      {"pgd_l2_keep_best_restarts", "mlp", with(l2(1.5f, 0.4f, 3, 2), -1, true), k1, false},
      {"early_stop_tau0", "small-cnn", with(pgd_config(0.3f, 0.1f, 6), 0, false), k0, false},
      {"early_stop_tau2", "mlp", with(pgd_config(0.3f, 0.1f, 6), 2, false), k1, false},
      {"keep_best_restarts", "small-cnn", with(pgd_config(0.2f, 0.05f, 4, 3), -1, true), k0, false},
      {"keep_best_early_stop", "small-cnn-bn", with(pgd_config(0.3f, 0.1f, 5, 2), 1, true), k1, false},
      {"carried", "small-cnn", pgd_config(0.2f, 0.05f, 3), k0, true},
      {"carried_keep_best_restarts", "mlp", with(pgd_config(0.25f, 0.05f, 3, 2), -1, true), k1, true},
      {"carried_fgsm_rs", "small-cnn", fgsm_rs_config(0.2f), k1, true},
      {"eps_zero", "small-cnn", pgd_config(0.0f, 0.025f, 3), k0, false},
  };
}

// FNV-1a of the returned image's bits and the statistics.
uint64_t fingerprint(const Tensor& xa, const AttackStats& st) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) { h ^= b[i]; h *= 1099511628211ull; }
  };
  mix(xa.data(), size_t(xa.size()) * sizeof(float));
  mix(st.step_loss.data(), st.step_loss.size() * sizeof(double));
  mix(&st.passes, sizeof st.passes);
  mix(&st.fooled, sizeof st.fooled);
  return h;
}

// Recorded from the code before the engine was rebuilt (ReferenceAttacker's answers).
const std::map<std::string, uint64_t> kGolden = {
    {"pgd", 0x7ac79788d5a3c59cull},
    {"pgd_mlp_offset", 0x900c81eb096024b3ull},
    {"fgsm", 0xb59071b2ac8f2196ull},
    {"fgsm_rs", 0x82facda493da4d38ull},
    {"pgd_l2", 0xb4336cc42d1c50a7ull},
    {"pgd_l2_keep_best_restarts", 0x19aa97f0a336767eull},
    {"early_stop_tau0", 0x75be15b05be1b54cull},
    {"early_stop_tau2", 0xfb7b20a09df02a88ull},
    {"keep_best_restarts", 0xb90deaeee2989d69ull},
    {"keep_best_early_stop", 0x4386c9df6c3a0dbfull},
    {"carried", 0xa5cca37088804182ull},
    {"carried_keep_best_restarts", 0xe746346572440c17ull},
    {"carried_fgsm_rs", 0x6437fd7cf87a09a1ull},
    {"eps_zero", 0x09a33d423f09b0f9ull},
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.label; }

class AttackEngineBits : public ::testing::TestWithParam<Case> {};

TEST_P(AttackEngineBits, SameBitsAsTheAlgorithmItReplaced) {
  const Case c = GetParam();
  Batch b = make_batch(c.arch, 3, 9);
  CarriedStart cs{b.delta.data(), b.has.data()};
  const CarriedStart* carried = c.carried ? &cs : nullptr;
  ReferenceAttacker ref;
  Attacker engine;
  Tensor xr, xe;
  AttackStats sr = ref.run(b.model, b.x, b.y.data(), c.cfg, c.key, xr, carried);
  AttackStats se = engine.run(b.model, b.x, b.y.data(), c.cfg, c.key, xe, carried);
  ASSERT_EQ(xe.shape(), xr.shape());
  EXPECT_EQ(0, std::memcmp(xe.data(), xr.data(), size_t(xr.size()) * sizeof(float))) << c.label;
  EXPECT_EQ(se.step_loss, sr.step_loss) << c.label;
  EXPECT_EQ(se.passes, sr.passes) << c.label;
  EXPECT_EQ(se.fooled, sr.fooled) << c.label;
  auto it = kGolden.find(c.label);
  ASSERT_NE(it, kGolden.end()) << "no recorded fingerprint for " << c.label;
  EXPECT_EQ(fingerprint(xe, se), it->second) << c.label << ": the reference now gives " << std::hex
                                             << fingerprint(xr, sr);
}

INSTANTIATE_TEST_SUITE_P(EveryAttack, AttackEngineBits, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return std::string(info.param.label); });

// BF16 attack passes on a whole model (small-cnn-bn: convolutions, batchnorm, pooling,
// linear): the input gradient points where FP32's does (cosine above 0.95 per example: BF16
// keeps about 3 significant digits, and a ReLU or a max-pool may switch where an input sits
// near its kink), the precision is FP32 again once the attack is over, and PGD-7 in BF16 is
// as strong as in FP32: what it adds to the loss (scored in FP32) within 10% of FP32's. Its iterates differ pixel by pixel (a sign where the gradient is near zero flips),
// which is why a robust accuracy, not bit equality, is the benchmark's measure.
TEST(AttackEngine, Bf16PassesFollowTheFp32Gradient) {
  std::string why;
  if (!kernels::cpu::ConvDnnl::bf16_supported(&why)) GTEST_SKIP() << why;
  Batch b = make_batch("small-cnn-bn", 5, 16);
  const int64_t n = b.x.dim(0), dim = b.x.size() / n;
  auto input_grad = [&](Precision p) {
    PassPrecision scope(b.model, p);
    const Tensor& z = b.model.forward(b.x, Mode::kEval);
    Tensor dz(z.shape());
    kernels::softmax_xent_cpu(z.data(), b.y.data(), n, z.dim(1), 1.f, dz.data(), nullptr, nullptr);
    Tensor g;
    g.copy_from(b.model.backward(dz, true, false));
    return g;
  };
  const Tensor g32 = input_grad(Precision::kFp32), g16 = input_grad(Precision::kBf16);
  for (int64_t e = 0; e < n; ++e) {
    double dot = 0, a = 0, c = 0;
    for (int64_t i = e * dim; i < (e + 1) * dim; ++i) {
      dot += double(g32[i]) * g16[i];
      a += double(g32[i]) * g32[i];
      c += double(g16[i]) * g16[i];
    }
    EXPECT_GT(dot / std::sqrt(a * c), 0.95) << "example " << e;
  }
  AttackConfig cfg = make_attack("pgd", {0.3f, 0.075f, 7});
  Attacker attacker;
  Tensor x32, x16;
  RandomKey key{9, Stream::kRandomStart, 0, 0};
  attacker.run(b.model, b.x, b.y.data(), cfg, key, x32);
  cfg.precision = Precision::kBf16;
  attacker.run(b.model, b.x, b.y.data(), cfg, key, x16);
  EXPECT_EQ(b.model.pass_precision(), Precision::kFp32);
  auto mean_loss = [&](const Tensor& x) {
    const Tensor& z = b.model.forward(x, Mode::kEval);
    return kernels::softmax_xent_cpu(z.data(), b.y.data(), n, z.dim(1), 1.f, nullptr, nullptr, nullptr).loss_sum /
           double(n);
  };
  const double clean = mean_loss(b.x), l32 = mean_loss(x32), l16 = mean_loss(x16);
  // What the attack adds to the loss, in BF16 within 10% of FP32's.
  EXPECT_GT(l32, clean);
  EXPECT_NEAR(l16 - clean, l32 - clean, 0.1 * (l32 - clean)) << "clean " << clean << ", FP32 " << l32 << ", BF16 " << l16;
}

// The Evaluator's counts for fgsm + pgd + pgd-l2 on batches split at an odd place.
TEST(AttackEngine, EvaluatorCountsAsRecorded) {
  Batch b = make_batch("small-cnn", 5, 13);
  Evaluator ev({fgsm_config(0.03f), pgd_config(0.03f, 0.01f, 4, 2), l2(0.3f, 0.1f, 3, 1)}, 77);
  const int64_t cut = 6, dim = b.x.size() / b.x.dim(0);
  Tensor a({cut, 1, 12, 12}), c({13 - cut, 1, 12, 12});
  std::memcpy(a.data(), b.x.data(), size_t(cut * dim) * sizeof(float));
  std::memcpy(c.data(), b.x.data() + cut * dim, size_t((13 - cut) * dim) * sizeof(float));
  ev.add(b.model, a, b.y.data(), 0);
  ev.add(b.model, c, b.y.data() + cut, cut);
  const std::vector<double> got = ev.counts().pack();
  const std::vector<double> recorded = {13, 8, 29.473648242504197, 3, 2, 2};
  EXPECT_EQ(got, recorded);
}

}  // namespace
}  // namespace rampart
