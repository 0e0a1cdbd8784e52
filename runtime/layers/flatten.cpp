// flatten: a per-example transpose from (h, w, c) to (c, h, w) order, and back.
#include "runtime/layers/flatten.h"

#include <cstring>

#include "kernels/dispatch/ops.h"
#include "runtime/layers/layer_util.h"
#include "runtime/layers/spec_fields.h"

namespace rampart {

std::unique_ptr<Layer> Flatten::from_spec(const nlohmann::json& spec, int index) {
  SpecFields f(spec, index, "flatten", {"start_dim", "end_dim"});
  // Only PyTorch's defaults (flatten everything but the batch) are supported.
  if (f.has("start_dim") && f.int_or("start_dim", 1, -100) != 1)
    f.fail("only \"start_dim\": 1 is supported, found " + json_brief(spec["start_dim"]));
  if (f.has("end_dim") && f.int_or("end_dim", -1, -100) != -1)
    f.fail("only \"end_dim\": -1 is supported, found " + json_brief(spec["end_dim"]));
  return std::make_unique<Flatten>(index);
}

Shape Flatten::output_shape(const Shape& in) const {
  if (in.size() != 4 && in.size() != 2)
    layer_error(index_, "flatten", "expected an input [N, C, H, W] or [N, F], found " + shape_str(in));
  int64_t f = 1;
  for (size_t i = 1; i < in.size(); ++i) f *= in[i];
  return {in[0], f};
}

void Flatten::forward(const Tensor& x, Tensor& y, Mode) {
  if (x.ndim() != 4 && x.ndim() != 2) output_shape(x.shape());  // throws with the reason
  int64_t n = x.dim(0);
  if (x.ndim() == 4) {
    ensure_shape(y, n, x.dim(1) * x.dim(2) * x.dim(3));
    ops::nhwc_to_nchw(x.device(), x.data(), y.data(), n, x.dim(2) * x.dim(3), x.dim(1));
  } else {
    ensure_shape(y, n, x.dim(1));
    ops::copy(x.device(), y.data(), x.data(), x.size());
  }
}

void Flatten::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, bool) {
  if (!dx) return;
  ensure_shape_like(*dx, x);
  if (x.ndim() == 4)
    ops::nchw_to_nhwc(dy.device(), dy.data(), dx->data(), x.dim(0), x.dim(2) * x.dim(3), x.dim(1));
  else
    ops::copy(dy.device(), dx->data(), dy.data(), x.size());
}

}  // namespace rampart
