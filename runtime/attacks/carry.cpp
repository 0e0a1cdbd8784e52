// Carried perturbations (see carry.h).
#include "runtime/attacks/carry.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace rampart {
namespace {

constexpr size_t kRowHead = sizeof(int64_t) + sizeof(float);  // example, scale

uint64_t row_hash(int64_t example, float scale, const int8_t* codes, int64_t dim) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const void* data, size_t n) {
    const auto* b = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) { h ^= b[i]; h *= 1099511628211ull; }
  };
  mix(&example, sizeof example);
  mix(&scale, sizeof scale);
  mix(codes, size_t(dim));
  return h;
}

}  // namespace

float quantize_perturbation(const float* x_adv, const float* x, int64_t dim, float eps, int8_t* codes) {
  if (!(eps > 0)) throw std::invalid_argument("quantize_perturbation: eps must be > 0");
  const float inv = 127.f / eps;
  for (int64_t i = 0; i < dim; ++i)
    codes[i] = int8_t(std::clamp(std::lround((x_adv[i] - x[i]) * inv), -127L, 127L));
  return eps / 127.f;
}

void dequantize_perturbation(const int8_t* codes, float scale, int64_t dim, float* delta) {
  for (int64_t i = 0; i < dim; ++i) delta[i] = float(codes[i]) * scale;
}

std::string pack_rows(const int64_t* idx, const float* scale, const int8_t* codes, int64_t n, int64_t dim) {
  std::string out(sizeof(int64_t) + size_t(n) * (kRowHead + size_t(dim)), '\0');
  char* p = out.data();
  std::memcpy(p, &n, sizeof n);
  p += sizeof n;
  for (int64_t e = 0; e < n; ++e, p += kRowHead + size_t(dim)) {
    std::memcpy(p, &idx[e], sizeof(int64_t));
    std::memcpy(p + sizeof(int64_t), &scale[e], sizeof(float));
    std::memcpy(p + kRowHead, codes + e * dim, size_t(dim));
  }
  return out;
}

void for_each_packed_row(const std::string& bytes, int64_t dim,
                         const std::function<void(int64_t, float, const int8_t*)>& row) {
  const size_t row_bytes = kRowHead + size_t(dim);
  int64_t n = -1;
  if (bytes.size() >= sizeof n) std::memcpy(&n, bytes.data(), sizeof n);
  if (n < 0 || bytes.size() != sizeof n + size_t(n) * row_bytes)
    throw std::invalid_argument("packed perturbations: " + std::to_string(bytes.size()) +
                                " bytes do not hold whole rows of " + std::to_string(dim) + " codes");
  const char* p = bytes.data() + sizeof n;
  for (int64_t e = 0; e < n; ++e, p += row_bytes) {
    int64_t i;
    float s;
    std::memcpy(&i, p, sizeof i);
    std::memcpy(&s, p + sizeof i, sizeof s);
    row(i, s, reinterpret_cast<const int8_t*>(p + kRowHead));
  }
}

PerturbationStore::PerturbationStore(int64_t examples, int64_t dim, int64_t first, int64_t rows)
    : examples_(examples), dim_(dim), first_(first), rows_(rows) {
  if (examples < 0 || dim < 1 || first < 0 || rows < 0 || first + rows > examples)
    throw std::invalid_argument("PerturbationStore: expected examples >= 0, dim >= 1 and rows [" +
                                std::to_string(first) + ", " + std::to_string(first + rows) + ") within [0, " +
                                std::to_string(examples) + ")");
  codes_.assign(size_t(rows * dim), 0);
  scale_.assign(size_t(rows), 0.f);
}

int64_t PerturbationStore::stored() const {
  return std::count_if(scale_.begin(), scale_.end(), [](float s) { return s > 0; });
}

void PerturbationStore::check_held(int64_t i) const {
  if (!holds(i))
    throw std::out_of_range("PerturbationStore: example " + std::to_string(i) + " outside the rows held here [" +
                            std::to_string(first_) + ", " + std::to_string(first_ + rows_) + ") of " +
                            std::to_string(examples_));
}

int64_t PerturbationStore::load(const int64_t* idx, int64_t n, float* delta, uint8_t* has) const {
  int64_t found = 0;
  for (int64_t e = 0; e < n; ++e) {
    check_held(idx[e]);
    const int64_t r = idx[e] - first_;
    has[e] = scale_[r] > 0;
    found += has[e];
    dequantize_perturbation(codes_.data() + r * dim_, scale_[r], dim_, delta + e * dim_);
  }
  return found;
}

void PerturbationStore::store(const int64_t* idx, int64_t n, const float* x_adv, const float* x, float eps) {
  for (int64_t e = 0; e < n; ++e) {
    check_held(idx[e]);
    const int64_t r = idx[e] - first_;
    scale_[r] = quantize_perturbation(x_adv + e * dim_, x + e * dim_, dim_, eps, codes_.data() + r * dim_);
  }
}

std::string PerturbationStore::pack(const int64_t* idx, int64_t n) const {
  std::vector<float> scale(static_cast<size_t>(n));
  std::vector<int8_t> codes(static_cast<size_t>(n * dim_));
  for (int64_t e = 0; e < n; ++e) {
    check_held(idx[e]);
    const int64_t r = idx[e] - first_;
    scale[e] = scale_[r];
    std::memcpy(codes.data() + e * dim_, codes_.data() + r * dim_, size_t(dim_));
  }
  return pack_rows(idx, scale.data(), codes.data(), n, dim_);
}

void PerturbationStore::unpack(const std::string& bytes) {
  for_each_packed_row(bytes, dim_, [&](int64_t i, float s, const int8_t* q) {
    check_held(i);
    scale_[i - first_] = s;
    std::memcpy(codes_.data() + (i - first_) * dim_, q, size_t(dim_));
  });
}

void PerturbationStore::restore(std::vector<int8_t> codes, std::vector<float> scales) {
  if (int64_t(scales.size()) != rows_ || int64_t(codes.size()) != rows_ * dim_)
    throw std::invalid_argument("PerturbationStore::restore: expected " + std::to_string(rows_) + " x " +
                                std::to_string(dim_) + " codes, found " + std::to_string(codes.size()) +
                                " codes and " + std::to_string(scales.size()) + " scales");
  codes_ = std::move(codes);
  scale_ = std::move(scales);
}

uint64_t PerturbationStore::fingerprint() const {
  uint64_t sum = 0;
  for (int64_t r = 0; r < rows_; ++r) sum += row_hash(first_ + r, scale_[r], codes_.data() + r * dim_, dim_);
  return sum;
}

}  // namespace rampart
