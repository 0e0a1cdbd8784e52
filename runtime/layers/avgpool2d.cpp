// avgpool2d on kernels/cpu/pool.* (count_include_pad=True: divisor kh*kw).
#include "runtime/layers/avgpool2d.h"

#include "runtime/layers/pool_common.h"

namespace rampart {

std::unique_ptr<Layer> AvgPool2d::from_spec(const nlohmann::json& spec, int index) {
  return std::make_unique<AvgPool2d>(index, parse_pool_spec(spec, index, "avgpool2d"));
}

nlohmann::json AvgPool2d::spec() const { return pool_spec_json(g_, "avgpool2d"); }

Shape AvgPool2d::output_shape(const Shape& in) const { return pool_output_shape(g_, in, index_, "avgpool2d"); }

void AvgPool2d::forward(const Tensor& x, Tensor& y, Mode) {
  if (x.ndim() != 4 || g_.out_h(int(x.dim(2))) <= 0 || g_.out_w(int(x.dim(3))) <= 0) output_shape(x.shape());
  int n = int(x.dim(0)), c = int(x.dim(1)), ih = int(x.dim(2)), iw = int(x.dim(3));
  ensure_shape(y, n, c, g_.out_h(ih), g_.out_w(iw));
  ops::avgpool_forward(x.device(), g_, n, ih, iw, c, x.data(), y.data());
}

void AvgPool2d::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, bool) {
  if (!dx) return;
  ensure_shape_like(*dx, x);
  ops::avgpool_backward(dy.device(), g_, int(x.dim(0)), int(x.dim(2)), int(x.dim(3)), int(x.dim(1)), dy.data(),
                                 dx->data());
}

}  // namespace rampart
