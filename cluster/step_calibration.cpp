// Timing a few real passes to calibrate the cost model (see step_calibration.h).
#include "cluster/step_calibration.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "kernels/cpu/softmax_xent.h"
#include "runtime/optimizer.h"

namespace rampart {

namespace {

using Clock = std::chrono::steady_clock;

// Median of `repeats` timings of f after one untimed warm-up (first calls allocate).
template <class F>
double median_seconds(int repeats, F&& f) {
  f();
  std::vector<double> t;
  for (int i = 0; i < std::max(1, repeats); ++i) {
    const auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return t[t.size() / 2];
}

}  // namespace

StepCosts calibrate_step_costs(Model& model, const Tensor& x, const int32_t* labels, const CalibrationOptions& opt,
                               Communicator& comm) {
  const int64_t n = x.dim(0);
  StepCosts c;
  c.local_batch = int(std::max<int64_t>(1, n));
  c.measured_world = comm.size();
  // Left as found: gradients and batchnorm statistics (a train-mode forward updates them).
  std::vector<float> grads(model.flat_grads(), model.flat_grads() + model.num_params());
  std::vector<float> buffers(model.flat_buffers(), model.flat_buffers() + model.num_buffer_values());
  Tensor dlogits;
  std::vector<float> loss(n);
  auto loss_grad = [&](const Tensor& logits) {
    dlogits.resize(logits.shape());
    kernels::softmax_xent_cpu(logits.data(), labels, n, logits.dim(1), 1.0f / float(n), dlogits.data(), loss.data(),
                              nullptr);
  };
  if (n > 0) {
    c.fwd_s = median_seconds(opt.repeats, [&] { model.forward(x, Mode::kEval); });
    const double attack = median_seconds(opt.repeats, [&] {
      loss_grad(model.forward(x, Mode::kEval));
      model.backward(dlogits, true, false);
    });
    c.bwd_input_s = std::max(0.0, attack - c.fwd_s);
    const double train = median_seconds(opt.repeats, [&] {
      loss_grad(model.forward(x, Mode::kTrain));
      model.backward(dlogits, false, true);
    });
    c.bwd_full_s = std::max(0.0, train - c.fwd_s);
  }
  std::copy(grads.begin(), grads.end(), model.flat_grads());
  std::copy(buffers.begin(), buffers.end(), model.flat_buffers());

  // The optimizer on scratch copies: the real momentum must not move.
  {
    std::vector<float> p(model.flat_params(), model.flat_params() + model.num_params());
    Sgd scratch({0.9, 5e-4}, model.num_params());
    c.optimizer_s = median_seconds(opt.repeats, [&] { scratch.step(p.data(), grads.data(), 0.0); });
  }
  if (comm.size() > 1) {
    // Every rank runs the same number of all-reduces; overlap is not assumed (0) until
    // measured epochs correct the fixed part.
    std::vector<float> buf(model.num_params(), 0.0f);
    c.allreduce_s = median_seconds(opt.repeats, [&] { comm.allreduce_sum(buf.data(), int64_t(buf.size())); });
  }
  c.eval_s_per_image = n > 0 ? (opt.eval_attack_passes * (c.fwd_s + c.bwd_input_s) + opt.eval_forwards * c.fwd_s) / double(n)
                             : 0.0;
  return c;
}

}  // namespace rampart
