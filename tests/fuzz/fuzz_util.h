// Shared by the libFuzzer targets: the input as a file (the readers take paths, as users give
// them), and the rule every target follows: a rampart::Error is the expected answer to bad input;
// any other exception, a crash, or a sanitizer report is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "runtime/errors.h"

namespace rampart::fuzz {

// The input, written to a file of this process (one per process: libFuzzer runs one input at a time).
inline std::string as_file(const uint8_t* data, size_t size, const char* suffix) {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/rampart-fuzz.XXXXXX";
    const char* d = mkdtemp(tmpl);
    if (!d) std::abort();
    return std::string(d);
  }();
  const std::string path = dir + "/input" + suffix;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

// Runs f; returns normally for success or a rampart::Error (with a message and a documented exit
// code); aborts (a finding) for any other exception.
template <class F>
void expect_clean_outcome(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    if (std::string(e.what()).empty()) {
      std::fprintf(stderr, "fuzz: a rampart::Error without a message\n");
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: an exception that is not a rampart::Error: %s\n", e.what());
    std::abort();
  }
}

}  // namespace rampart::fuzz
