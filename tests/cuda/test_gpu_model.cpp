// The GPU model, attack and evaluation (runtime/gpu/) against the CPU Model:
// forward and backward parity on random weights, the flat buffer round trip,
// PyTorch's golden file on GPU, and PGD / evaluation against the CPU attacker.
// Skips where no GPU is present.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>

#include "cuda_test_util.h"
#include "kernels/cpu/pgd.h"
#include "kernels/cpu/softmax_xent.h"
#include "kernels/cuda/pgd.cuh"
#include "kernels/cuda/softmax_xent.cuh"
#include "runtime/checkpoint.h"
#include "runtime/errors.h"
#include "runtime/evaluate.h"
#include "runtime/gpu/gpu_attack.h"
#include "runtime/gpu/gpu_model.h"
#include "runtime/io/h5.h"
#include "runtime/model_state.h"

namespace rampart::gpu {
namespace {

using cuda::test::DeviceBuffer;

const std::string kGolden = std::string(RAMPART_TESTDATA) + "/small_cnn_golden.h5";

std::vector<float> to_host(const GpuTensor& t) {
  std::vector<float> v(size_t(t.size()));
  CUDA_CHECK(cudaMemcpy(v.data(), t.data(), sizeof(float) * v.size(), cudaMemcpyDeviceToHost));
  return v;
}

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

// Forward, the mean loss's gradient, and backward with every output compared
// against the CPU Model on the same weights and inputs.
void expect_parity(const nlohmann::json& spec, const Shape& input, int64_t n, uint64_t seed) {
  Model cpu(spec, input);
  cpu.init(seed);
  GpuModel gpu(cpu);
  gpu.upload_params(cpu);
  const int64_t dim = input[0] * input[1] * input[2];
  Tensor x({n, input[0], input[1], input[2]});
  auto xv = cuda::test::uniform(size_t(n * dim), 0.f, 1.f, uint32_t(seed));
  std::copy(xv.begin(), xv.end(), x.data());
  std::vector<int32_t> labels(n);
  for (int64_t e = 0; e < n; ++e) labels[e] = int32_t((e * 7 + seed) % cpu.num_classes());

  const Tensor& logits = cpu.forward(x, Mode::kTrain);
  const int k = cpu.num_classes();
  Tensor dlogits(logits.shape());
  kernels::softmax_xent_cpu(logits.data(), labels.data(), n, k, 1.f / float(n), dlogits.data(), nullptr, nullptr);
  Tensor dx = cpu.backward(dlogits, true, true);

  DeviceBuffer<float> x_(size_t(n * dim)), dl_(size_t(n * k));
  x_.upload(xv);
  const GpuTensor& glogits = gpu.forward(x_.get(), n);
  auto gl = to_host(glogits);
  EXPECT_LT(rel_err(gl.data(), logits.data(), gl.size()), 1e-5) << "logits";
  // Same dlogits on both sides, so backward is compared on its own.
  dl_.upload(std::vector<float>(dlogits.data(), dlogits.data() + dlogits.size()));
  std::vector<int> ready;
  const GpuTensor& gdx = gpu.backward(dl_.get(), true, true, [&](int i) { ready.push_back(i); });
  auto gdxh = to_host(gdx);
  ASSERT_EQ(int64_t(gdxh.size()), dx.size());
  EXPECT_LT(rel_err(gdxh.data(), dx.data(), gdxh.size()), 1e-4) << "input gradient";
  std::vector<float> grads(size_t(cpu.num_params()));
  gpu.download_grads(grads.data());
  for (auto& p : cpu.params()) {
    SCOPED_TRACE(p.name);
    EXPECT_LT(rel_err(grads.data() + p.offset, p.grad, size_t(p.size())), 1e-4);
  }
  // Layers with parameters report their gradients last to first, as on the CPU.
  std::vector<int> expect_ready;
  for (int i = cpu.num_layers() - 1; i >= 0; --i)
    if (cpu.layer_param_range(i).second > cpu.layer_param_range(i).first) expect_ready.push_back(i);
  EXPECT_EQ(ready, expect_ready);
}

TEST(GpuModel, SmallCnnMatchesCpuOnRandomWeights) {
  RAMPART_REQUIRE_GPU();
  expect_parity(expand_model("small-cnn", {1, 28, 28}), {1, 28, 28}, 5, 11);
}

TEST(GpuModel, AwkwardShapesMatchCpu) {
  RAMPART_REQUIRE_GPU();
  // Odd sizes, stride and padding, overlapping pooling windows, two linears, no-bias layers.
  auto spec = nlohmann::json::parse(R"([
    {"type": "conv2d", "in_channels": 3, "out_channels": 5, "kernel_size": 3, "stride": 2, "padding": 1},
    {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 3, "stride": 2, "padding": 1},
    {"type": "conv2d", "in_channels": 5, "out_channels": 7, "kernel_size": [2, 3], "bias": false},
    {"type": "relu"}, {"type": "flatten"},
    {"type": "linear", "in_features": 42, "out_features": 13}, {"type": "relu"},
    {"type": "linear", "in_features": 13, "out_features": 3, "bias": false}])");
  expect_parity(spec, {3, 17, 23}, 3, 5);
}

// The library's CPU random start (kernels/cpu/pgd.cpp, built -O3 -march=native but
// without FMA contraction) and the GPU's (--fmad=false) give the same bits, so CPU
// and GPU attacks start from the same point.
TEST(GpuModel, RandomStartIsBitIdenticalToTheCpuLibrary) {
  RAMPART_REQUIRE_GPU();
  const int64_t n = 100003;
  const size_t un = size_t(n);
  auto x = cuda::test::uniform(un, 0.f, 1.f, 3);
  std::vector<float> cpu(un);
  kernels::random_start_cpu(cpu.data(), x.data(), n, 0.3f, 9, uint32_t(Stream::kRandomStart), 17, 5);
  DeviceBuffer<float> x_(un), y_(un);
  x_.upload(x);
  cuda::RandomStartKey key{9, uint32_t(Stream::kRandomStart), 17, 5};
  cuda::random_start(y_.get(), x_.get(), n, 0.3f, key, nullptr);
  cuda::test::sync();
  auto gpu = y_.download(un);
  EXPECT_EQ(0, std::memcmp(gpu.data(), cpu.data(), sizeof(float) * un));
}

TEST(GpuModel, FlatBufferRoundTripIsBitExact) {
  RAMPART_REQUIRE_GPU();
  Shape in{1, 28, 28};
  Model a(expand_model("small-cnn", in), in), b(expand_model("small-cnn", in), in);
  a.init(1);
  GpuModel gpu(a);
  EXPECT_EQ(gpu.num_params(), a.num_params());
  gpu.upload_params(a);
  gpu.download_params(b);
  EXPECT_EQ(0, std::memcmp(a.flat_params(), b.flat_params(), sizeof(float) * size_t(a.num_params())));
}

TEST(GpuModel, UnsupportedLayerIsAConfigError) {
  RAMPART_REQUIRE_GPU();
  Shape in{1, 8, 8};
  auto spec = nlohmann::json::parse(R"([{"type": "avgpool2d", "kernel_size": 2}, {"type": "flatten"},
                                        {"type": "linear", "in_features": 16, "out_features": 2}])");
  Model cpu(spec, in);
  try {
    GpuModel gpu(cpu);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("avgpool2d"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not supported on --device cuda"), std::string::npos) << e.what();
  }
}

// PyTorch's answers (tests/data/README.md), with the CPU golden test's tolerances.
class GpuGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RAMPART_REQUIRE_GPU();
    ck = read_checkpoint(kGolden);
    model = std::make_unique<Model>(ck.arch, Shape{1, 28, 28});
    load_model(ck, *model, nullptr);
    gpu = std::make_unique<GpuModel>(*model);
    gpu->upload_params(*model);
    file = std::make_unique<h5::File>(h5::File::open(kGolden));
    auto u8 = file->root().dataset("batch/images_u8");
    shape = u8.shape();
    for (auto v : u8.read<uint8_t>()) x.push_back(float(v) / 255.0f);  // C = 1: NCHW is NHWC
    for (auto v : file->root().dataset("batch/labels").read<uint8_t>()) labels.push_back(v);
  }
  std::vector<double> get(const std::string& name) { return file->root().dataset(name).read<double>(); }
  Checkpoint ck;
  std::unique_ptr<Model> model;
  std::unique_ptr<GpuModel> gpu;
  std::unique_ptr<h5::File> file;
  Shape shape;
  std::vector<float> x;
  std::vector<int32_t> labels;
};

TEST_F(GpuGoldenTest, ForwardLossAndGradientsMatchPyTorch) {
  const int64_t n = shape[0];
  ASSERT_EQ(n, 16);
  DeviceBuffer<float> x_(x.size()), dl_(size_t(n * 10));
  DeviceBuffer<int32_t> y_(labels.size());
  DeviceBuffer<float> loss_{size_t(n)};
  DeviceBuffer<uint8_t> ok_{size_t(n)};
  DeviceBuffer<cuda::XentTotals> tot_(1);
  x_.upload(x);
  y_.upload(labels);
  const GpuTensor& logits = gpu->forward(x_.get(), n);
  EXPECT_LT(rel_err(to_host(logits).data(), get("expected/logits")), 1e-4);
  cuda::softmax_xent(logits.data(), y_.get(), n, 10, 1.0f / float(n), dl_.get(), loss_.get(), ok_.get(), tot_.get(),
                     gpu->stream());
  const GpuTensor& dx = gpu->backward(dl_.get(), true, true);
  auto dxh = to_host(dx);
  auto tot = tot_.download(1)[0];
  double loss = get("expected/loss")[0];
  EXPECT_NEAR(tot.loss_sum / double(n), loss, 1e-4 * std::abs(loss));
  // Max-pool ties: the same five images as in tests/runtime/test_golden.cpp may
  // route their input gradient differently from the file (PyTorch 1.13 itself does).
  auto eg = get("expected/grad_input");
  double scale = 1e-12;
  for (double v : eg) scale = std::max(scale, std::abs(v));
  const int64_t dim = int64_t(eg.size()) / n;
  for (int64_t e = 0; e < n; ++e) {
    double err = 0;
    for (int64_t i = e * dim; i < (e + 1) * dim; ++i) err = std::max(err, std::abs(double(dxh[i]) - eg[i]));
    if (err / scale > 1e-4) {
      EXPECT_TRUE(e == 2 || e == 3 || e == 5 || e == 13 || e == 15) << "image " << e << " off by " << err / scale;
      EXPECT_LT(err / scale, 0.25) << "image " << e;
    }
  }
  std::vector<float> grads(size_t(model->num_params()));
  gpu->download_grads(grads.data());
  for (auto& p : model->params()) {
    SCOPED_TRACE(p.name);
    auto expected = get("expected/grads/" + p.name);
    ASSERT_EQ(int64_t(expected.size()), p.size());
    EXPECT_LT(rel_err(grads.data() + p.offset, expected), 1e-4);
  }
}

TEST_F(GpuGoldenTest, ThreePgdStepsMatchPyTorch) {
  auto pgd = file->root().group("pgd");
  const float eps = float(pgd.attr_double("eps")), alpha = float(pgd.attr_double("alpha"));
  const int steps = int(pgd.attr_int("steps"));
  auto delta0 = get("pgd/delta0");
  const int64_t n = shape[0], size = int64_t(x.size());
  std::vector<float> x0(x.size());
  for (size_t i = 0; i < x.size(); ++i) x0[i] = std::min(1.0f, std::max(0.0f, float(x[i] + delta0[i])));
  DeviceBuffer<float> x_(x.size()), xa_(x.size()), dl_(size_t(n * 10)), loss_{size_t(n)};
  DeviceBuffer<int32_t> y_(labels.size());
  DeviceBuffer<uint8_t> ok_{size_t(n)};
  x_.upload(x);
  xa_.upload(x0);
  y_.upload(labels);
  for (int t = 0; t < steps; ++t) {
    const GpuTensor& logits = gpu->forward(xa_.get(), n);
    cuda::softmax_xent(logits.data(), y_.get(), n, 10, 1.0f / float(n), dl_.get(), loss_.get(), ok_.get(), nullptr,
                       gpu->stream());
    const GpuTensor& gx = gpu->backward(dl_.get(), true, false);
    cuda::pgd_linf_step(xa_.get(), gx.data(), x_.get(), size, alpha, eps, gpu->stream());
  }
  CUDA_CHECK(cudaStreamSynchronize(gpu->stream()));
  auto xa = xa_.download(x.size());
  auto expected = get("pgd/x_adv");
  int64_t differ = 0;
  for (int64_t i = 0; i < size; ++i) {
    double d = std::abs(double(xa[i]) - expected[i]);
    if (d > 1e-5) {
      ++differ;
      EXPECT_LE(d, 2 * steps * alpha + 1e-5) << "pixel " << i;
    }
  }
  EXPECT_LT(double(differ) / double(size), 0.01) << differ << " of " << size << " pixels differ";
  EXPECT_LT(rel_err(to_host(gpu->forward(xa_.get(), n)).data(), get("pgd/logits_adv")), 1e-3);
}

TEST_F(GpuGoldenTest, PgdAttackMatchesCpuAttacker) {
  const int64_t n = shape[0];
  Tensor xt({n, 1, 28, 28});
  std::copy(x.begin(), x.end(), xt.data());
  AttackConfig cfg = pgd_config(0.1f, 0.025f, 5, 2);
  RandomKey key{7, Stream::kRandomStart, 3, 100};
  Attacker cpu_attacker;
  Tensor cpu_adv;
  AttackStats cs = cpu_attacker.run(*model, xt, labels.data(), cfg, key, cpu_adv);

  DeviceBuffer<float> x_(x.size()), xa_(x.size());
  DeviceBuffer<int32_t> y_(labels.size());
  x_.upload(x);
  y_.upload(labels);
  GpuAttacker attacker;
  AttackStats gs = attacker.run(*gpu, x_.get(), y_.get(), n, cfg, key, xa_.get());
  EXPECT_EQ(gs.passes, cs.passes);
  ASSERT_EQ(gs.step_loss.size(), cs.step_loss.size());
  for (size_t t = 0; t < cs.step_loss.size(); ++t) EXPECT_NEAR(gs.step_loss[t], cs.step_loss[t], 1e-4 * (1 + cs.step_loss[t]));
  // Same Philox draws; only gradient signs near zero may differ (README's rule).
  auto xa = xa_.download(x.size());
  int64_t differ = 0;
  for (size_t i = 0; i < xa.size(); ++i) differ += xa[i] != cpu_adv[int64_t(i)];
  EXPECT_LT(double(differ) / double(xa.size()), 0.01) << differ << " pixels differ";
}

TEST_F(GpuGoldenTest, EvaluatorCountsMatchCpu) {
  const int64_t n = shape[0];
  Tensor xt({n, 1, 28, 28});
  std::copy(x.begin(), x.end(), xt.data());
  std::vector<AttackConfig> attacks{fgsm_config(0.1f), pgd_config(0.1f, 0.025f, 5, 1)};
  Evaluator cpu_eval(attacks, 42);
  GpuEvaluator gpu_eval(attacks, 42);
  // Two halves with their global offsets: the split must not change the keys.
  Tensor h1({8, 1, 28, 28}), h2({8, 1, 28, 28});
  std::copy(x.begin(), x.begin() + 8 * 784, h1.data());
  std::copy(x.begin() + 8 * 784, x.end(), h2.data());
  cpu_eval.add(*model, xt, labels.data(), 0);
  gpu_eval.add(*gpu, h1, labels.data(), 0);
  gpu_eval.add(*gpu, h2, labels.data() + 8, 8);
  auto& c = cpu_eval.counts();
  auto& g = gpu_eval.counts();
  EXPECT_EQ(g.n, c.n);
  EXPECT_EQ(g.clean_correct, c.clean_correct);
  EXPECT_NEAR(g.clean_loss_sum, c.clean_loss_sum, 1e-4 * (1 + c.clean_loss_sum));
  ASSERT_EQ(g.robust_correct.size(), c.robust_correct.size());
  // Rounding can flip an example on the decision boundary; allow one.
  for (size_t a = 0; a < c.robust_correct.size(); ++a) EXPECT_NEAR(double(g.robust_correct[a]), double(c.robust_correct[a]), 1.0);
}

}  // namespace
}  // namespace rampart::gpu
