// MAT-file level 5 reader (see mat5.h). The file is read in one pass, one variable at a time:
// the current variable's bytes come from a Source (mat5_source.h), a plain range of the file or
// a zlib inflater over an miCOMPRESSED element, so a large array is read in pieces, never whole.
#include "runtime/data/mat5.h"

#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "runtime/data/mat5_source.h"
#include "runtime/errors.h"

namespace rampart::mat5 {

static_assert(std::endian::native == std::endian::little, "mat5: written for little-endian hosts");

namespace {

enum : int {
  miINT8 = 1, miUINT8 = 2, miINT16 = 3, miUINT16 = 4, miINT32 = 5, miUINT32 = 6, miSINGLE = 7, miDOUBLE = 9,
  miINT64 = 12, miUINT64 = 13, miMATRIX = 14, miCOMPRESSED = 15, miUTF8 = 16, miUTF16 = 17, miUTF32 = 18
};
constexpr int kUint8Class = 9;
constexpr int64_t kMaxValues = int64_t(1) << 40;

int type_size(int t) {
  switch (t) {
    case miINT8: case miUINT8: return 1;
    case miINT16: case miUINT16: return 2;
    case miINT32: case miUINT32: case miSINGLE: return 4;
    case miDOUBLE: case miINT64: case miUINT64: return 8;
    default: return 0;
  }
}

std::string type_name(int t) {
  switch (t) {
    case miINT8: return "miINT8"; case miUINT8: return "miUINT8"; case miINT16: return "miINT16";
    case miUINT16: return "miUINT16"; case miINT32: return "miINT32"; case miUINT32: return "miUINT32";
    case miSINGLE: return "miSINGLE"; case miDOUBLE: return "miDOUBLE"; case miINT64: return "miINT64";
    case miUINT64: return "miUINT64"; case miMATRIX: return "miMATRIX"; case miCOMPRESSED: return "miCOMPRESSED";
    case miUTF8: return "miUTF8"; case miUTF16: return "miUTF16"; case miUTF32: return "miUTF32";
    default: return "type " + std::to_string(t);
  }
}

void swap_bytes(uint8_t* p, int64_t count, int size) {
  if (size == 1) return;
  for (int64_t i = 0; i < count; ++i, p += size) std::reverse(p, p + size);
}

struct Tag {
  int type = 0;
  int64_t bytes = 0;
  bool small = false;  // the data is in the tag's last 4 bytes
  uint8_t data[4] = {0, 0, 0, 0};
};

}  // namespace

std::string class_name(int c) {
  static const char* names[] = {"",      "cell",  "struct", "object", "char",  "sparse", "double", "single", "int8",
                                "uint8", "int16", "uint16", "int32",  "uint32", "int64", "uint64", "function",
                                "opaque"};
  if (c >= 1 && c <= 17) return names[c];
  return "class " + std::to_string(c);
}

std::string Variable::dims_str() const {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

Reader::Reader(const std::string& path) : path_(path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw MissingInput(path + ": no such file (expected a MAT-file)");
  if (S_ISDIR(st.st_mode)) throw MissingInput(path + " is a directory, expected a MAT-file");
  fp_ = std::fopen(path.c_str(), "rb");
  if (!fp_) throw MissingInput(path + ": cannot open: " + std::strerror(errno));
  file_size_ = int64_t(st.st_size);
  unsigned char h[128] = {};
  const size_t got = std::fread(h, 1, sizeof h, fp_);
  static const unsigned char kHdf5[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  bool hdf5 = got >= 8 && std::memcmp(h, kHdf5, 8) == 0;
  if (!hdf5 && file_size_ >= 520) {
    unsigned char sig[8];
    hdf5 = std::fseek(fp_, 512, SEEK_SET) == 0 && std::fread(sig, 1, 8, fp_) == 8 && std::memcmp(sig, kHdf5, 8) == 0;
  }
  if (hdf5 || (got >= 19 && std::memcmp(h, "MATLAB 7.3 MAT-file", 19) == 0))
    throw DataError(path + " is a MATLAB v7.3 MAT-file (HDF5 inside), which this reader does not read; convert it to "
                    "a level 5 MAT-file: in MATLAB, s = load(F); save(G, '-struct', 's', '-v7'); or in Python, "
                    "f = h5py.File(F); scipy.io.savemat(G, {k: f[k][()].T for k in f if not k.startswith('#')}, "
                    "do_compression=True) (h5py sees MATLAB arrays transposed, hence .T)");
  if (got < 128)
    throw DataError(path + ": " + std::to_string(file_size_) + " bytes, too short for a MAT-file (expected a 128-byte "
                    "header, then the variables; truncated file?)");
  if (h[126] == 'I' && h[127] == 'M') big_endian_ = false;
  else if (h[126] == 'M' && h[127] == 'I') big_endian_ = true;
  else
    throw DataError(path + ": not a level 5 MAT-file: expected the endian indicator 'IM' or 'MI' at bytes 126-127 of "
                    "the 128-byte header, found bytes " + std::to_string(h[126]) + " " + std::to_string(h[127]) +
                    " (a level 4 MAT-file, or not a MAT-file at all? re-save it with MATLAB's save -v7 or "
                    "scipy.io.savemat)");
  const unsigned version = big_endian_ ? unsigned(h[124]) << 8 | h[125] : unsigned(h[125]) << 8 | h[124];
  if (version != 0x0100) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%04x", version);
    throw DataError(path + ": MAT-file header version " + buf + ", expected 0x0100 (level 5); damaged header?");
  }
}

Reader::~Reader() {
  src_.reset();
  if (fp_) std::fclose(fp_);
}

std::string Reader::where() const {
  if (var_.name.empty()) return path_ + ": the variable at offset " + std::to_string(var_.offset);
  return path_ + ": variable '" + var_.name + "'";
}

void Reader::read_exact(void* dst, int64_t n, const char* what) {
  const int64_t got = src_->read(dst, n);
  if (got < n)
    throw DataError(where() + ": the " + std::string(var_.compressed ? "compressed " : "") + "element ends inside " +
                    what + ": expected " + std::to_string(n) + " more bytes, found " + std::to_string(got) +
                    " (truncated or damaged file? download it again)");
}

void Reader::finish_variable() {
  // A variable read to its end gets the checks that need its end (the zlib checksum).
  if (src_ && var_.numel > 0 && values_left_ == 0 && elem_size_ > 0) src_->finish();
  src_.reset();
  values_left_ = 0;
  elem_size_ = 0;
}

bool Reader::next() {
  finish_variable();
  while (true) {
    var_ = Variable{};
    if (next_pos_ == file_size_) return false;
    var_.offset = next_pos_;
    if (file_size_ - next_pos_ < 8)
      throw DataError(path_ + ": " + std::to_string(file_size_ - next_pos_) + " stray bytes at offset " +
                      std::to_string(next_pos_) + " after the last variable; expected an 8-byte element tag or the "
                      "end of the file (truncated file?)");
    uint8_t t[8];
    if (std::fseek(fp_, long(next_pos_), SEEK_SET) != 0 || std::fread(t, 1, 8, fp_) != 8)
      throw IoError(path_ + ": cannot read at offset " + std::to_string(next_pos_) + ": " + std::strerror(errno));
    if (big_endian_) { swap_bytes(t, 2, 4); }
    uint32_t type, bytes;
    std::memcpy(&type, t, 4);
    std::memcpy(&bytes, t + 4, 4);
    if (type >> 16)
      throw DataError(path_ + ": at offset " + std::to_string(next_pos_) + " a small data element (" +
                      type_name(int(type & 0xffff)) + "); expected a variable (miMATRIX or miCOMPRESSED): damaged "
                      "file, or not a MAT-file?");
    const int64_t end = next_pos_ + 8 + int64_t(bytes);
    if (end > file_size_)
      throw DataError(path_ + ": the variable at offset " + std::to_string(next_pos_) + " claims " +
                      std::to_string(bytes) + " bytes, but the file ends " + std::to_string(file_size_ - next_pos_ - 8) +
                      " bytes after its tag (truncated file? download it again)");
    next_pos_ = end;  // scipy's rule: no padding after a top-level element
    if (type == miMATRIX) {
      if (bytes == 0) continue;  // an empty matrix element: nothing to name
      src_ = std::make_unique<FileRange>(fp_, int64_t(bytes));
      parse_matrix(int64_t(bytes));
      return true;
    }
    if (type == miCOMPRESSED) {
      var_.compressed = true;
      src_ = std::make_unique<Inflater>(fp_, int64_t(bytes),
                                        path_ + ": the compressed variable at offset " + std::to_string(var_.offset));
      uint8_t it[8];
      read_exact(it, 8, "its first tag");
      if (big_endian_) swap_bytes(it, 2, 4);
      uint32_t itype, ibytes;
      std::memcpy(&itype, it, 4);
      std::memcpy(&ibytes, it + 4, 4);
      if (itype != miMATRIX)
        throw DataError(where() + ": expected an miMATRIX element inside the compressed one, found " +
                        type_name(int(itype)) + " (damaged file?)");
      src_->pos = 0;
      if (ibytes == 0) { src_.reset(); continue; }
      parse_matrix(int64_t(ibytes));
      return true;
    }
    throw DataError(path_ + ": at offset " + std::to_string(var_.offset) + " an element of " +
                    type_name(int(type)) + "; expected a variable (miMATRIX or miCOMPRESSED): damaged file, or "
                    "not a MAT-file?");
  }
}

void Reader::parse_matrix(int64_t matrix_bytes) {
  auto read_tag = [&](const char* what) {
    uint8_t t[8];
    read_exact(t, 8, what);
    // Only the first word is surely a number: in the small form the next 4 bytes are data.
    if (big_endian_) swap_bytes(t, 1, 4);
    uint32_t a, b;
    std::memcpy(&a, t, 4);
    Tag tag;
    if (!(a >> 16) && big_endian_) swap_bytes(t + 4, 1, 4);
    std::memcpy(&b, t + 4, 4);
    if (a >> 16) {  // small element: type in the low 16 bits, byte count in the high, data in the rest
      tag.type = int(a & 0xffff);
      tag.bytes = a >> 16;
      tag.small = true;
      if (tag.bytes > 4)
        throw DataError(where() + ": a small data element of " + std::to_string(tag.bytes) + " bytes (at most 4 fit) "
                        "in " + what + " (damaged file?)");
      std::memcpy(tag.data, t + 4, 4);
    } else {
      tag.type = int(a);
      tag.bytes = b;
    }
    if (!tag.small && src_->pos + tag.bytes > matrix_bytes)  // pos counts from the start of the variable's content
      throw DataError(where() + ": " + what + " claims " + std::to_string(tag.bytes) + " bytes, more than the " +
                      std::to_string(matrix_bytes) + "-byte variable holds (damaged file?)");
    return tag;
  };
  auto read_body = [&](const Tag& tag, std::vector<uint8_t>& out, const char* what) {
    if (tag.small) {
      out.assign(tag.data, tag.data + std::min<int64_t>(tag.bytes, 4));
      return;
    }
    out.resize(size_t(tag.bytes));
    read_exact(out.data(), tag.bytes, what);
    const int64_t pad = (8 - tag.bytes % 8) % 8;
    uint8_t skip[8];
    read_exact(skip, pad, what);
  };

  std::vector<uint8_t> body;
  // Array flags: class and complex bit in the first word.
  Tag flags = read_tag("the array flags");
  if (flags.type != miUINT32 || flags.bytes != 8)
    throw DataError(where() + ": expected array flags (miUINT32, 8 bytes) at the start of the variable, found " +
                    type_name(flags.type) + " of " + std::to_string(flags.bytes) + " bytes (damaged file?)");
  read_body(flags, body, "the array flags");
  if (big_endian_) swap_bytes(body.data(), 2, 4);
  uint32_t word;
  std::memcpy(&word, body.data(), 4);
  var_.mx_class = int(word & 0xff);
  var_.class_name = class_name(var_.mx_class);
  var_.complex = word & 0x0800;
  if (var_.mx_class < 1 || var_.mx_class > 15) return;  // function handles, opaque objects: no dims to read

  Tag dims = read_tag("the dimensions");
  if (dims.type != miINT32 || dims.bytes % 4 != 0 || dims.bytes == 0)
    throw DataError(where() + ": expected dimensions (miINT32) after the array flags, found " + type_name(dims.type) +
                    " of " + std::to_string(dims.bytes) + " bytes (damaged file?)");
  if (dims.bytes > 4 * 64)
    throw DataError(where() + ": " + std::to_string(dims.bytes / 4) + " dimensions, more than 64 (damaged file?)");
  read_body(dims, body, "the dimensions");
  if (big_endian_) swap_bytes(body.data(), int64_t(body.size() / 4), 4);
  var_.numel = 1;
  for (size_t i = 0; i < body.size() / 4; ++i) {
    int32_t d;
    std::memcpy(&d, body.data() + 4 * i, 4);
    if (d < 0) throw DataError(where() + ": dimension " + std::to_string(i) + " is " + std::to_string(d) + " (damaged file?)");
    var_.dims.push_back(d);
    var_.numel = d == 0 || var_.numel == 0 ? 0 : var_.numel * d;
    if (var_.numel > kMaxValues)
      throw DataError(where() + ": dimensions claim more than 2^40 values (damaged file?)");
  }

  Tag name = read_tag("the name");
  if (name.type != miINT8 && name.type != miUINT8 && name.type != miUTF8)
    throw DataError(where() + ": expected the variable's name (miINT8) after its dimensions, found " +
                    type_name(name.type) + " (damaged file?)");
  if (name.bytes > 4096) throw DataError(where() + ": a name of " + std::to_string(name.bytes) + " bytes (damaged file?)");
  read_body(name, body, "the name");
  var_.name.assign(body.begin(), body.end());

  if (var_.mx_class < 6) return;  // cell, struct, object, char, sparse: skipped, never parsed
  Tag real = read_tag("the values");
  var_.storage_type = real.type;
  elem_size_ = type_size(real.type);
  if (elem_size_ == 0)
    throw DataError(where() + ": its values are stored as " + type_name(real.type) + ", expected a numeric type "
                    "(damaged file?)");
  if (real.bytes != var_.numel * elem_size_)
    throw DataError(where() + ": " + var_.class_name + " " + var_.dims_str() + " holds " + std::to_string(var_.numel) +
                    " values, expected " + std::to_string(var_.numel * elem_size_) + " bytes of " +
                    type_name(real.type) + ", found " + std::to_string(real.bytes) + " (damaged file?)");
  if (real.small) {
    // The few values sit in the tag: serve them from a source of their own.
    struct Inline : Source {
      uint8_t d[4];
      int64_t n, at = 0;
      int64_t read(void* dst, int64_t k) override {
        const int64_t m = std::min(k, n - at);
        std::memcpy(dst, d + at, size_t(m));
        at += m;
        pos += m;
        return m;
      }
    };
    auto in = std::make_unique<Inline>();
    std::memcpy(in->d, real.data, 4);
    in->n = real.bytes;
    src_ = std::move(in);
  }
  values_left_ = var_.numel;
}

void Reader::require_numeric(const char* for_what) const {
  if (var_.mx_class < 6 || var_.mx_class > 15)
    throw DataError(where() + ": expected a numeric array for " + std::string(for_what) + ", found a " +
                    var_.class_name + " " + var_.dims_str());
  if (var_.complex)
    throw DataError(where() + ": expected real numbers for " + std::string(for_what) + ", found a complex " +
                    var_.class_name + " array");
}

std::vector<double> Reader::read_doubles() {
  require_numeric("its values");
  if (values_left_ != var_.numel) throw std::logic_error("mat5: read_doubles after a partial read");
  // Grown as values arrive: dims inside a compressed element cannot be checked against the file's
  // size, and a damaged count must fail on the data, not on allocating what it claims.
  std::vector<double> out;
  std::vector<uint8_t> buf;
  const int64_t block = 1 << 16;
  for (int64_t at = 0; at < var_.numel; at += block) {
    const int64_t m = std::min(block, var_.numel - at);
    buf.resize(size_t(m * elem_size_));
    read_exact(buf.data(), m * elem_size_, "the values");
    if (big_endian_) swap_bytes(buf.data(), m, elem_size_);
    out.resize(size_t(at + m));
    const uint8_t* p = buf.data();
    double* o = out.data() + at;
    auto conv = [&](auto zero) {
      using T = decltype(zero);
      for (int64_t i = 0; i < m; ++i) {
        T v;
        std::memcpy(&v, p + i * sizeof(T), sizeof(T));
        o[i] = double(v);
      }
    };
    switch (var_.storage_type) {
      case miINT8: conv(int8_t{}); break;
      case miUINT8: conv(uint8_t{}); break;
      case miINT16: conv(int16_t{}); break;
      case miUINT16: conv(uint16_t{}); break;
      case miINT32: conv(int32_t{}); break;
      case miUINT32: conv(uint32_t{}); break;
      case miSINGLE: conv(float{}); break;
      case miDOUBLE: conv(double{}); break;
      case miINT64: conv(int64_t{}); break;
      case miUINT64: conv(uint64_t{}); break;
    }
  }
  values_left_ = 0;
  return out;
}

void Reader::read_uint8(int64_t n, uint8_t* out) {
  require_numeric("its values");
  if (var_.mx_class != kUint8Class || var_.storage_type != miUINT8)
    throw DataError(where() + ": expected uint8 values, found a " + var_.class_name + " array stored as " +
                    type_name(var_.storage_type));
  if (n > values_left_)
    throw std::logic_error("mat5: read_uint8 past the end of " + var_.name);
  read_exact(out, n, "the values");
  values_left_ -= n;
}

}  // namespace rampart::mat5
