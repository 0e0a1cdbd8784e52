// Device memory for the GPU runtime: a growable typed buffer, and a tensor (a
// logical shape over such a buffer, or a view of someone else's device memory).
// Activations keep the CPU path's layout: [N, C, H, W] logical, NHWC in memory.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

#include "kernels/cuda/check.h"
#include "runtime/tensor.h"

namespace rampart::gpu {

// n elements of T in device memory. resize() reallocates only to grow, so a
// layer that sees the same batch size every step allocates once (and a captured
// CUDA graph keeps valid pointers). Contents are not preserved by a growth.
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(int64_t n) { resize(n); }
  ~DeviceArray() { if (data_) cudaFree(data_); }  // never throws
  DeviceArray(DeviceArray&& o) noexcept { swap(o); }
  DeviceArray& operator=(DeviceArray&& o) noexcept { swap(o); return *this; }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  void resize(int64_t n) {
    if (n > capacity_) {
      if (data_) CUDA_CHECK(cudaFree(data_));
      data_ = nullptr;
      capacity_ = 0;
      CUDA_CHECK(cudaMalloc(&data_, sizeof(T) * size_t(n)));
      capacity_ = n;
    }
    size_ = n;
  }
  T* data() { return data_; }
  const T* data() const { return data_; }
  int64_t size() const { return size_; }

 private:
  void swap(DeviceArray& o) noexcept {
    std::swap(data_, o.data_); std::swap(size_, o.size_); std::swap(capacity_, o.capacity_);
  }
  T* data_ = nullptr;
  int64_t size_ = 0, capacity_ = 0;
};

// A float32 tensor on the device: owning (resize) or a view (wrap).
class GpuTensor {
 public:
  GpuTensor() = default;
  // A view of device memory the caller owns (e.g. the model's input batch).
  static GpuTensor wrap(const float* data, Shape shape) {
    GpuTensor t;
    t.view_ = const_cast<float*>(data);
    t.shape_ = std::move(shape);
    return t;
  }
  void resize(Shape shape) {
    view_ = nullptr;
    own_.resize(numel(shape));
    shape_ = std::move(shape);
  }
  float* data() { return view_ ? view_ : own_.data(); }
  const float* data() const { return view_ ? view_ : own_.data(); }
  const Shape& shape() const { return shape_; }
  int64_t dim(int i) const { return shape_[i]; }
  int ndim() const { return int(shape_.size()); }
  int64_t size() const { return numel(shape_); }

 private:
  DeviceArray<float> own_;
  float* view_ = nullptr;
  Shape shape_;
};

}  // namespace rampart::gpu
