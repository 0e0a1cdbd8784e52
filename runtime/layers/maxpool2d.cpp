// maxpool2d on kernels/cpu/pool.*: forward records the argmax, backward scatters to it.
#include "runtime/layers/maxpool2d.h"

#include "runtime/layers/pool_common.h"

namespace rampart {

std::unique_ptr<Layer> MaxPool2d::from_spec(const nlohmann::json& spec, int index) {
  return std::make_unique<MaxPool2d>(index, parse_pool_spec(spec, index, "maxpool2d"));
}

nlohmann::json MaxPool2d::spec() const { return pool_spec_json(g_, "maxpool2d"); }

std::string MaxPool2d::gap(Device d) const {
  std::string why = Layer::gap(d);
  if (why.empty() && d == Device::kCuda && (g_.kh != g_.kw || g_.sh != g_.sw || g_.ph != g_.pw))
    why = "the CUDA kernel takes square windows, strides and padding only";
  return why;
}

Shape MaxPool2d::output_shape(const Shape& in) const { return pool_output_shape(g_, in, index_, "maxpool2d"); }

void MaxPool2d::forward(const Tensor& x, Tensor& y, Mode) {
  if (x.ndim() != 4 || g_.out_h(int(x.dim(2))) <= 0 || g_.out_w(int(x.dim(3))) <= 0) output_shape(x.shape());
  int n = int(x.dim(0)), c = int(x.dim(1)), ih = int(x.dim(2)), iw = int(x.dim(3));
  ensure_shape(y, n, c, g_.out_h(ih), g_.out_w(iw));
  argmax_.set_device(x.device());
  if (argmax_.size() < y.size()) argmax_.resize(y.size());
  ops::maxpool_forward(x.device(), g_, n, ih, iw, c, x.data(), y.data(), argmax_.data());
}

void MaxPool2d::backward(const Tensor& x, const Tensor&, const Tensor& dy, Tensor* dx, bool) {
  if (!dx) return;
  ensure_shape_like(*dx, x);
  ops::maxpool_backward(dy.device(), g_, int(x.dim(0)), int(x.dim(2)), int(x.dim(3)), int(x.dim(1)), dy.data(),
                                 argmax_.data(), dx->data());
}

}  // namespace rampart
