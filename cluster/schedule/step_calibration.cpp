// Timing a few real passes to calibrate the cost model (see step_calibration.h).
#include "cluster/schedule/step_calibration.h"

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

StepCosts time_step_costs(const CalibrationPasses& p, const CalibrationOptions& opt, Communicator& comm) {
  const int64_t n = p.batch;
  StepCosts c;
  c.local_batch = int(std::max<int64_t>(1, n));
  c.measured_world = comm.size();
  if (n > 0) {
    c.fwd_s = median_seconds(opt.repeats, p.forward);
    c.bwd_input_s = std::max(0.0, median_seconds(opt.repeats, p.attack_pass) - c.fwd_s);
    c.bwd_full_s = std::max(0.0, median_seconds(opt.repeats, p.train_pass) - c.fwd_s);
  }
  c.optimizer_s = median_seconds(opt.repeats, p.optimizer);
  // Every rank runs the same number of all-reduces; overlap is not assumed (0) until
  // measured epochs correct the fixed part.
  if (comm.size() > 1) c.allreduce_s = median_seconds(opt.repeats, p.allreduce);
  c.eval_s_per_image = n > 0 ? (opt.eval_attack_passes * (c.fwd_s + c.bwd_input_s) + opt.eval_forwards * c.fwd_s) / double(n)
                             : 0.0;
  return c;
}

StepCosts calibrate_step_costs(Model& model, const Tensor& x, const int32_t* labels, const CalibrationOptions& opt,
                               Communicator& comm) {
  const int64_t n = x.dim(0);
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
  // The optimizer on scratch copies: the real momentum must not move.
  std::vector<float> p(model.flat_params(), model.flat_params() + model.num_params());
  Sgd scratch({0.9, 5e-4}, model.num_params());
  std::vector<float> buf;

  CalibrationPasses passes;
  passes.batch = n;
  passes.forward = [&] { model.forward(x, Mode::kEval); };
  passes.attack_pass = [&] {
    loss_grad(model.forward(x, Mode::kEval));
    model.backward(dlogits, true, false);
  };
  passes.train_pass = [&] {
    loss_grad(model.forward(x, Mode::kTrain));
    model.backward(dlogits, false, true);
  };
  passes.optimizer = [&] { scratch.step(p.data(), grads.data(), 0.0); };
  passes.allreduce = [&] {
    if (buf.empty()) buf.assign(model.num_params(), 0.0f);  // in the untimed warm-up
    comm.allreduce_sum(buf.data(), int64_t(buf.size()));
  };
  const StepCosts c = time_step_costs(passes, opt, comm);
  std::copy(grads.begin(), grads.end(), model.flat_grads());
  std::copy(buffers.begin(), buffers.end(), model.flat_buffers());
  return c;
}

}  // namespace rampart
