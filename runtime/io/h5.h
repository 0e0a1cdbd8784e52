// A small RAII wrapper over the HDF5 C API (1.10, serial) for datasets and checkpoints.
// Every failure becomes a rampart exception whose one-line message names the file
// and the object, what was expected and what was found (HDF5's own error printing
// is turned off). Not thread-safe: serial HDF5 is not.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/tensor.h"

namespace rampart::h5 {

enum class DType { kFloat32, kFloat64, kUInt8, kInt8, kInt64, kOther };
// How an array is stored: plainly, or with a Fletcher-32 checksum per chunk that every read
// verifies. kChecksum: chunks of up to 64 MiB, for arrays read whole (checkpoints); kChecksumRows:
// chunks of about 64 KiB of rows, for arrays read by rows in any order (datasets), so a row read
// decodes and verifies one small chunk, which the dataset's chunk cache then keeps.
enum class Integrity { kNone, kChecksum, kChecksumRows };
const char* dtype_name(DType t);

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::kFloat32; }
template <> constexpr DType dtype_of<double>() { return DType::kFloat64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::kUInt8; }
template <> constexpr DType dtype_of<int8_t>() { return DType::kInt8; }
template <> constexpr DType dtype_of<int64_t>() { return DType::kInt64; }

// Owns one hid_t and closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) { reset(); id_ = o.id_; close_ = o.close_; o.id_ = -1; }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  void reset() noexcept { if (id_ >= 0 && close_) close_(id_); id_ = -1; }
  hid_t release() noexcept { hid_t id = id_; id_ = -1; return id; }  // caller closes it
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  Closer close_ = nullptr;
};

// What an object carries in common: the file it lives in and its path there,
// for messages, plus attributes.
class Object {
 public:
  hid_t id() const { return h_.get(); }
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  std::string where() const { return file_ + ":" + path_; }  // "train.h5:/images"

  bool has_attr(const std::string& name) const;
  // Strings: variable-length (as h5py writes them) or fixed-length, ASCII or UTF-8.
  std::string attr_string(const std::string& name) const;
  int64_t attr_int(const std::string& name) const;    // any integer type
  double attr_double(const std::string& name) const;  // any integer or float type
  // Written as variable-length UTF-8 strings, int64 and float64 scalars; replaces an existing one.
  void set_attr(const std::string& name, const std::string& value);
  void set_attr(const std::string& name, const char* value) { set_attr(name, std::string(value)); }
  void set_attr(const std::string& name, int64_t value);
  void set_attr(const std::string& name, int value) { set_attr(name, int64_t(value)); }
  void set_attr(const std::string& name, double value);

 protected:
  Object() = default;
  Object(Handle h, std::string file, std::string path)
      : h_(std::move(h)), file_(std::move(file)), path_(std::move(path)) {}
  std::string child_path(const std::string& name) const;

  Handle h_;
  std::string file_;
  std::string path_;
};

class Dataset : public Object {
 public:
  const Shape& shape() const { return shape_; }
  int rank() const { return int(shape_.size()); }
  DType dtype() const { return dtype_; }
  std::string dtype_str() const { return dtype_desc_; }  // also for unsupported types: "int32", "string"

  // DataError "<where>: expected uint8 [N, C, H, W], found float32 [..]" unless they match;
  // rank < 0 accepts any rank.
  void require(DType type, int rank = -1, const char* dims_hint = nullptr) const;

  // Whole dataset. read() insists on the stored type; read_as() lets HDF5 convert numbers.
  template <class T> std::vector<T> read() const { require(dtype_of<T>()); return read_as<T>(); }
  template <class T> std::vector<T> read_as() const;
  template <class T> void read_into(T* out) const { read_raw(dtype_of<T>(), out, true); }
  // True when the array carries a Fletcher-32 checksum (written with Integrity::kChecksum).
  bool checksummed() const;

  // Rows [begin, end) of the first dimension, one hyperslab read; out holds (end - begin) rows.
  template <class T> void read_rows(int64_t begin, int64_t end, T* out) const {
    read_range_raw(dtype_of<T>(), begin, end, out);
  }
  // Rows in the order given (any order, repeats allowed); runs of consecutive
  // indices are read with one hyperslab each.
  template <class T> void read_rows(const std::vector<int64_t>& rows, T* out) const {
    read_list_raw(dtype_of<T>(), rows, out);
  }
  int64_t row_elems() const;  // elements in one row (product of all dims but the first)
  // Rows of the first dimension in one chunk (all of them for a contiguous array): a writer
  // streaming rows writes whole chunks when it can, so none is written twice.
  int64_t chunk_rows() const;

  // Writes rows [begin, end) of the first dimension (a dataset made by Group::create), one
  // hyperslab each call; data holds (end - begin) rows. IoError naming the array on failure.
  template <class T> void write_rows(int64_t begin, int64_t end, const T* data) {
    write_range_raw(dtype_of<T>(), begin, end, data);
  }

 private:
  friend class Group;
  // check_claim: compare the shape with what the file can hold (datasets opened for reading; not
  // one just created, whose file is still being written).
  Dataset(Handle h, std::string file, std::string path, bool check_claim = true);
  void read_raw(DType t, void* out, bool strict) const;
  std::string read_failure() const;  // why a read failed: the checksum, or a truncated file
  void read_range_raw(DType t, int64_t begin, int64_t end, void* out) const;
  // Rows [begin, end) of a row read or write: out_of_range outside [0, N); the file and
  // memory dataspaces of the hyperslab (selected false where HDF5 refused the selection).
  struct RowSlab {
    Handle file, mem;
    bool selected;
  };
  void check_row_range(int64_t begin, int64_t end) const;
  RowSlab select_rows(int64_t begin, int64_t end) const;
  void read_list_raw(DType t, const std::vector<int64_t>& rows, void* out) const;
  void write_range_raw(DType t, int64_t begin, int64_t end, const void* data);
  // DataError unless the file can hold dims x elem_bytes (h5_integrity.cpp).
  void check_claimed_size(const std::vector<hsize_t>& dims, size_t elem_bytes) const;

  Shape shape_;
  DType dtype_ = DType::kOther;
  std::string dtype_desc_;
};

class Group : public Object {
 public:
  bool exists(const std::string& name) const;  // relative or absolute path; intermediate groups need not exist
  bool is_group(const std::string& name) const;
  bool is_dataset(const std::string& name) const;
  // Member names: creation order where the group tracks it (groups made here do),
  // otherwise by name with numbers compared by value ("2.weight" before "10.weight").
  std::vector<std::string> members() const;

  Group group(const std::string& name) const;        // DataError if missing
  Group create_group(const std::string& name);       // tracks creation order
  Dataset dataset(const std::string& name) const;    // DataError "<file>: missing dataset /labels"

  // Contiguous, uncompressed layout, so row reads are a single seek each; or, with kChecksum or
  // kChecksumRows, chunked with HDF5's Fletcher-32 filter, which every read verifies (a flipped
  // bit is a DataError naming the array).
  template <class T>
  Dataset write(const std::string& name, const Shape& shape, const T* data, Integrity integrity = Integrity::kNone) {
    return write_raw(name, shape, dtype_of<T>(), data, integrity);
  }
  template <class T>
  Dataset write(const std::string& name, const Shape& shape, const std::vector<T>& v,
                Integrity integrity = Integrity::kNone) {
    check_count(name, shape, int64_t(v.size()));
    return write_raw(name, shape, dtype_of<T>(), v.data(), integrity);
  }
  // The same layout as write(), created empty (zeros) for a writer that streams its rows in with
  // Dataset::write_rows, so an array larger than memory never has to be held whole.
  template <class T>
  Dataset create(const std::string& name, const Shape& shape, Integrity integrity = Integrity::kNone) {
    return create_raw(name, shape, dtype_of<T>(), integrity);
  }

 private:
  friend class File;
  Group() = default;
  Group(Handle h, std::string file, std::string path) : Object(std::move(h), std::move(file), std::move(path)) {}
  Dataset write_raw(const std::string& name, const Shape& shape, DType type, const void* data, Integrity integrity);
  Dataset create_raw(const std::string& name, const Shape& shape, DType type, Integrity integrity);
  void check_count(const std::string& name, const Shape& shape, int64_t count) const;
};

class File {
 public:
  // MissingInput if absent; DataError "<path> is not a valid HDF5 file (truncated or corrupt?)".
  static File open(const std::string& path, bool writable = false);
  // Truncates an existing file; IoError if it cannot be created.
  static File create(const std::string& path);

  Group& root() { return root_; }
  const Group& root() const { return root_; }
  const std::string& path() const { return path_; }
  void flush();  // IoError on failure
  void close();  // IoError on failure; the destructor closes quietly

  File(File&&) noexcept = default;
  File& operator=(File&&) noexcept = default;
  ~File() = default;

 private:
  File(Handle h, std::string path);
  Handle h_;
  std::string path_;
  Group root_;
};

// Writes a file so that `path` never holds a partial one: `fill` writes into
// "<path>.tmp.<pid>", which is flushed, closed, fsync'ed and renamed over `path`
// (then the directory is fsync'ed). On any failure the temporary file is removed
// and the exception rethrown (anything that is not a rampart error as IoError).
void write_atomically(const std::string& path, const std::function<void(File&)>& fill);

// Reads a file that may be corrupt or hostile without letting HDF5 take the process down:
// `read` (which opens `file` and reads what the caller will read) runs first in a forked child
// process. A crash or hang of the HDF5 library there (1.10 crashes on some corrupted metadata)
// becomes a DataError (65) naming the file; a rampart error there is rethrown here with its exit
// code; otherwise the caller then reads the file for real. Inside the child, nested calls do
// nothing (the outer `read` is already isolated). RAMPART_H5_ISOLATE=0 reads in-process (for
// systems where fork() after MPI_Init is unsafe: see docs/reliability.md);
// RAMPART_H5_ISOLATE_STDERR=FILE appends the child's standard error (a crash report) to FILE;
// RAMPART_H5_ISOLATE_TIMEOUT=SECONDS bounds the child (default 300).
void read_isolated(const std::string& file, const std::function<void()>& read);

// Turns off HDF5's automatic error printing; called by every entry point above.
void quiet_errors();

}  // namespace rampart::h5

// ---- template definitions ----
namespace rampart::h5 {
template <class T> std::vector<T> Dataset::read_as() const {
  std::vector<T> v(size_t(numel(shape_)));
  read_raw(dtype_of<T>(), v.data(), false);
  return v;
}
}  // namespace rampart::h5
