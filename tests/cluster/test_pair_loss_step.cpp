// The training step of a loss of two predictions (TRADES, MART) through the compute
// backend: the gradient it leaves for the optimizer is the derivative of
//   sum_e L(f(x_e), f(x_adv_e)) * scale
// with both forwards in train mode (batch statistics), by central differences over the
// parameters; and the running statistics move twice (clean, then attacked), as in the
// reference code's two forwards, never a third time for the backend's recomputation.
// The network is smooth (no ReLU or max-pooling kinks) so that central differences converge.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "cluster/comm/communicator_factory.h"
#include "cluster/train/compute_backend.h"
#include "runtime/attacks/attack_registry.h"
#include "runtime/model.h"
#include "runtime/objectives/objective.h"
#include "runtime/optimizer.h"

namespace rampart {
namespace {

double pair_loss_at(Model& m, const Objective& loss, const Tensor& x, const Tensor& x_adv,
                    const std::vector<int32_t>& y, float scale) {
  Tensor clean;
  clean.copy_from(m.forward(x, Mode::kTrain));
  const Tensor& adv = m.forward(x_adv, Mode::kTrain);
  return scale * loss.evaluate({adv.data(), y.data(), x.dim(0), adv.dim(1), clean.data()}, {0.f}).loss_sum;
}

class PairLossStep : public ::testing::TestWithParam<const char*> {};

TEST_P(PairLossStep, GradientIsTheDerivativeOfBothBranches) {
  const std::string name = GetParam();
  const Shape in{1, 8, 8};
  auto spec = nlohmann::json::parse(R"([
    {"type": "conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3, "padding": 1},
    {"type": "batchnorm2d", "num_features": 4}, {"type": "avgpool2d", "kernel_size": 2},
    {"type": "flatten"}, {"type": "linear", "in_features": 64, "out_features": 5}])");
  Model model(spec, in);
  model.init(3);
  Sgd sgd(SgdConfig{0.9, 0.0}, model.num_params());
  auto comm = make_self_communicator();
  auto backend = make_compute_backend("cpu", model, &sgd, *comm, 0, 1 << 20);
  backend->set_training_loss(name, {2.5});

  const int64_t n = 5;
  Tensor x({n, 1, 8, 8});
  std::mt19937 g(7);
  std::uniform_real_distribution<float> u(0, 1);
  for (int64_t i = 0; i < x.size(); ++i) x[i] = u(g);
  std::vector<int32_t> y{0, 1, 2, 3, 4};
  backend->set_batch(x, y.data());
  AttackConfig a = pgd_config(0.1f, 0.03f, 2);
  a.objective = name == "trades" ? "trades-kl" : "ce";
  a.start_radius = 0.001f;
  backend->attack(a, {1, Stream::kRandomStart, 0, 0});
  Tensor x_adv;
  x_adv.copy_from(backend->adversarial_host());

  const float scale = 1.f / float(n);
  backend->forward_loss(scale);
  backend->backward_allreduce();
  std::vector<float> grad(model.flat_grads(), model.flat_grads() + model.num_params());
  // Two train-mode forwards moved the statistics: num_batches_tracked counts them.
  for (const auto& b : model.buffers())
    if (b.name.find("num_batches_tracked") != std::string::npos) EXPECT_EQ(b.value[0], 2.0f) << b.name;

  auto loss = make_objective(name, {2.5});
  int bad = 0, checked = 0;
  for (int64_t i = 0; i < model.num_params(); i += 7) {
    float* w = model.flat_params() + i;
    const float w0 = *w;
    *w = w0 + 1e-2f;
    const double lp = pair_loss_at(model, *loss, x, x_adv, y, scale);
    const float hp = *w - w0;
    *w = w0 - 1e-2f;
    const double lm = pair_loss_at(model, *loss, x, x_adv, y, scale);
    const float hm = w0 - *w;
    *w = w0;
    const double num = (lp - lm) / (double(hp) + double(hm));
    ++checked;
    if (std::abs(grad[size_t(i)] - num) > 1e-5 + 2e-3 * std::abs(num)) {
      ++bad;
      ADD_FAILURE() << name << " parameter " << i << ": backend " << grad[size_t(i)] << ", numerical " << num;
    }
  }
  EXPECT_GT(checked, 20);
  EXPECT_EQ(bad, 0);
}

INSTANTIATE_TEST_SUITE_P(Losses, PairLossStep, ::testing::Values("trades", "mart"));

}  // namespace
}  // namespace rampart
