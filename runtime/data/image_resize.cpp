// Resize and centre crop (see image_resize.h): separable, one table of weights an axis for the
// output pixels inside the crop only, accumulated in double in a fixed order.
#include "runtime/data/image_resize.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace rampart {
namespace {

// Python's round() of d / 2 for d >= 0: halves go to the even neighbour.
int64_t half_to_even(int64_t d) {
  const int64_t k = d / 2;
  return d % 2 == 0 ? k : (k % 2 == 0 ? k : k + 1);
}

struct Taps {
  std::vector<int64_t> first;   // per output pixel: the first input index
  std::vector<std::vector<double>> w;  // and the weights of the inputs from there on
};

// Output pixels [from, from + count) of an axis resampled from n to m pixels.
Taps axis_taps(int64_t n, int64_t m, int64_t from, int64_t count) {
  Taps t;
  t.first.resize(size_t(count));
  t.w.resize(size_t(count));
  const double scale = double(n) / double(m);
  for (int64_t k = 0; k < count; ++k) {
    const int64_t i = from + k;
    auto& w = t.w[size_t(k)];
    if (m < n) {  // shrinking: the mean over [i * scale, (i + 1) * scale)
      const double a = double(i) * scale, b = double(i + 1) * scale;
      const int64_t j0 = int64_t(std::floor(a)), j1 = std::min<int64_t>(n, int64_t(std::ceil(b)));
      t.first[size_t(k)] = j0;
      for (int64_t j = j0; j < j1; ++j) w.push_back((std::min(b, double(j + 1)) - std::max(a, double(j))) / scale);
    } else {  // growing (or the same size): linear between the two nearest input centres
      const double src = std::clamp((double(i) + 0.5) * scale - 0.5, 0.0, double(n - 1));
      const int64_t j0 = int64_t(std::floor(src));
      const double f = src - double(j0);
      t.first[size_t(k)] = j0;
      w.push_back(1.0 - f);
      if (j0 + 1 < n) w.push_back(f);
    }
  }
  return t;
}

}  // namespace

ResizePlan plan_resize(int64_t h, int64_t w, int64_t size) {
  if (h < 1 || w < 1 || size < 1)
    throw std::invalid_argument("plan_resize: sizes must be positive, found " + std::to_string(h) + "x" +
                                std::to_string(w) + " to " + std::to_string(size));
  ResizePlan p;
  if (h <= w) {
    p.resized_h = size;
    p.resized_w = std::max<int64_t>(size, size * w / h);
  } else {
    p.resized_w = size;
    p.resized_h = std::max<int64_t>(size, size * h / w);
  }
  p.top = half_to_even(p.resized_h - size);
  p.left = half_to_even(p.resized_w - size);
  return p;
}

void resize_crop(const uint8_t* rgb, int64_t h, int64_t w, int64_t size, uint8_t* out) {
  const ResizePlan p = plan_resize(h, w, size);
  const Taps tx = axis_taps(w, p.resized_w, p.left, size), ty = axis_taps(h, p.resized_h, p.top, size);
  // Rows the vertical taps need, resampled horizontally once each: [rows, size, 3].
  const int64_t r0 = ty.first.front();
  const int64_t r1 = ty.first.back() + int64_t(ty.w.back().size());
  std::vector<double> rows(size_t((r1 - r0) * size * 3));
  for (int64_t y = r0; y < r1; ++y) {
    const uint8_t* src = rgb + y * w * 3;
    double* dst = rows.data() + (y - r0) * size * 3;
    for (int64_t x = 0; x < size; ++x) {
      double acc[3] = {0, 0, 0};
      const auto& wx = tx.w[size_t(x)];
      for (size_t k = 0; k < wx.size(); ++k) {
        const uint8_t* s = src + (tx.first[size_t(x)] + int64_t(k)) * 3;
        for (int c = 0; c < 3; ++c) acc[c] += wx[k] * s[c];
      }
      for (int c = 0; c < 3; ++c) dst[x * 3 + c] = acc[c];
    }
  }
  for (int64_t y = 0; y < size; ++y) {
    const auto& wy = ty.w[size_t(y)];
    for (int64_t x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c) {
        double acc = 0;
        for (size_t k = 0; k < wy.size(); ++k)
          acc += wy[k] * rows[size_t(((ty.first[size_t(y)] + int64_t(k) - r0) * size + x) * 3 + c)];
        out[(c * size + y) * size + x] = uint8_t(std::clamp(std::floor(acc + 0.5), 0.0, 255.0));
      }
  }
}

void hwc_to_chw(const uint8_t* in, int64_t h, int64_t w, int64_t c, uint8_t* out) {
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t k = 0; k < c; ++k) out[(k * h + y) * w + x] = in[(y * w + x) * c + k];
}

}  // namespace rampart
