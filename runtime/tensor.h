// A dense float32 tensor that owns 64-byte aligned storage.
// Activations of 4-D layers are stored channels-last: logical shape [N, C, H, W],
// memory order N, H, W, C ("nhwc"), which oneDNN's AVX-512 convolutions and our
// pooling kernels read without reorders. 2-D tensors are [N, F] row-major.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace rampart {

using Shape = std::vector<int64_t>;

inline int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s);

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape) { resize(std::move(shape)); }
  Tensor(const Tensor& o) : Tensor(o.shape_) { if (size_) std::memcpy(data_, o.data_, size_ * sizeof(float)); }
  Tensor& operator=(const Tensor& o) {
    if (this != &o) { resize(o.shape_); if (size_) std::memcpy(data_, o.data_, size_ * sizeof(float)); }
    return *this;
  }
  Tensor(Tensor&& o) noexcept { swap(o); }
  Tensor& operator=(Tensor&& o) noexcept { swap(o); return *this; }
  ~Tensor() { std::free(data_); }

  // Reshapes; reallocates only when the new size exceeds the capacity, so a
  // layer that sees the same batch size every step never allocates.
  void resize(Shape shape) {
    int64_t n = numel(shape);
    if (n > capacity_) {
      std::free(data_);
      size_t bytes = ((size_t(n) * sizeof(float) + 63) / 64) * 64;
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!data_) throw std::bad_alloc();
      capacity_ = n;
    }
    size_ = n;
    shape_ = std::move(shape);
  }
  void zero() { if (size_) std::memset(data_, 0, size_ * sizeof(float)); }
  void fill(float v) { for (int64_t i = 0; i < size_; ++i) data_[i] = v; }

  float* data() { return data_; }
  const float* data() const { return data_; }
  float& operator[](int64_t i) { return data_[i]; }
  float operator[](int64_t i) const { return data_[i]; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[i < 0 ? shape_.size() + i : i]; }
  int64_t size() const { return size_; }
  int ndim() const { return int(shape_.size()); }
  bool empty() const { return size_ == 0; }

 private:
  void swap(Tensor& o) noexcept {
    std::swap(data_, o.data_); std::swap(size_, o.size_);
    std::swap(capacity_, o.capacity_); std::swap(shape_, o.shape_);
  }
  float* data_ = nullptr;
  int64_t size_ = 0;
  int64_t capacity_ = 0;
  Shape shape_;
};

// A view of a parameter (or its gradient) inside the model's flat buffers.
// Parameters live in one contiguous buffer so that gradient buckets are plain
// ranges of it: nothing is packed before an all-reduce (cluster/comm/grad_reducer.h).
struct ParamView {
  std::string name;   // "<layer index>.weight", as in torch.nn.Sequential's state_dict
  Shape shape;        // PyTorch layout: conv [out, in, kh, kw], linear [out, in]
  float* value = nullptr;
  float* grad = nullptr;
  int64_t offset = 0; // element offset in the flat buffers
  int64_t size() const { return numel(shape); }
};

// A non-trainable state tensor (batchnorm running statistics).
struct BufferView {
  std::string name;
  Shape shape;
  float* value = nullptr;
};

}  // namespace rampart
