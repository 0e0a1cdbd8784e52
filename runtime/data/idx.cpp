// IDX reader (see idx.h). zlib's gzread reads plain files as they are, so one
// code path serves both; the gzip magic (1f 8b) is only checked to say which in messages.
#include "runtime/data/idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "runtime/errors.h"

namespace rampart {
namespace {

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// What a magic number that is not the one expected looks like, as a hint.
std::string describe_magic(uint32_t m) {
  if ((m >> 16) != 0) return hex32(m) + " (not an IDX file)";
  const char* type = nullptr;
  switch ((m >> 8) & 0xff) {
    case 0x08: type = "uint8"; break;
    case 0x09: type = "int8"; break;
    case 0x0b: type = "int16"; break;
    case 0x0c: type = "int32"; break;
    case 0x0d: type = "float32"; break;
    case 0x0e: type = "float64"; break;
    default: return hex32(m) + " (not an IDX file)";
  }
  int dims = int(m & 0xff);
  std::string s = hex32(m) + " (" + type + ", " + std::to_string(dims) + (dims == 1 ? " dim" : " dims") + ")";
  if (m == 0x00000801) s += "; is this the labels file?";
  if (m == 0x00000803) s += "; is this the images file?";
  return s;
}

class IdxFile {
 public:
  explicit IdxFile(const std::string& path, const char* what) : path_(path) {
    struct stat st;
    const std::string example = std::string("t10k-") + what + "-idx" +
                                (std::strcmp(what, "images") == 0 ? "3" : "1") + "-ubyte.gz";
    if (::stat(path.c_str(), &st) != 0)
      throw MissingInput(path + ": no such file (expected IDX " + what + ", e.g. " + example + ")");
    if (S_ISDIR(st.st_mode))
      throw MissingInput(path + " is a directory, expected an IDX " + what + " file; name the file in it, e.g. " +
                         path + "/" + example);
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw MissingInput(path + ": cannot open: " + std::strerror(errno));
    unsigned char m[2] = {0, 0};
    gzip_ = std::fread(m, 1, 2, f) == 2 && m[0] == 0x1f && m[1] == 0x8b;
    std::fclose(f);
    gz_ = gzopen(path.c_str(), "rb");
    if (!gz_) throw MissingInput(path + ": cannot open: " + std::strerror(errno));
    gzbuffer(gz_, 1 << 18);
  }
  ~IdxFile() { if (gz_) gzclose(gz_); }
  IdxFile(const IdxFile&) = delete;
  IdxFile& operator=(const IdxFile&) = delete;

  std::string name() const { return path_ + (gzip_ ? " (gzip)" : ""); }

  // Reads up to n bytes; returns how many arrived. A truncated gzip stream gives
  // back what it decoded; corrupt compressed data is an error of its own.
  int64_t read(void* dst, int64_t n) {
    int64_t got = 0;
    auto* p = static_cast<unsigned char*>(dst);
    while (got < n) {
      unsigned chunk = unsigned(std::min<int64_t>(n - got, 1 << 30));
      int r = gzread(gz_, p + got, chunk);
      if (r < 0) {
        int err = 0;
        const char* msg = gzerror(gz_, &err);
        if (err == Z_BUF_ERROR) { truncated_ = true; break; }  // input ended inside the gzip stream
        throw DataError(name() + ": corrupt compressed data (" + (msg ? msg : "zlib error") + ")");
      }
      if (r == 0) {
        int err = 0;
        const char* msg = gzerror(gz_, &err);
        if (err != Z_OK && err != Z_BUF_ERROR)
          throw DataError(name() + ": corrupt compressed data (" + (msg ? msg : "zlib error") + ")");
        if (err == Z_BUF_ERROR) truncated_ = true;  // the stream ended without its trailer
        break;
      }
      got += r;
    }
    return got;
  }

  // The magic comes first and alone, so a wrong file is named as such even when it is short.
  void read_header(uint32_t want_magic, int ndims, const char* what, uint32_t* dims) {
    auto be32 = [](const unsigned char* p) {
      return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
    };
    const int64_t need = 4 + 4 * int64_t(ndims);
    unsigned char h[16];
    int64_t got = read(h, 4);
    if (got == 4 && be32(h) != want_magic)
      throw DataError(name() + ": expected IDX magic " + hex32(want_magic) + " (uint8, " + std::to_string(ndims) +
                      (ndims == 1 ? " dim" : " dims") + ") for " + what + ", found " + describe_magic(be32(h)));
    if (got == 4) got += read(h + 4, need - 4);
    if (got < need)
      throw DataError(name() + ": expected a " + std::to_string(need) + "-byte IDX header for " + what +
                      ", found " + std::to_string(got) + " bytes (truncated?)");
    for (int d = 0; d < ndims; ++d) dims[d] = be32(h + 4 + 4 * d);
  }

  void read_body(std::vector<uint8_t>& out, int64_t bytes, const std::string& what_for) {
    // In chunks, growing as data arrives: a header that claims more than the file holds must not
    // make us allocate the claimed size before a byte is read.
    // Chunks start at 1 MiB and double (the vector's own growth), so a small file costs little.
    out.clear();
    int64_t got = 0;
    while (got < bytes) {
      const int64_t want = std::min(std::max<int64_t>(int64_t(1) << 20, got), bytes - got);
      out.resize(size_t(got + want));
      const int64_t r = read(out.data() + got, want);
      got += r;
      if (r < want) break;
    }
    out.resize(size_t(got));
    if (got < bytes)
      throw DataError(name() + ": expected " + std::to_string(bytes) + " bytes of " + what_for + ", found " +
                      std::to_string(got) + " (truncated file?)");
    unsigned char extra;
    if (read(&extra, 1) != 0)
      throw DataError(name() + ": expected " + std::to_string(bytes) + " bytes of " + what_for +
                      ", found more (trailing data: does the header's count match the file?)");
    // zlib checks the gzip trailer (CRC-32 and length) when it reaches it; a stream cut before
    // it gives every byte back and only says so here.
    if (truncated_)
      throw DataError(name() + ": the gzip stream ends before its CRC-32 and length trailer, so the data cannot be "
                      "verified (truncated download?); fetch the file again");
  }

 private:
  std::string path_;
  gzFile gz_ = nullptr;
  bool gzip_ = false;
  bool truncated_ = false;  // the gzip stream ended early (zlib's Z_BUF_ERROR)
};

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  IdxFile f(path, "images");
  uint32_t d[3];
  f.read_header(0x00000803, 3, "images", d);
  IdxImages out;
  out.n = d[0];
  out.rows = d[1];
  out.cols = d[2];
  if (out.rows == 0 || out.cols == 0)
    throw DataError(f.name() + ": expected images of at least 1x1 pixels, found " + std::to_string(out.rows) + "x" +
                    std::to_string(out.cols));
  // n, rows, cols < 2^32 each: their product needs up to 96 bits, so check before multiplying.
  if ((unsigned __int128)out.n * out.rows * out.cols > ((unsigned __int128)1 << 40))
    throw DataError(f.name() + ": header claims " + std::to_string(out.n) + " images of " + std::to_string(out.rows) +
                    "x" + std::to_string(out.cols) + ", more than 1 TiB: corrupt header?");
  int64_t bytes = out.n * out.rows * out.cols;
  f.read_body(out.pixels, bytes,
              "pixels for " + std::to_string(out.n) + " images of " + std::to_string(out.rows) + "x" +
                  std::to_string(out.cols));
  return out;
}

IdxLabels read_idx_labels(const std::string& path) {
  IdxFile f(path, "labels");
  uint32_t d[1];
  f.read_header(0x00000801, 1, "labels", d);
  IdxLabels out;
  out.n = d[0];
  f.read_body(out.labels, out.n, "labels for " + std::to_string(out.n) + " images");
  return out;
}

}  // namespace rampart
