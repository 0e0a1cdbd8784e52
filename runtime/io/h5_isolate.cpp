// h5::read_isolated (see h5.h): the first read of an untrusted file runs in a forked child, so
// that a crash or a hang inside the HDF5 library is a clear 65 instead of the process dying.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "runtime/errors.h"
#include "runtime/io/h5.h"

// Present only in sanitizer builds (weak: null otherwise). The child drops the parent's death
// callback: under libFuzzer it would save the parent's input as a crash of the fuzz target.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace rampart::h5 {
namespace {

bool g_in_child = false;  // set in the child: nested read_isolated calls run nothing

// Reading a file of up to 1 GiB (the isolated readers cap what they read) finishes in seconds;
// minutes mean HDF5 is looping on corrupt metadata or the file system has stalled.
// RAMPART_H5_ISOLATE_TIMEOUT (seconds) changes it; the fuzz targets use a few seconds.
int child_seconds() {
  const char* v = std::getenv("RAMPART_H5_ISOLATE_TIMEOUT");
  const int s = v ? std::atoi(v) : 0;
  return s > 0 ? s : 300;
}

bool isolation_enabled() {
  const char* v = std::getenv("RAMPART_H5_ISOLATE");
  return !(v && std::string(v) == "0");
}

[[noreturn]] void child_exit(int fd, int code, const char* message) {
  if (message) {
    size_t left = std::strlen(message);
    while (left > 0) {
      ssize_t w = ::write(fd, message, left);
      if (w <= 0) break;
      message += w;
      left -= size_t(w);
    }
  }
  // Straight to the kernel: no atexit handlers, no stdio flush of the parent's buffers, and no
  // sanitizer exit hooks (LeakSanitizer would scan the whole copied heap and change the code).
  ::syscall(SYS_exit_group, code);
  ::_exit(code);
}

bool is_rampart_code(int code) {
  switch (code) {
    case kExitUsage: case kExitDataErr: case kExitNoInput: case kExitIoErr: case kExitTempFail: case kExitConfig:
      return true;
    default:
      return false;
  }
}

}  // namespace

void read_isolated(const std::string& file, const std::function<void()>& read) {
  if (g_in_child) return;
  if (!isolation_enabled()) return;
  const int limit_s = child_seconds();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw IoError("cannot check " + file + ": pipe: " + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw IoError("cannot check " + file + ": fork: " + std::strerror(errno));
  }
  if (pid == 0) {
    g_in_child = true;
    ::close(fds[0]);
    if (&__sanitizer_set_death_callback) __sanitizer_set_death_callback(nullptr);
    // Never outlive the parent, and never loop for ever: killed with the parent, and past the
    // deadline's CPU time (a loop in HDF5 spins).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() == 1) child_exit(fds[1], kExitFailure, nullptr);
    const rlimit cpu{rlim_t(limit_s + 1), rlim_t(limit_s + 2)};
    ::setrlimit(RLIMIT_CPU, &cpu);
    // A crash report here would only repeat what the parent says, unless asked for (the fuzz
    // targets read it to tell a crash inside HDF5 from one in rampart's own code).
    const char* report = std::getenv("RAMPART_H5_ISOLATE_STDERR");
    int err = report && *report ? ::open(report, O_WRONLY | O_CREAT | O_APPEND, 0644) : ::open("/dev/null", O_WRONLY);
    if (err >= 0) ::dup2(err, STDERR_FILENO);
    try {
      read();
      child_exit(fds[1], 0, nullptr);
    } catch (const Error& e) {
      child_exit(fds[1], e.code(), e.what());
    } catch (const std::exception& e) {
      child_exit(fds[1], kExitFailure, e.what());
    } catch (...) {
      child_exit(fds[1], kExitFailure, "unknown exception");
    }
  }
  ::close(fds[1]);

  // The child's message, until it exits (end of file on the pipe) or the deadline passes.
  std::string message;
  bool hung = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(limit_s);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) { hung = true; break; }
    pollfd p{fds[0], POLLIN, 0};
    int r = ::poll(&p, 1, int(std::min<int64_t>(left.count(), 1000)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    message.append(buf, size_t(n));
  }
  ::close(fds[0]);
  if (hung) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}

  if (hung || (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU))
    throw DataError(file + ": reading it did not finish in " + std::to_string(limit_s) +
                    " s (HDF5 looping on corrupt metadata, or a stalled file system); check the file, re-create it");
  if (WIFSIGNALED(status))
    throw DataError(file + ": the HDF5 library crashed reading it (" + strsignal(WTERMSIG(status)) +
                    "): the file is corrupt; re-create it (rampart data import, or an earlier checkpoint)");
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : kExitFailure;
  if (code == 0) return;
  if (is_rampart_code(code) && !message.empty()) throw_error(ExitCode(code), message);
  throw DataError(file + ": reading it failed (exit " + std::to_string(code) + ")" +
                  (message.empty() ? std::string(": the file is corrupt; re-create it") : ": " + message));
}

}  // namespace rampart::h5
