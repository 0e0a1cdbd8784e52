// What an HDF5 array promises about itself, checked before it is trusted (see h5.h): its
// Fletcher-32 checksum, and whether the file can hold the shape it claims.
#include <sys/stat.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "runtime/errors.h"
#include "runtime/io/h5.h"

namespace rampart::h5 {
namespace {

std::vector<H5Z_filter_t> filters_of(hid_t dataset) {
  Handle dcpl(H5Dget_create_plist(dataset), H5Pclose);
  std::vector<H5Z_filter_t> out;
  for (int i = 0, n = H5Pget_nfilters(dcpl.get()); i < n; ++i) {
    unsigned flags = 0, config = 0;
    size_t nelem = 0;
    out.push_back(H5Pget_filter2(dcpl.get(), unsigned(i), &flags, &nelem, nullptr, 0, nullptr, &config));
  }
  return out;
}

}  // namespace

bool Dataset::checksummed() const {
  for (H5Z_filter_t f : filters_of(id()))
    if (f == H5Z_FILTER_FLETCHER32) return true;
  return false;
}

// A shape is a claim until the data is read: check it against what the file can hold before
// anyone allocates it. Uncompressed data (contiguous, or chunked with only a checksum) is stored
// in full; deflate compresses at most 1032:1. No dimension may overflow int64 either.
void Dataset::check_claimed_size(const std::vector<hsize_t>& dims, size_t elem_bytes) const {
  struct stat st;
  if (::stat(file_.c_str(), &st) != 0 || st.st_size <= 0) return;
  long double bytes = elem_bytes;
  for (hsize_t d : dims) bytes = d > hsize_t(INT64_MAX) ? INFINITY : bytes * (long double)d;
  bool compressed = false;
  for (H5Z_filter_t f : filters_of(id())) compressed |= f != H5Z_FILTER_FLETCHER32;
  const long double can_hold = (long double)st.st_size * (compressed ? 1032 : 1) + 4096;
  if (bytes <= can_hold) return;
  std::string shape = "[";
  for (size_t i = 0; i < dims.size(); ++i) shape += (i ? ", " : "") + std::to_string(dims[i]);
  char size[32];
  std::snprintf(size, sizeof size, "%.3g", double(bytes));
  throw DataError(where() + ": claims shape " + shape + "] (" + size + " bytes), more than the " +
                  std::to_string(st.st_size) + "-byte file can hold: the file is corrupt");
}

}  // namespace rampart::h5
