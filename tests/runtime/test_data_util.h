// Helpers for the data, HDF5 and checkpoint tests: temporary folders, IDX writers,
// and checks that an error carries the right exit code and says what it should.
#pragma once
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "runtime/errors.h"

namespace rampart::testing {

// A fresh folder under $TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rampart-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { std::error_code ec; std::filesystem::remove_all(path_, ec); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }
  std::vector<std::string> files() const { return list(path_); }
  // The names in any folder, sorted.
  static std::vector<std::string> list(const std::string& dir) {
    std::vector<std::string> out;
    for (auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::string path_;
};

inline void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_TRUE(f);
    ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
    gzclose(f);
  } else {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_TRUE(f);
    ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
    std::fclose(f);
  }
}

// An IDX file: big-endian magic and dims, then the payload (which may be short on purpose).
inline std::vector<unsigned char> idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims,
                                            const std::vector<unsigned char>& payload) {
  std::vector<unsigned char> b;
  auto put = [&](uint32_t v) { for (int s = 24; s >= 0; s -= 8) b.push_back((unsigned char)(v >> s)); };
  put(magic);
  for (uint32_t d : dims) put(d);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

inline void truncate_file(const std::string& path, double keep_fraction) {
  auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, uintmax_t(double(size) * keep_fraction));
}

// Runs f; requires a rampart::Error with the given exit code whose message holds every fragment.
inline void expect_error(const std::function<void()>& f, ExitCode code, const std::vector<std::string>& fragments) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << "message: " << e.what();
    std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "message is not one line: " << msg;
    for (const auto& s : fragments) EXPECT_NE(msg.find(s), std::string::npos) << "'" << s << "' not in: " << msg;
    return;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected rampart::Error with code " << int(code) << ", got std::exception: " << e.what();
    return;
  }
  ADD_FAILURE() << "expected rampart::Error with code " << int(code) << ", nothing was thrown";
}

}  // namespace rampart::testing
