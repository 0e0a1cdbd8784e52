// Row-wise I/O of datasets (see h5.h): hyperslab reads of row ranges and row lists, streamed
// row writes, and the chunking a streaming writer aligns to.
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/errors.h"
#include "runtime/io/h5.h"
#include "runtime/io/h5_internal.h"

namespace rampart::h5 {

int64_t Dataset::chunk_rows() const {
  if (shape_.empty()) return 0;
  Handle dcpl(H5Dget_create_plist(id()), H5Pclose);
  if (!dcpl.valid() || H5Pget_layout(dcpl.get()) != H5D_CHUNKED) return shape_[0];
  std::vector<hsize_t> chunk(shape_.size());
  if (H5Pget_chunk(dcpl.get(), int(chunk.size()), chunk.data()) < 1) return shape_[0];
  return int64_t(chunk[0]);
}

void Dataset::check_row_range(int64_t begin, int64_t end) const {
  if (begin < 0 || end < begin || end > shape_[0])
    throw std::out_of_range(where() + ": rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                            ") outside [0, " + std::to_string(shape_[0]) + ")");
}

Dataset::RowSlab Dataset::select_rows(int64_t begin, int64_t end) const {
  std::vector<hsize_t> start(shape_.size(), 0), count(shape_.begin(), shape_.end());
  start[0] = hsize_t(begin);
  count[0] = hsize_t(end - begin);
  RowSlab slab{Handle(H5Dget_space(id()), H5Sclose),
               Handle(H5Screate_simple(int(count.size()), count.data(), nullptr), H5Sclose), false};
  slab.selected =
      H5Sselect_hyperslab(slab.file.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) >= 0;
  return slab;
}

void Dataset::read_range_raw(DType t, int64_t begin, int64_t end, void* out) const {
  quiet_errors();
  require(t);
  if (rank() < 1) throw DataError(where() + ": expected at least 1 dim for row reads, found a scalar");
  check_row_range(begin, end);
  if (begin == end || row_elems() == 0) return;
  RowSlab slab = select_rows(begin, end);
  if (!slab.selected || H5Dread(id(), mem_type(t), slab.mem.get(), slab.file.get(), H5P_DEFAULT, out) < 0)
    throw DataError(where() + ": rows [" + std::to_string(begin) + ", " + std::to_string(end) + "): " +
                    read_failure() + hdf5_detail());
}

void Dataset::read_list_raw(DType t, const std::vector<int64_t>& rows, void* out) const {
  require(t);
  if (rank() < 1) throw DataError(where() + ": expected at least 1 dim for row reads, found a scalar");
  const size_t row_bytes = size_t(row_elems()) * elem_size(t);
  auto* dst = static_cast<unsigned char*>(out);
  // Runs of consecutive indices (in the order given) become one hyperslab read each.
  size_t i = 0;
  while (i < rows.size()) {
    size_t j = i + 1;
    while (j < rows.size() && rows[j] == rows[j - 1] + 1) ++j;
    read_range_raw(t, rows[i], rows[j - 1] + 1, dst + i * row_bytes);
    i = j;
  }
}

void Dataset::write_range_raw(DType t, int64_t begin, int64_t end, const void* data) {
  quiet_errors();
  if (t != dtype_)
    throw IoError(where() + ": cannot write " + dtype_name(t) + " rows into an array of " + dtype_desc_);
  if (rank() < 1) throw IoError(where() + ": expected at least 1 dim for row writes, found a scalar");
  check_row_range(begin, end);
  if (begin == end || row_elems() == 0) return;
  RowSlab slab = select_rows(begin, end);
  if (!slab.selected || H5Dwrite(id(), mem_type(t), slab.mem.get(), slab.file.get(), H5P_DEFAULT, data) < 0)
    throw IoError(where() + ": cannot write rows [" + std::to_string(begin) + ", " + std::to_string(end) + ")" +
                  hdf5_detail());
}

}  // namespace rampart::h5
