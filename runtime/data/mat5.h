// Reader for MATLAB MAT-files of level 5 (MATLAB's -v6 and -v7 formats; what scipy.io.savemat
// writes), only as far as importing datasets needs: real, full numeric arrays, with their names
// and dims, stored plainly or in zlib-compressed elements, in either byte order. Other variables
// (cells, structs, strings, sparse) are skipped by their sizes, never parsed; asking for their
// values is a DataError. A v7.3 file (HDF5 inside) is refused with a way to convert it.
// Layout (MathWorks, "MAT-File Format"): a 128-byte header (text, subsystem offset, version
// 0x0100, endian indicator "IM" or "MI"), then data elements, each an 8-byte tag (type, byte
// count; or type and count in 4 bytes with up to 4 bytes of data: the small element form)
// padded to 8 bytes; a variable is an miMATRIX (array flags, dims, name, real part), possibly
// inside an miCOMPRESSED element.
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace rampart::mat5 {

struct Variable {
  std::string name;
  int mx_class = 0;          // mxDOUBLE_CLASS = 6, mxUINT8_CLASS = 9, ... (0: unknown)
  std::string class_name;    // "double", "uint8", "cell", "struct", ...
  std::vector<int64_t> dims; // MATLAB (column-major) order: dims[0] varies fastest
  int64_t numel = 0;
  bool complex = false;
  bool compressed = false;
  int storage_type = 0;      // the miXXX type of the real part's values (may differ from the class:
                             // MATLAB stores a double array of small integers as miUINT8)
  int64_t offset = 0;        // of the variable's element in the file, for messages
  std::string dims_str() const;  // "[32, 32, 3, 73257]"
};

class Source;

class Reader {
 public:
  // MissingInput if absent; DataError for a file that is not a level 5 MAT-file (v7.3 and v4
  // named as such, with how to convert them).
  explicit Reader(const std::string& path);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Moves to the next variable, skipping what is left of the current one; false at the end.
  bool next();
  const Variable& var() const { return var_; }
  bool big_endian() const { return big_endian_; }
  const std::string& path() const { return path_; }
  std::string where() const;  // "train.mat: variable 'X'"

  // The current variable's values as doubles, whatever type they are stored in. DataError for a
  // variable that is not a real, full numeric array.
  std::vector<double> read_doubles();
  // The next n values of a uint8 variable (class and storage type uint8), in storage order, for
  // reading a large array in pieces. DataError past its end, or for a truncated or corrupt file.
  void read_uint8(int64_t n, uint8_t* out);
  int64_t values_left() const { return values_left_; }

 private:
  void require_numeric(const char* for_what) const;
  void parse_matrix(int64_t matrix_bytes);
  void read_exact(void* dst, int64_t n, const char* what);
  void finish_variable();

  std::string path_;
  std::FILE* fp_ = nullptr;
  int64_t file_size_ = 0;
  bool big_endian_ = false;
  int64_t next_pos_ = 128;           // where the next top-level element starts
  Variable var_;
  std::unique_ptr<Source> src_;      // the current variable's bytes (plain range or inflater)
  int64_t values_left_ = 0;          // of the real part, not yet read
  int elem_size_ = 0;
};

// The MATLAB class name for a class number ("double" for 6); "class N" when unknown.
std::string class_name(int mx_class);

}  // namespace rampart::mat5
