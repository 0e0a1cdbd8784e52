// Helpers shared by the layer implementations: error messages that name the
// layer, output resizing that does not allocate in the steady state, and the
// uniform initialisation of PyTorch's defaults.
#pragma once
#include <cstdint>
#include <string>

#include "runtime/errors.h"
#include "runtime/rng.h"
#include "runtime/tensor.h"

namespace rampart {

// ConfigError("layer 3 (conv2d): " + msg).
[[noreturn]] inline void layer_error(int index, const std::string& type, const std::string& msg) {
  throw ConfigError("layer " + std::to_string(index) + " (" + type + "): " + msg);
}

// Resizes t only when its shape differs (Tensor::resize already keeps the
// storage; this also skips building a new Shape vector every step).
inline void ensure_shape(Tensor& t, int64_t n, int64_t c, int64_t h, int64_t w) {
  if (t.ndim() == 4 && t.dim(0) == n && t.dim(1) == c && t.dim(2) == h && t.dim(3) == w) return;
  t.resize({n, c, h, w});
}
inline void ensure_shape(Tensor& t, int64_t n, int64_t f) {
  if (t.ndim() == 2 && t.dim(0) == n && t.dim(1) == f) return;
  t.resize({n, f});
}
inline void ensure_shape_like(Tensor& t, const Tensor& like) {
  if (t.shape() != like.shape()) t.resize(like.shape());
}

// p[i] ~ U(-bound, bound), drawn in order (PyTorch's parameter layout).
inline void uniform_init(float* p, int64_t count, float bound, Rng& rng) {
  for (int64_t i = 0; i < count; ++i) p[i] = rng.uniform(-bound, bound);
}

}  // namespace rampart
