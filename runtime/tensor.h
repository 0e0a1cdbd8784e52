// Dense float32 tensors (and typed buffers) that own storage on one device:
// 64-byte aligned host memory, or GPU memory from the caching allocator.
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

#include "kernels/common/device.h"
#include "kernels/dispatch/memory.h"

namespace rampart {

using Shape = std::vector<int64_t>;

inline int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s);

// A growable array of T on one device: resize() reallocates only to grow, so
// buffers that see the same batch every step allocate once. Contents are not
// kept by a growth. Host code may index it only on the CPU.
template <class T>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(Device d) : device_(d) {}
  ~Buffer() { kernels::release(device_, data_); }
  Buffer(Buffer&& o) noexcept { swap(o); }
  Buffer& operator=(Buffer&& o) noexcept { swap(o); return *this; }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void resize(int64_t n) {
    if (n > capacity_) {
      kernels::release(device_, data_);
      data_ = nullptr;
      capacity_ = 0;
      data_ = static_cast<T*>(kernels::allocate(device_, sizeof(T) * size_t(n)));
      capacity_ = n;
    }
    size_ = n;
  }
  // Moves to another device, dropping the contents (for scratch buffers).
  void set_device(Device d) {
    if (d == device_) return;
    kernels::release(device_, data_);
    data_ = nullptr;
    capacity_ = size_ = 0;
    device_ = d;
  }
  void zero() { kernels::zero_bytes(device_, data_, sizeof(T) * size_t(size_)); }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](int64_t i) { return data_[i]; }
  const T& operator[](int64_t i) const { return data_[i]; }
  int64_t size() const { return size_; }
  Device device() const { return device_; }

 private:
  void swap(Buffer& o) noexcept {
    std::swap(data_, o.data_); std::swap(size_, o.size_);
    std::swap(capacity_, o.capacity_); std::swap(device_, o.device_);
  }
  T* data_ = nullptr;
  int64_t size_ = 0, capacity_ = 0;
  Device device_ = Device::kCpu;
};

// A float32 tensor on one device (the CPU unless said otherwise). Layers call the
// kernel for the device of their tensors (kernels/dispatch/); only CPU tensors may
// be read element by element from host code.
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, Device d = Device::kCpu) : buf_(d) { resize(std::move(shape)); }
  Tensor(const Tensor& o) : buf_(o.device()) { copy_from(o); }
  Tensor& operator=(const Tensor& o) {
    if (this != &o) copy_from(o);
    return *this;
  }
  Tensor(Tensor&& o) noexcept { swap(o); }
  Tensor& operator=(Tensor&& o) noexcept { swap(o); return *this; }

  // Reshapes; reallocates only when the new size exceeds the capacity, so a
  // layer that sees the same batch size every step never allocates.
  void resize(Shape shape) {
    buf_.resize(numel(shape));
    shape_ = std::move(shape);
  }
  // Copies o's shape and values into this tensor, on this tensor's device.
  void copy_from(const Tensor& o) {
    resize(o.shape_);
    kernels::copy_bytes(device(), data(), o.device(), o.data(), size_t(size()) * sizeof(float));
  }
  // A copy on device d.
  Tensor to(Device d) const {
    Tensor t(shape_, d);
    kernels::copy_bytes(d, t.data(), device(), data(), size_t(size()) * sizeof(float));
    return t;
  }
  // Moves the storage to device d, dropping the values (for outputs and scratch).
  void set_device(Device d) {
    if (d == device()) return;
    buf_.set_device(d);
    shape_.clear();
  }
  void zero() { buf_.zero(); }
  void fill(float v) { for (int64_t i = 0; i < size(); ++i) data()[i] = v; }  // CPU only

  float* data() { return buf_.data(); }
  const float* data() const { return buf_.data(); }
  float& operator[](int64_t i) { return buf_[i]; }
  float operator[](int64_t i) const { return buf_[i]; }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[i < 0 ? shape_.size() + i : i]; }
  int64_t size() const { return buf_.size(); }
  int ndim() const { return int(shape_.size()); }
  bool empty() const { return size() == 0; }
  Device device() const { return buf_.device(); }
  bool on_cpu() const { return device() == Device::kCpu; }

 private:
  void swap(Tensor& o) noexcept {
    std::swap(buf_, o.buf_);
    std::swap(shape_, o.shape_);
  }
  Buffer<float> buf_;
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
