// A tiny check macro for the multi-rank test programs: a failed check prints
// the rank and line and ends the whole job (so no rank is left waiting), exit 1.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "cluster/comm/communicator.h"

namespace rampart::mpitest {

inline Communicator* g_comm = nullptr;
inline int g_checks = 0;

[[noreturn]] inline void fail(const char* file, int line, const char* expr, const std::string& detail) {
  std::fprintf(stderr, "FAILED on rank %d at %s:%d: %s %s\n", g_comm ? g_comm->rank() : -1, file, line, expr,
               detail.c_str());
  std::fflush(stderr);
  if (g_comm && g_comm->size() > 1) g_comm->abort(1);
  std::exit(1);
}

}  // namespace rampart::mpitest

#define MPI_CHECK(cond, detail)                                                               \
  do {                                                                                        \
    ++::rampart::mpitest::g_checks;                                                           \
    if (!(cond)) {                                                                            \
      std::ostringstream os_;                                                                 \
      os_ << detail;                                                                          \
      ::rampart::mpitest::fail(__FILE__, __LINE__, #cond, os_.str());                         \
    }                                                                                         \
  } while (0)
