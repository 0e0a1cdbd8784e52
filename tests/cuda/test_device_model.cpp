// The one Model, attack engine and evaluator with their tensors on a GPU, against the
// same code on the CPU (and PyTorch's golden file): every layer's CUDA kernel through
// kernels/dispatch. Reads go through Tensor::to(Device::kCpu), which waits for the
// compute stream (review A2). Skips without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "cuda_test_util.h"
#include "kernels/cpu/pgd.h"
#include "kernels/cuda/pgd.cuh"
#include "kernels/dispatch/memory.h"
#include "kernels/dispatch/ops.h"
#include "runtime/attacks/attack.h"
#include "runtime/attacks/attack_registry.h"
#include "runtime/checkpoint.h"
#include "runtime/errors.h"
#include "runtime/evaluate.h"
#include "runtime/io/h5.h"
#include "runtime/model.h"
#include "runtime/model_state.h"

namespace rampart {
namespace {

constexpr Device kGpu = Device::kCuda;
const std::string kGolden = std::string(RAMPART_TESTDATA) + "/small_cnn_golden.h5";

// max |a - b| / max(max |b|, tiny): a scale-aware relative error for a whole array.
double rel_err(const float* a, const float* b, size_t n) {
  double num = 0, den = 1e-12;
  for (size_t i = 0; i < n; ++i) {
    num = std::max(num, std::abs(double(a[i]) - double(b[i])));
    den = std::max(den, std::abs(double(b[i])));
  }
  return num / den;
}
double rel_err(const float* a, const std::vector<double>& b) {
  std::vector<float> bf(b.begin(), b.end());
  return rel_err(a, bf.data(), b.size());
}

// The same model as `cpu` (spec, weights, buffers) moved to the GPU.
std::unique_ptr<Model> gpu_twin(Model& cpu) {
  auto g = std::make_unique<Model>(cpu.spec(), cpu.input_shape());
  std::copy(cpu.flat_params(), cpu.flat_params() + cpu.num_params(), g->flat_params());
  std::copy(cpu.flat_buffers(), cpu.flat_buffers() + cpu.num_buffer_values(), g->flat_buffers());
  g->to(kGpu);
  return g;
}

Buffer<int32_t> labels_on_gpu(const std::vector<int32_t>& labels) {
  Buffer<int32_t> b(kGpu);
  b.resize(int64_t(labels.size()));
  kernels::copy_bytes(kGpu, b.data(), Device::kCpu, labels.data(), sizeof(int32_t) * labels.size());
  return b;
}

// Train-mode forward, the mean loss's gradient and backward, every output against the CPU.
void expect_parity(const nlohmann::json& spec, const Shape& input, int64_t n, uint64_t seed) {
  Model cpu(spec, input);
  cpu.init(seed);
  auto gpu = gpu_twin(cpu);
  const int64_t dim = input[0] * input[1] * input[2];
  Tensor x({n, input[0], input[1], input[2]});
  auto xv = cuda::test::uniform(size_t(n * dim), 0.f, 1.f, uint32_t(seed));
  std::copy(xv.begin(), xv.end(), x.data());
  std::vector<int32_t> labels(n);
  for (int64_t e = 0; e < n; ++e) labels[e] = int32_t((e * 7 + seed) % cpu.num_classes());

  const Tensor& logits = cpu.forward(x, Mode::kTrain);
  Tensor dlogits(logits.shape());
  ops::softmax_xent(Device::kCpu, logits.data(), labels.data(), n, logits.dim(1), 1.f / float(n), dlogits.data(),
                    nullptr, nullptr);
  Tensor dx = cpu.backward(dlogits, true, true);

  Tensor xg = x.to(kGpu);
  Tensor gl = gpu->forward(xg, Mode::kTrain).to(Device::kCpu);
  EXPECT_LT(rel_err(gl.data(), logits.data(), size_t(gl.size())), 1e-5) << "logits";
  std::vector<int> ready;
  Tensor gdx = gpu->backward(dlogits.to(kGpu), true, true, [&](int i) { ready.push_back(i); }).to(Device::kCpu);
  ASSERT_EQ(gdx.size(), dx.size());
  EXPECT_LT(rel_err(gdx.data(), dx.data(), size_t(dx.size())), 1e-4) << "input gradient";
  Tensor grads({gpu->num_params()});
  kernels::copy_bytes(Device::kCpu, grads.data(), kGpu, gpu->work_grads(), sizeof(float) * size_t(grads.size()));
  for (auto& p : cpu.params()) {
    SCOPED_TRACE(p.name);
    EXPECT_LT(rel_err(grads.data() + p.offset, p.grad, size_t(p.size())), 1e-4);
  }
  gpu->pull_state();  // batchnorm's running statistics moved on both devices
  EXPECT_LT(rel_err(gpu->flat_buffers(), cpu.flat_buffers(), size_t(cpu.num_buffer_values())), 1e-5);
  std::vector<int> expect_ready;
  for (int i = cpu.num_layers() - 1; i >= 0; --i)
    if (cpu.layer_param_range(i).second > cpu.layer_param_range(i).first) expect_ready.push_back(i);
  EXPECT_EQ(ready, expect_ready);
}

TEST(DeviceModel, SmallCnnMatchesCpu) {
  RAMPART_REQUIRE_GPU();
  expect_parity(expand_model("small-cnn", {1, 28, 28}), {1, 28, 28}, 5, 11);
}

TEST(DeviceModel, AwkwardShapesMatchCpu) {
  RAMPART_REQUIRE_GPU();
  // Odd sizes, stride and padding, overlapping pooling windows, two linears, no-bias layers.
  // [3,17,23] -> conv s2 p1 [5,9,12] -> pool k3 s2 p1 [5,5,6] -> conv [2,3] [7,4,4]: 112 features
  // (review A1: the old spec said 42 and could not pass).
  auto spec = nlohmann::json::parse(R"([
    {"type": "conv2d", "in_channels": 3, "out_channels": 5, "kernel_size": 3, "stride": 2, "padding": 1},
    {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 3, "stride": 2, "padding": 1},
    {"type": "conv2d", "in_channels": 5, "out_channels": 7, "kernel_size": [2, 3], "bias": false},
    {"type": "relu"}, {"type": "flatten"},
    {"type": "linear", "in_features": 112, "out_features": 13}, {"type": "relu"},
    {"type": "linear", "in_features": 13, "out_features": 3, "bias": false}])");
  expect_parity(spec, {3, 17, 23}, 3, 5);
}

TEST(DeviceModel, ResidualBatchnormPoolingAndNormalizeMatchCpu) {
  RAMPART_REQUIRE_GPU();
  // A pre-activation block (batchnorm, relu, shortcut conv from the pre-activation),
  // average pooling and the input normalisation: the layers the old GPU stack lacked.
  auto spec = nlohmann::json::parse(R"([
    {"type": "normalize", "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]},
    {"type": "conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": 3, "padding": 1, "name": "conv1"},
    {"type": "residual", "name": "block",
     "pre": [{"type": "batchnorm2d", "num_features": 8, "name": "bn1"}, {"type": "relu"}],
     "body": [{"type": "conv2d", "in_channels": 8, "out_channels": 16, "kernel_size": 3, "stride": 2,
               "padding": 1, "name": "conv1"},
              {"type": "batchnorm2d", "num_features": 16, "name": "bn2", "momentum": null}, {"type": "relu"},
              {"type": "conv2d", "in_channels": 16, "out_channels": 16, "kernel_size": 3, "padding": 1,
               "name": "conv2"}],
     "shortcut": [{"type": "conv2d", "in_channels": 8, "out_channels": 16, "kernel_size": 1, "stride": 2,
                   "bias": false}],
     "shortcut_from": "pre"},
    {"type": "avgpool2d", "kernel_size": 4}, {"type": "flatten"},
    {"type": "linear", "in_features": 16, "out_features": 10, "name": "fc"}])");
  expect_parity(spec, {3, 8, 8}, 4, 3);
}

// The model zoo's residual networks (docs/model-spec.md; runtime/model_zoo.cpp) at CIFAR size:
// every block kind (pre-activation with projection shortcut, post-activation with a
// batchnorm shortcut, WideResNet's convShortcut and identity blocks, the bottleneck).
TEST(DeviceModel, ZooNetworksMatchCpu) {
  RAMPART_REQUIRE_GPU();
  for (const char* name : {"preact-resnet18", "resnet18", "wrn-10-2", "wrn-16-1"}) {
    SCOPED_TRACE(name);
    expect_parity(expand_model(name, {3, 32, 32}, 10), {3, 32, 32}, 4, 7);
  }
  SCOPED_TRACE("resnet50");
  expect_parity(expand_model("resnet50", {3, 64, 64}, 100), {3, 64, 64}, 2, 9);
}

// The training attack with batchnorm in train mode (--attack-bn train): the same iterates
// and the same running statistics on both devices.
TEST(DeviceModel, TrainModeAttackMatchesCpu) {
  RAMPART_REQUIRE_GPU();
  const Shape in{3, 32, 32};
  Model cpu(expand_model("wrn-10-1", in, 10), in);
  cpu.init(4);
  auto gpu = gpu_twin(cpu);
  const int64_t n = 6, dim = 3 * 32 * 32;
  Tensor x({n, 3, 32, 32});
  auto xv = cuda::test::uniform(size_t(n * dim), 0.f, 1.f, 8);
  std::copy(xv.begin(), xv.end(), x.data());
  std::vector<int32_t> labels{0, 1, 2, 3, 4, 5};
  AttackConfig a = pgd_config(8.f / 255, 2.f / 255, 3);
  a.bn_batch_stats = true;
  Attacker ca, ga;
  Tensor cadv, gadv;
  const RandomKey key{1, Stream::kRandomStart, 0, 0};
  ca.run(cpu, x, labels.data(), a, key, cadv);
  Tensor xg = x.to(kGpu);
  Buffer<int32_t> lg = labels_on_gpu(labels);
  ga.run(*gpu, xg, lg.data(), a, key, gadv);
  Tensor back = gadv.to(Device::kCpu);
  // A sign flip of a near-zero gradient element moves a pixel by a whole step: count them.
  int64_t moved = 0;
  for (int64_t i = 0; i < x.size(); ++i) moved += std::abs(back[i] - cadv[i]) > 1e-5f;
  EXPECT_LT(moved, x.size() / 1000) << "pixels whose iterate differs";
  gpu->pull_state();
  EXPECT_LT(rel_err(gpu->flat_buffers(), cpu.flat_buffers(), size_t(cpu.num_buffer_values())), 1e-5);
}

TEST(DeviceModel, AccumulatedGradientsAreTheSumOfTwoBackwards) {
  RAMPART_REQUIRE_GPU();
  Shape in{1, 28, 28};
  Model cpu(expand_model("small-cnn", in), in);
  cpu.init(2);
  auto gpu = gpu_twin(cpu);
  Tensor x = Tensor({3, 1, 28, 28});
  auto xv = cuda::test::uniform(3 * 784, 0.f, 1.f, 4);
  std::copy(xv.begin(), xv.end(), x.data());
  Tensor xg = x.to(kGpu), dl({3, 10});
  for (int64_t i = 0; i < dl.size(); ++i) dl[i] = 0.01f * float(i % 7) - 0.03f;
  Tensor dlg = dl.to(kGpu);
  gpu->forward(xg, Mode::kEval);
  gpu->backward(dlg, false, true);
  Tensor once({gpu->num_params()}), twice({gpu->num_params()});
  kernels::copy_bytes(Device::kCpu, once.data(), kGpu, gpu->work_grads(), sizeof(float) * size_t(once.size()));
  gpu->forward(xg, Mode::kEval);
  gpu->backward(dlg, false, true, nullptr, /*accumulate=*/true);
  kernels::copy_bytes(Device::kCpu, twice.data(), kGpu, gpu->work_grads(), sizeof(float) * size_t(twice.size()));
  for (int64_t i = 0; i < once.size(); ++i) ASSERT_EQ(twice[i], once[i] + once[i]) << "parameter " << i;
}

// The library's CPU random start (built without FMA contraction) and the GPU's
// (--fmad=false) give the same bits, so CPU and GPU attacks start from the same point.
TEST(DeviceModel, RandomStartIsBitIdenticalToTheCpuKernel) {
  RAMPART_REQUIRE_GPU();
  const int64_t n = 100003;
  Tensor x({n});
  auto xv = cuda::test::uniform(size_t(n), 0.f, 1.f, 3);
  std::copy(xv.begin(), xv.end(), x.data());
  Tensor cpu({n});
  ops::RandomKey key{9, uint32_t(Stream::kRandomStart), 17, 5};
  ops::random_start_linf(Device::kCpu, cpu.data(), x.data(), n, 0.3f, key);
  Tensor xg = x.to(kGpu), yg({n}, kGpu);
  ops::random_start_linf(kGpu, yg.data(), xg.data(), n, 0.3f, key);
  Tensor gpu = yg.to(Device::kCpu);
  EXPECT_EQ(0, std::memcmp(gpu.data(), cpu.data(), sizeof(float) * size_t(n)));
}

TEST(DeviceModel, StateRoundTripIsBitExact) {
  RAMPART_REQUIRE_GPU();
  Shape in{1, 28, 28};
  Model a(expand_model("small-cnn", in), in);
  a.init(1);
  std::vector<float> before(a.flat_params(), a.flat_params() + a.num_params());
  a.to(kGpu);
  std::fill(a.flat_params(), a.flat_params() + a.num_params(), 0.0f);  // the host copy only
  a.pull_state();
  EXPECT_EQ(0, std::memcmp(before.data(), a.flat_params(), sizeof(float) * before.size()));
  a.flat_params()[3] += 1.0f;
  a.push_state();
  std::fill(a.flat_params(), a.flat_params() + a.num_params(), 0.0f);
  a.pull_state();
  EXPECT_EQ(a.flat_params()[3], before[3] + 1.0f);
}

TEST(DeviceModel, LayersWithoutACudaKernelAreRefusedByName) {
  RAMPART_REQUIRE_GPU();
  Shape in{1, 8, 8};
  auto spec = nlohmann::json::parse(R"([{"type": "maxpool2d", "kernel_size": [2, 1]}, {"type": "flatten"},
                                        {"type": "linear", "in_features": 32, "out_features": 2}])");
  Model m(spec, in);
  try {
    m.to(kGpu);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("maxpool2d"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("square"), std::string::npos) << e.what();
  }
  EXPECT_EQ(m.device(), Device::kCpu);  // nothing moved
  EXPECT_THROW(check_attack_on(kGpu, make_attack("pgd-l2", {0.5f, 0.1f, 3})), ConfigError);  // no L2 random start
  EXPECT_NO_THROW(check_attack_on(kGpu, make_attack("pgd", {0.1f, 0.025f, 3})));
}

// PyTorch's answers (tests/data/README.md), with the CPU golden test's tolerances.
class DeviceGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RAMPART_REQUIRE_GPU();
    ck = read_checkpoint(kGolden);
    model = std::make_unique<Model>(ck.arch, Shape{1, 28, 28});
    load_model(ck, *model, nullptr);
    gpu = gpu_twin(*model);
    file = std::make_unique<h5::File>(h5::File::open(kGolden));
    auto u8 = file->root().dataset("batch/images_u8");
    shape = u8.shape();
    x = Tensor({shape[0], 1, 28, 28});
    int64_t i = 0;
    for (auto v : u8.read<uint8_t>()) x[i++] = float(v) / 255.0f;  // C = 1: NCHW is NHWC
    for (auto v : file->root().dataset("batch/labels").read<uint8_t>()) labels.push_back(v);
  }
  std::vector<double> get(const std::string& name) { return file->root().dataset(name).read<double>(); }
  Checkpoint ck;
  std::unique_ptr<Model> model, gpu;
  std::unique_ptr<h5::File> file;
  Shape shape;
  Tensor x;
  std::vector<int32_t> labels;
};

TEST_F(DeviceGoldenTest, ForwardLossAndGradientsMatchPyTorch) {
  const int64_t n = shape[0];
  ASSERT_EQ(n, 16);
  Tensor xg = x.to(kGpu), dl({n, 10}, kGpu), loss({n}, kGpu);
  Buffer<int32_t> y = labels_on_gpu(labels);
  const Tensor& logits = gpu->forward(xg, Mode::kEval);
  EXPECT_LT(rel_err(logits.to(Device::kCpu).data(), get("expected/logits")), 1e-4);
  auto tot = ops::softmax_xent(kGpu, logits.data(), y.data(), n, 10, 1.0f / float(n), dl.data(), loss.data(), nullptr);
  Tensor dx = gpu->backward(dl, true, true).to(Device::kCpu);
  double expected_loss = get("expected/loss")[0];
  EXPECT_NEAR(tot.loss_sum / double(n), expected_loss, 1e-4 * std::abs(expected_loss));
  // Max-pool ties: the same five images as in tests/runtime/test_golden.cpp may
  // route their input gradient differently from the file (PyTorch 1.13 itself does).
  auto eg = get("expected/grad_input");
  double scale = 1e-12;
  for (double v : eg) scale = std::max(scale, std::abs(v));
  const int64_t dim = int64_t(eg.size()) / n;
  for (int64_t e = 0; e < n; ++e) {
    double err = 0;
    for (int64_t i = e * dim; i < (e + 1) * dim; ++i) err = std::max(err, std::abs(double(dx[i]) - eg[i]));
    if (err / scale > 1e-4) {
      EXPECT_TRUE(e == 2 || e == 3 || e == 5 || e == 13 || e == 15) << "image " << e << " off by " << err / scale;
      EXPECT_LT(err / scale, 0.25) << "image " << e;
    }
  }
  Tensor grads({gpu->num_params()});
  kernels::copy_bytes(Device::kCpu, grads.data(), kGpu, gpu->work_grads(), sizeof(float) * size_t(grads.size()));
  for (auto& p : model->params()) {
    SCOPED_TRACE(p.name);
    auto expected = get("expected/grads/" + p.name);
    ASSERT_EQ(int64_t(expected.size()), p.size());
    EXPECT_LT(rel_err(grads.data() + p.offset, expected), 1e-4);
  }
}

TEST_F(DeviceGoldenTest, PgdAttackMatchesTheCpuAttacker) {
  const int64_t n = shape[0];
  AttackConfig cfg = pgd_config(0.1f, 0.025f, 5, 2);
  RandomKey key{7, Stream::kRandomStart, 3, 100};
  Attacker cpu_attacker, gpu_attacker;
  Tensor cpu_adv, gpu_adv;
  AttackStats cs = cpu_attacker.run(*model, x, labels.data(), cfg, key, cpu_adv);
  Tensor xg = x.to(kGpu);
  Buffer<int32_t> y = labels_on_gpu(labels);
  AttackStats gs = gpu_attacker.run(*gpu, xg, y.data(), cfg, key, gpu_adv);
  EXPECT_EQ(gs.passes, cs.passes);
  ASSERT_EQ(gs.step_loss.size(), cs.step_loss.size());
  for (size_t t = 0; t < cs.step_loss.size(); ++t)
    EXPECT_NEAR(gs.step_loss[t], cs.step_loss[t], 1e-4 * (1 + cs.step_loss[t]));
  // Same Philox draws; only gradient signs near zero may differ.
  Tensor xa = gpu_adv.to(Device::kCpu);
  int64_t differ = 0;
  for (int64_t i = 0; i < xa.size(); ++i) differ += xa[i] != cpu_adv[i];
  EXPECT_LT(double(differ) / double(xa.size()), 0.01) << differ << " pixels differ";
  (void)n;
}

TEST_F(DeviceGoldenTest, EarlyStoppedKeepBestAttackMatchesTheCpuAttacker) {
  AttackConfig cfg = pgd_config(0.1f, 0.025f, 6, 2);
  cfg.keep_best = true;
  cfg.early_stop_tau = 1;
  RandomKey key{5, Stream::kEvalStart, 1, 0};
  Attacker a, b;
  Tensor cpu_adv, gpu_adv;
  AttackStats cs = a.run(*model, x, labels.data(), cfg, key, cpu_adv);
  Tensor xg = x.to(kGpu);
  Buffer<int32_t> y = labels_on_gpu(labels);
  AttackStats gs = b.run(*gpu, xg, y.data(), cfg, key, gpu_adv);
  EXPECT_NEAR(double(gs.fooled), double(cs.fooled), 1.0);  // one boundary example may flip
  Tensor xa = gpu_adv.to(Device::kCpu);
  int64_t differ = 0;
  for (int64_t i = 0; i < xa.size(); ++i) differ += xa[i] != cpu_adv[i];
  EXPECT_LT(double(differ) / double(xa.size()), 0.07) << differ << " pixels differ";
}

TEST_F(DeviceGoldenTest, EvaluatorCountsMatchCpu) {
  std::vector<AttackConfig> attacks{fgsm_config(0.1f), pgd_config(0.1f, 0.025f, 5, 1)};
  Evaluator cpu_eval(attacks, 42), gpu_eval(attacks, 42);
  // Two halves with their global offsets: the split must not change the keys.
  Tensor h1({8, 1, 28, 28}), h2({8, 1, 28, 28});
  std::copy(x.data(), x.data() + 8 * 784, h1.data());
  std::copy(x.data() + 8 * 784, x.data() + 16 * 784, h2.data());
  cpu_eval.add(*model, x, labels.data(), 0);
  gpu_eval.add(*gpu, h1, labels.data(), 0);  // host batches: the evaluator copies them across
  gpu_eval.add(*gpu, h2, labels.data() + 8, 8);
  auto& c = cpu_eval.counts();
  auto& g = gpu_eval.counts();
  EXPECT_EQ(g.n, c.n);
  EXPECT_EQ(g.clean_correct, c.clean_correct);
  EXPECT_NEAR(g.clean_loss_sum, c.clean_loss_sum, 1e-4 * (1 + c.clean_loss_sum));
  ASSERT_EQ(g.robust_correct.size(), c.robust_correct.size());
  // Rounding can flip an example on the decision boundary; allow one.
  for (size_t a = 0; a < c.robust_correct.size(); ++a)
    EXPECT_NEAR(double(g.robust_correct[a]), double(c.robust_correct[a]), 1.0);
}

}  // namespace
}  // namespace rampart
