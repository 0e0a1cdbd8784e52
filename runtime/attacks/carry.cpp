// Carried perturbations (see carry.h).
#include "runtime/attacks/carry.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace rampart {

PerturbationStore::PerturbationStore(int64_t examples, int64_t dim)
    : examples_(examples), dim_(dim), codes_(size_t(examples * dim), 0), scale_(size_t(examples), 0.f) {
  if (examples < 0 || dim < 1) throw std::invalid_argument("PerturbationStore: examples >= 0 and dim >= 1");
}

int64_t PerturbationStore::stored() const {
  return std::count_if(scale_.begin(), scale_.end(), [](float s) { return s > 0; });
}

static void check_index(int64_t i, int64_t n) {
  if (i < 0 || i >= n)
    throw std::out_of_range("PerturbationStore: example " + std::to_string(i) + " outside [0, " +
                            std::to_string(n) + ")");
}

int64_t PerturbationStore::load(const int64_t* idx, int64_t n, float* delta, uint8_t* has) const {
  int64_t found = 0;
  for (int64_t e = 0; e < n; ++e) {
    check_index(idx[e], examples_);
    const float s = scale_[idx[e]];
    const int8_t* q = codes_.data() + idx[e] * dim_;
    float* d = delta + e * dim_;
    has[e] = s > 0;
    found += has[e];
    for (int64_t i = 0; i < dim_; ++i) d[i] = float(q[i]) * s;
  }
  return found;
}

void PerturbationStore::store(const int64_t* idx, int64_t n, const float* x_adv, const float* x, float eps) {
  if (!(eps > 0)) throw std::invalid_argument("PerturbationStore::store: eps must be > 0");
  const float inv = 127.f / eps;
  for (int64_t e = 0; e < n; ++e) {
    check_index(idx[e], examples_);
    int8_t* q = codes_.data() + idx[e] * dim_;
    const float* a = x_adv + e * dim_;
    const float* c = x + e * dim_;
    for (int64_t i = 0; i < dim_; ++i) q[i] = int8_t(std::clamp(std::lround((a[i] - c[i]) * inv), -127L, 127L));
    scale_[idx[e]] = eps / 127.f;
  }
}

std::string PerturbationStore::pack(const int64_t* idx, int64_t n) const {
  std::string out(sizeof(int64_t) + size_t(n) * (sizeof(int64_t) + sizeof(float) + size_t(dim_)), '\0');
  char* p = out.data();
  std::memcpy(p, &n, sizeof n);
  p += sizeof n;
  for (int64_t e = 0; e < n; ++e) {
    check_index(idx[e], examples_);
    std::memcpy(p, &idx[e], sizeof(int64_t));
    std::memcpy(p + sizeof(int64_t), &scale_[idx[e]], sizeof(float));
    std::memcpy(p + sizeof(int64_t) + sizeof(float), codes_.data() + idx[e] * dim_, size_t(dim_));
    p += sizeof(int64_t) + sizeof(float) + size_t(dim_);
  }
  return out;
}

void PerturbationStore::unpack(const std::string& bytes) {
  const size_t row = sizeof(int64_t) + sizeof(float) + size_t(dim_);
  int64_t n = -1;
  if (bytes.size() >= sizeof n) std::memcpy(&n, bytes.data(), sizeof n);
  if (n < 0 || bytes.size() != sizeof n + size_t(n) * row)
    throw std::invalid_argument("PerturbationStore::unpack: " + std::to_string(bytes.size()) +
                                " bytes do not hold whole rows of " + std::to_string(dim_) + " codes");
  const char* p = bytes.data() + sizeof n;
  for (int64_t e = 0; e < n; ++e, p += row) {
    int64_t i;
    std::memcpy(&i, p, sizeof i);
    check_index(i, examples_);
    std::memcpy(&scale_[i], p + sizeof i, sizeof(float));
    std::memcpy(codes_.data() + i * dim_, p + sizeof i + sizeof(float), size_t(dim_));
  }
}

void PerturbationStore::restore(std::vector<int8_t> codes, std::vector<float> scales) {
  if (int64_t(scales.size()) != examples_ || int64_t(codes.size()) != examples_ * dim_)
    throw std::invalid_argument("PerturbationStore::restore: expected " + std::to_string(examples_) + " x " +
                                std::to_string(dim_) + " codes, found " + std::to_string(codes.size()) +
                                " codes and " + std::to_string(scales.size()) + " scales");
  codes_ = std::move(codes);
  scale_ = std::move(scales);
}

uint64_t PerturbationStore::fingerprint() const {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const void* data, size_t n) {
    const auto* b = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) { h ^= b[i]; h *= 1099511628211ull; }
  };
  mix(codes_.data(), codes_.size());
  mix(scale_.data(), scale_.size() * sizeof(float));
  return h;
}

}  // namespace rampart
