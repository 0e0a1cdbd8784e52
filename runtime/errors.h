// Errors that carry the exit code of ../shared/DESIGN.md (sysexits.h).
// Library code throws these; launch/main.cpp turns them into a message and an exit code.
#pragma once
#include <stdexcept>
#include <string>

namespace rampart {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,
  kExitUsage = 64,      // EX_USAGE: bad command line
  kExitDataErr = 65,    // EX_DATAERR: input data is malformed
  kExitNoInput = 66,    // EX_NOINPUT: an input file is missing or unreadable
  kExitIoErr = 74,      // EX_IOERR: reading or writing failed
  kExitTempFail = 75,   // EX_TEMPFAIL: stopped by a signal after a good checkpoint
  kExitConfig = 78,     // EX_CONFIG: invalid configuration value
};

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& what) : std::runtime_error(what), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

struct UsageError : Error { explicit UsageError(const std::string& w) : Error(kExitUsage, w) {} };
struct DataError : Error { explicit DataError(const std::string& w) : Error(kExitDataErr, w) {} };
struct MissingInput : Error { explicit MissingInput(const std::string& w) : Error(kExitNoInput, w) {} };
struct IoError : Error { explicit IoError(const std::string& w) : Error(kExitIoErr, w) {} };
struct ConfigError : Error { explicit ConfigError(const std::string& w) : Error(kExitConfig, w) {} };
// Thrown after a checkpoint was written because a signal asked the job to stop.
struct Interrupted : Error { explicit Interrupted(const std::string& w) : Error(kExitTempFail, w) {} };

// Throws the class above that carries `code` (a message that crossed a process boundary).
[[noreturn]] inline void throw_error(ExitCode code, const std::string& what) {
  switch (code) {
    case kExitUsage: throw UsageError(what);
    case kExitDataErr: throw DataError(what);
    case kExitNoInput: throw MissingInput(what);
    case kExitIoErr: throw IoError(what);
    case kExitTempFail: throw Interrupted(what);
    case kExitConfig: throw ConfigError(what);
    default: throw Error(code, what);
  }
}

}  // namespace rampart
