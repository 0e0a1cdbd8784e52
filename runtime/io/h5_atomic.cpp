// Atomic HDF5 writes: a temporary file in the same folder, flushed, fsynced,
// then renamed over the real name, so a crash never leaves a half-written file.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "runtime/errors.h"
#include "runtime/io/h5.h"

namespace rampart::h5 {

namespace {
void fsync_path(const std::string& p, bool directory) {
  int fd = ::open(p.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) throw IoError("cannot open " + p + " to sync it: " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0 && !(directory && err == EINVAL)) throw IoError("fsync " + p + " failed: " + std::strerror(err));
}
// The rename replaces whatever is at `path`: only a regular file (or a symlink to one) may be
// replaced, never a FIFO, a device or a directory someone named by mistake.
void require_regular_or_absent(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;  // absent (or a dangling link): created afresh
  if (S_ISREG(st.st_mode)) return;
  const char* kind = S_ISDIR(st.st_mode)    ? "a directory"
                     : S_ISFIFO(st.st_mode) ? "a FIFO"
                     : S_ISCHR(st.st_mode)  ? "a character device"
                     : S_ISBLK(st.st_mode)  ? "a block device"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                                            : "not a regular file";
  throw IoError("cannot write " + path + ": expected a regular file (or no file) to replace, found " + kind +
                "; choose another output path");
}
}  // namespace

void write_atomically(const std::string& path, const std::function<void(File&)>& fill) {
  require_regular_or_absent(path);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    {
      File f = File::create(tmp);
      fill(f);
      f.flush();
      f.close();
    }
    fsync_path(tmp, false);
    require_regular_or_absent(path);  // again: it may have appeared while the file was filled
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      throw IoError("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
    size_t slash = path.find_last_of('/');
    fsync_path(slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash)), true);
  } catch (const Error&) {
    ::unlink(tmp.c_str());
    throw;
  } catch (const std::exception& e) {
    ::unlink(tmp.c_str());
    throw IoError("writing " + path + " failed: " + e.what());
  }
}

}  // namespace rampart::h5
