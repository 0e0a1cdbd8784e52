// A small writer of MAT-files of level 5 for the reader's tests: variables of any class, storage
// type, byte order and compression, so the cases scipy does not make (big-endian files, a
// double array stored as uint8 as MATLAB does, damaged elements) can be made too.
#pragma once
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace rampart::testing {

struct MatVar {
  std::string name;
  int mx_class = 6;          // 6 double, 9 uint8, 4 char, 1 cell, ...
  int storage_type = 9;      // miDOUBLE = 9, miUINT8 = 2, miINT16 = 3, miSINGLE = 7, ...
  int elem = 8;              // bytes a value in storage
  std::vector<int32_t> dims;
  std::vector<uint8_t> data; // the values, little-endian, elem bytes each
  bool complex = false;
  bool compress = false;
};

template <class T> std::vector<uint8_t> le_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

class MatWriter {
 public:
  explicit MatWriter(bool big_endian) : be_(big_endian) {
    std::string text = "MATLAB 5.0 MAT-file, written by rampart's tests";
    text.resize(116, ' ');
    out_.assign(text.begin(), text.end());
    out_.resize(124, 0);  // subsystem data offset: none
    put16(out_, 0x0100);
    // The indicator is 'M' << 8 | 'I' written in the file's order: "IM" little-endian, "MI" big.
    put16(out_, uint16_t('M') << 8 | uint16_t('I'));
  }

  MatWriter& add(const MatVar& v) {
    std::vector<uint8_t> m;  // the miMATRIX element's content
    std::vector<uint8_t> flags;
    put32(flags, uint32_t(v.mx_class) | (v.complex ? 0x0800u : 0u));
    put32(flags, 0);
    element(m, 6, flags);
    std::vector<uint8_t> dims;
    for (int32_t d : v.dims) put32(dims, uint32_t(d));
    element(m, 5, dims);
    element(m, 1, std::vector<uint8_t>(v.name.begin(), v.name.end()));
    if (v.mx_class >= 6) {
      std::vector<uint8_t> data = v.data;
      if (be_) swap(data, v.elem);
      element(m, v.storage_type, data);
      if (v.complex) element(m, v.storage_type, data);
    }
    std::vector<uint8_t> matrix;
    put32(matrix, 14);
    put32(matrix, uint32_t(m.size()));
    matrix.insert(matrix.end(), m.begin(), m.end());
    if (!v.compress) {
      out_.insert(out_.end(), matrix.begin(), matrix.end());
    } else {
      uLongf n = compressBound(uLong(matrix.size()));
      std::vector<uint8_t> z(n);
      compress2(z.data(), &n, matrix.data(), uLong(matrix.size()), 6);
      put32(out_, 15);
      put32(out_, uint32_t(n));
      out_.insert(out_.end(), z.begin(), z.begin() + long(n));
    }
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return out_; }

 private:
  void put16(std::vector<uint8_t>& b, uint16_t v) const {
    if (be_) { b.push_back(uint8_t(v >> 8)); b.push_back(uint8_t(v)); }
    else { b.push_back(uint8_t(v)); b.push_back(uint8_t(v >> 8)); }
  }
  void put32(std::vector<uint8_t>& b, uint32_t v) const {
    for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (be_ ? 24 - 8 * i : 8 * i)));
  }
  static void swap(std::vector<uint8_t>& d, int elem) {
    for (size_t i = 0; i + size_t(elem) <= d.size(); i += size_t(elem)) std::reverse(d.begin() + long(i), d.begin() + long(i) + elem);
  }
  // A sub-element: the small form (4-byte tag holding type and count, data in the next 4) for up
  // to 4 bytes, as MATLAB writes names and short values; otherwise tag + data padded to 8 bytes.
  void element(std::vector<uint8_t>& b, int type, const std::vector<uint8_t>& data) const {
    if (!data.empty() && data.size() <= 4) {
      put32(b, uint32_t(data.size()) << 16 | uint32_t(type));
      std::vector<uint8_t> d = data;
      d.resize(4, 0);
      b.insert(b.end(), d.begin(), d.end());
      return;
    }
    put32(b, uint32_t(type));
    put32(b, uint32_t(data.size()));
    b.insert(b.end(), data.begin(), data.end());
    b.resize(b.size() + (8 - data.size() % 8) % 8, 0);
  }

  bool be_;
  std::vector<uint8_t> out_;
};

}  // namespace rampart::testing
