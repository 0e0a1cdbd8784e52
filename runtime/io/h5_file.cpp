// h5::File (see h5.h): opening with a clear message for what is not an HDF5 file, creating,
// flushing and closing with every failure reported.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "runtime/errors.h"
#include "runtime/io/h5.h"
#include "runtime/io/h5_internal.h"

namespace rampart::h5 {

File::File(Handle h, std::string path) : h_(std::move(h)), path_(std::move(path)), root_([&] {
  hid_t g = H5Gopen2(h_.get(), "/", H5P_DEFAULT);
  if (g < 0) throw DataError(path_ + " is not a valid HDF5 file (truncated or corrupt?)" + hdf5_detail());
  return Group(Handle(g, H5Gclose), path_, "/");
}()) {}

File File::open(const std::string& path, bool writable) {
  quiet_errors();
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    throw MissingInput(path + ": no such file (expected an HDF5 file)");
  if (S_ISDIR(st.st_mode)) throw MissingInput(path + " is a directory, expected an HDF5 file");
  if (::access(path.c_str(), writable ? R_OK | W_OK : R_OK) != 0)
    throw MissingInput(path + ": cannot open: " + std::strerror(errno));
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw DataError(path + " is not a valid HDF5 file (truncated or corrupt?): no HDF5 signature found in " +
                    std::to_string(st.st_size) + " bytes");
  }
  hid_t f = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) throw DataError(path + " is not a valid HDF5 file (truncated or corrupt?)" + hdf5_detail());
  return File(Handle(f, H5Fclose), path);
}

File File::create(const std::string& path) {
  quiet_errors();
  // open(2) first: its errno says plainly why (no such directory, permission).
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw IoError("cannot create " + path + ": " + std::strerror(errno));
  ::close(fd);
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  H5Pset_link_creation_order(fcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  // Strong close: H5Fclose closes objects still open, so the file is complete when it returns.
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get());
  if (f < 0) throw IoError("cannot create HDF5 file " + path + hdf5_detail());
  return File(Handle(f, H5Fclose), path);
}

void File::flush() {
  if (H5Fflush(h_.get(), H5F_SCOPE_GLOBAL) < 0) throw IoError(path_ + ": flushing to disk failed" + hdf5_detail());
}

void File::close() {
  root_ = Group();
  hid_t f = h_.release();
  if (f < 0) return;
  if (H5Fclose(f) < 0) throw IoError(path_ + ": closing failed (disk full?)" + hdf5_detail());
}

}  // namespace rampart::h5
