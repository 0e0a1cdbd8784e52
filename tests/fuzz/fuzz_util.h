// Shared by the libFuzzer targets: the input as a file (the readers take paths, as users give
// them), and the rule every target follows: a rampart::Error is the expected answer to bad input;
// any other exception, a crash, or a sanitizer report is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <regex>
#include <sstream>
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

// The HDF5 readers run their first read in a child process (h5::read_isolated), which turns a
// crash there into a DataError. The child's sanitizer report goes to this file, so that a crash
// in rampart's own code is still a finding; only one whose innermost frame outside the sanitizer
// runtime and libc is inside libhdf5 (a bug of HDF5 1.10, which rampart contains) is accepted.
inline const std::string& child_report() {
  static const std::string path = [] {
    std::string p = as_file(nullptr, 0, ".child-report");
    setenv("RAMPART_H5_ISOLATE_STDERR", p.c_str(), 1);
    setenv("RAMPART_H5_ISOLATE_TIMEOUT", "1", 1);  // HDF5 loops on some corrupt global heaps: cut them short
    return p;
  }();
  return path;
}

inline bool crash_is_inside_hdf5(const std::string& report) {
  if (report.find("runtime error:") != std::string::npos) return false;  // UBSan: only rampart is instrumented
  static const std::regex frame(R"(^\s*#\d+ 0x[0-9a-f]+ (.*)$)");
  std::istringstream lines(report);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, frame)) continue;
    const std::string where = m[1];
    for (const char* skip : {"libclang_rt", "asan_", "__asan::", "__sanitizer::", "sanitizer_common", "__interceptor", "libgcc_s",
                             "libc.so", "sysdeps/", "in __mem", "in __str",  // libc, symbolized or not
                             // the allocator (ASan's): the caller asked for the size
                             "in malloc ", "in calloc ", "in realloc ", "in free ", "in strdup ", "in posix_memalign "})
      if (where.find(skip) != std::string::npos) goto next;
    return where.find("libhdf5") != std::string::npos;
  next:;
  }
  return false;  // no frame at all: a report we cannot attribute
}

// expect_clean_outcome for readers that go through h5::read_isolated.
template <class F>
void expect_clean_isolated_outcome(F&& f) {
  const std::string& report_path = child_report();
  std::ofstream(report_path, std::ios::trunc).close();
  expect_clean_outcome(f);
  std::ifstream in(report_path);
  const std::string report((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (report.find("ERROR:") == std::string::npos && report.find("runtime error:") == std::string::npos) return;
  if (crash_is_inside_hdf5(report)) return;
  std::fprintf(stderr, "fuzz: the isolated reader crashed in rampart's code:\n%s\n", report.c_str());
  std::abort();
}

}  // namespace rampart::fuzz
