// Timing a few real passes to calibrate the cost model (see step_calibration.h).
#include "cluster/schedule/step_calibration.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <vector>

#include "kernels/dispatch/memory.h"
#include "kernels/dispatch/ops.h"
#include "runtime/optimizer.h"

namespace rampart {

namespace {

using Clock = std::chrono::steady_clock;

// Median of `repeats` timings of f after one untimed warm-up (first calls allocate).
double median(std::vector<double> t) {
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return t[t.size() / 2];
}

template <class F>
double seconds_of(F&& f) {
  const auto t0 = Clock::now();
  f();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

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
  c.train_forwards = opt.train_forwards;
  c.train_backwards = opt.train_backwards;
  // Every rank runs the same number of all-reduces; overlap is not assumed (0) until
  // measured epochs correct the fixed part.
  if (comm.size() > 1) c.allreduce_s = median_seconds(opt.repeats, p.allreduce);
  c.eval_s_per_image = n > 0 ? (opt.eval_attack_passes * (c.fwd_s + c.bwd_input_s) + opt.eval_forwards * c.fwd_s) / double(n)
                             : 0.0;
  return c;
}

StepCosts calibrate_step_costs(Model& model, const Tensor& x, const int32_t* labels, const CalibrationOptions& opt,
                               Communicator& comm) {
  // On the model's device: x and labels live there too (ComputeBackend::calibrate).
  const Device d = model.device();
  const int64_t n = x.dim(0), np = model.num_params();
  auto sync = [d] { kernels::synchronize(d); };  // a pass is timed to its end on the device
  // Left as found: gradients and batchnorm statistics (a train-mode forward updates them).
  Tensor grads({np}, d), buffers({model.num_buffer_values()}, d);
  ops::copy(d, grads.data(), model.work_grads(), np);
  ops::copy(d, buffers.data(), model.work_buffers(), buffers.size());
  Tensor dlogits({}, d), loss({n}, d);
  auto loss_grad = [&](const Tensor& logits) {
    dlogits.resize(logits.shape());
    ops::softmax_xent(d, logits.data(), labels, n, logits.dim(1), 1.0f / float(n), dlogits.data(), loss.data(),
                      nullptr);
  };
  // The optimizer on scratch copies: the real weights and momentum must not move.
  Tensor p({np}, d);
  ops::copy(d, p.data(), model.work_params(), np);
  Sgd scratch({0.9, 5e-4}, np);
  scratch.to(d);
  std::vector<float> buf;

  CalibrationPasses passes;
  passes.batch = n;
  passes.forward = [&] {
    model.forward(x, Mode::kEval);
    sync();
  };
  passes.attack_pass = [&] {
    loss_grad(model.forward(x, Mode::kEval));
    model.backward(dlogits, true, false);
    sync();
  };
  passes.train_pass = [&] {
    loss_grad(model.forward(x, Mode::kTrain));
    model.backward(dlogits, false, true);
    sync();
  };
  passes.optimizer = [&] {
    scratch.step(p.data(), grads.data(), 0.0);
    sync();
  };
  // The all-reduce of the parameters' size, where the step sums them: in device
  // memory with NCCL, else on the host.
  Tensor dev_buf;
  passes.allreduce = [&] {
    if (d != Device::kCpu && comm.backend() == "nccl") {
      if (dev_buf.empty()) {  // in the untimed warm-up
        dev_buf.set_device(d);
        dev_buf.resize({np});
        dev_buf.zero();
      }
      comm.allreduce_sum(dev_buf.data(), np);
      sync();
      return;
    }
    if (buf.empty()) buf.assign(np, 0.0f);  // in the untimed warm-up
    comm.allreduce_sum(buf.data(), int64_t(buf.size()));
  };
  const StepCosts c = time_step_costs(passes, opt, comm);
  ops::copy(d, model.work_grads(), grads.data(), np);
  ops::copy(d, model.work_buffers(), buffers.data(), buffers.size());
  sync();
  return c;
}

WholeStepFit time_whole_steps(const WholeStep& step, int k_lo, int k_hi, int repeats) {
  WholeStepFit f;
  f.k_lo = k_lo;
  f.k_hi = k_hi;
  step(k_lo);
  if (k_hi != k_lo) step(k_hi);
  std::vector<double> lo, hi;
  for (int i = 0; i < std::max(1, repeats); ++i) {
    lo.push_back(seconds_of([&] { step(k_lo); }));
    if (k_hi != k_lo) hi.push_back(seconds_of([&] { step(k_hi); }));
  }
  f.lo_s = median(lo);
  if (k_hi == k_lo) {
    f.hi_s = f.lo_s;
    f.fixed_s = f.lo_s;
    return f;
  }
  f.hi_s = median(hi);
  f.attack_s = (f.hi_s - f.lo_s) / double(k_hi - k_lo);
  f.fixed_s = f.lo_s - f.attack_s * k_lo;
  return f;
}

void apply_whole_steps(StepCosts& c, const WholeStepFit& fit) {
  if (fit.k_lo != fit.k_hi && fit.attack_s > 0 && fit.fixed_s > 0) {
    c.whole_step_attack_s = fit.attack_s;
    c.whole_step_fixed_s = fit.fixed_s;
    return;
  }
  // One K (clean training), or a line no step can follow (a burst of load made the larger K
  // look as cheap, or the smaller one dear): the mean of the timings at their mean K,
  // split as the passes split a step.
  const double unit = c.fwd_s + c.bwd_input_s + c.pgd_update_s;
  const double fixed = c.train_forwards * c.fwd_s + c.train_backwards * c.bwd_full_s + c.optimizer_s + c.data_s;
  const double k = 0.5 * (fit.k_lo + fit.k_hi), t = 0.5 * (fit.lo_s + fit.hi_s);
  const double sum = k * unit + fixed;
  if (!(sum > 0) || !(t > 0)) return;
  c.whole_step_attack_s = unit * t / sum;
  c.whole_step_fixed_s = fixed * t / sum;
}

WriteTiming time_checkpoint_write(const Checkpoint& ck, const std::string& dir) {
  const std::filesystem::path path =
      std::filesystem::path(dir.empty() ? "." : dir) / (".rampart-calibration-" + std::to_string(::getpid()) + ".h5");
  WriteTiming w;
  w.seconds = seconds_of([&] { write_checkpoint(path.string(), ck); });
  std::error_code ec;
  w.bytes = double(std::filesystem::file_size(path, ec));
  if (ec) w.bytes = 0;
  std::filesystem::remove(path, ec);
  return w;
}

}  // namespace rampart
