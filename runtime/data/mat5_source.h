// The byte sources of the MAT-file reader (mat5.h): one element's bytes, read from a plain range
// of the file or through a zlib inflater over an miCOMPRESSED element. Internal to mat5.cpp.
#pragma once
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace rampart::mat5 {

// The bytes of one element: read() gives fewer than asked only at its end.
class Source {
 public:
  virtual ~Source() = default;
  virtual int64_t read(void* dst, int64_t n) = 0;
  // Called after a variable was read to its end: checks what can only be checked then.
  virtual void finish() {}
  int64_t pos = 0;  // bytes read so far, for the 8-byte padding of sub-elements
};

// `bytes` bytes from the file's current position.
class FileRange : public Source {
 public:
  FileRange(std::FILE* fp, int64_t bytes) : fp_(fp), left_(bytes) {}
  int64_t read(void* dst, int64_t n) override;

 private:
  std::FILE* fp_;
  int64_t left_;
};

// The zlib stream in the `bytes` bytes from the file's current position, inflated; `where`
// names the element in messages. DataError for corrupt data; finish() checks the stream's end
// (and so its Adler-32 checksum).
class Inflater : public Source {
 public:
  Inflater(std::FILE* fp, int64_t bytes, std::string where);
  ~Inflater() override;
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  int64_t read(void* dst, int64_t n) override;
  void finish() override;

 private:
  std::FILE* fp_;
  int64_t left_;
  std::string where_;
  z_stream z_;
  bool ended_ = false;
  uint8_t in_[1 << 16];
};

}  // namespace rampart::mat5
