// Byte sources of the MAT-file reader (see mat5_source.h).
#include "runtime/data/mat5_source.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "runtime/errors.h"

namespace rampart::mat5 {

int64_t FileRange::read(void* dst, int64_t n) {
  const size_t want = size_t(std::min(n, left_));
  const size_t got = want ? std::fread(dst, 1, want, fp_) : 0;
  left_ -= int64_t(got);
  pos += int64_t(got);
  return int64_t(got);
}

Inflater::Inflater(std::FILE* fp, int64_t bytes, std::string where) : fp_(fp), left_(bytes), where_(std::move(where)) {
  std::memset(&z_, 0, sizeof z_);
  if (inflateInit(&z_) != Z_OK) throw std::bad_alloc();
}

Inflater::~Inflater() { inflateEnd(&z_); }

int64_t Inflater::read(void* dst, int64_t n) {
  auto* out = static_cast<uint8_t*>(dst);
  int64_t got = 0;
  while (got < n && !ended_) {
    if (z_.avail_in == 0) {
      if (left_ == 0) break;  // the element ends before the zlib stream does
      const size_t want = size_t(std::min<int64_t>(left_, sizeof in_));
      const size_t r = std::fread(in_, 1, want, fp_);
      if (r == 0) break;
      left_ -= int64_t(r);
      z_.next_in = in_;
      z_.avail_in = unsigned(r);
    }
    const unsigned chunk = unsigned(std::min<int64_t>(n - got, 1 << 30));
    z_.next_out = out + got;
    z_.avail_out = chunk;
    const int rc = inflate(&z_, Z_NO_FLUSH);
    got += chunk - z_.avail_out;
    if (rc == Z_STREAM_END) ended_ = true;
    else if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR || rc == Z_MEM_ERROR)
      throw DataError(where_ + ": corrupt compressed data (zlib: " + (z_.msg ? z_.msg : "error " + std::to_string(rc)) +
                      "); the file is damaged: download it again");
  }
  pos += got;
  return got;
}

// The zlib stream's Adler-32 checksum is checked when its end is reached: read on to it.
void Inflater::finish() {
  uint8_t scratch[4096];
  while (!ended_ && read(scratch, sizeof scratch) > 0) {}
  if (!ended_)
    throw DataError(where_ + ": the compressed element ends before its zlib stream does, so its checksum cannot be "
                    "verified (truncated file?); download it again");
}

}  // namespace rampart::mat5
