// HDF5 wrapper: handles, type checks, groups and whole arrays (see h5.h; row reads and writes in
// h5_rows.cpp, attributes in h5_attrs.cpp, atomic writes in h5_atomic.cpp).
#include "runtime/io/h5.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "runtime/errors.h"
#include "runtime/io/h5_internal.h"

namespace rampart::h5 {
// Shared with the other h5_*.cpp files (h5_internal.h).

// The most specific message on HDF5's error stack, then clears it. HDF5's
// outer messages ("unable to open file") say less than the innermost one.
std::string hdf5_detail() {
  std::string out;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD,
           [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
             auto* s = static_cast<std::string*>(data);
             if (n == 0 && e->desc) *s = e->desc;
             return 0;
           },
           &out);
  H5Eclear2(H5E_DEFAULT);
  std::replace(out.begin(), out.end(), '\n', ' ');
  return out.empty() ? "" : " (HDF5: " + out + ")";
}

hid_t mem_type(DType t) {
  switch (t) {
    case DType::kFloat32: return H5T_NATIVE_FLOAT;
    case DType::kFloat64: return H5T_NATIVE_DOUBLE;
    case DType::kUInt8: return H5T_NATIVE_UINT8;
    case DType::kInt8: return H5T_NATIVE_INT8;
    case DType::kInt64: return H5T_NATIVE_INT64;
    default: throw std::logic_error("h5: no memory type for this dtype");
  }
}

namespace {

hid_t file_type(DType t) {
  switch (t) {
    case DType::kFloat32: return H5T_IEEE_F32LE;
    case DType::kFloat64: return H5T_IEEE_F64LE;
    case DType::kUInt8: return H5T_STD_U8LE;
    case DType::kInt8: return H5T_STD_I8LE;
    case DType::kInt64: return H5T_STD_I64LE;
    default: throw std::logic_error("h5: no file type for this dtype");
  }
}

}  // namespace

size_t elem_size(DType t) {
  switch (t) {
    case DType::kFloat32: return 4;
    case DType::kFloat64: return 8;
    case DType::kUInt8: return 1;
    case DType::kInt8: return 1;
    case DType::kInt64: return 8;
    default: return 0;
  }
}

// Names a stored type the way numpy would ("float32", "int32", "string").
std::string describe_type(hid_t t, DType* kind) {
  *kind = DType::kOther;
  H5T_class_t cls = H5Tget_class(t);
  size_t bits = H5Tget_size(t) * 8;
  switch (cls) {
    case H5T_FLOAT:
      if (bits == 32) *kind = DType::kFloat32;
      if (bits == 64) *kind = DType::kFloat64;
      return "float" + std::to_string(bits);
    case H5T_INTEGER: {
      bool is_signed = H5Tget_sign(t) == H5T_SGN_2;
      if (!is_signed && bits == 8) *kind = DType::kUInt8;
      if (is_signed && bits == 8) *kind = DType::kInt8;
      if (is_signed && bits == 64) *kind = DType::kInt64;
      return std::string(is_signed ? "int" : "uint") + std::to_string(bits);
    }
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_VLEN: return "variable-length";
    case H5T_ARRAY: return "array";
    default: return "an unsupported type";
  }
}

bool numeric_class(hid_t t) {
  H5T_class_t c = H5Tget_class(t);
  return c == H5T_INTEGER || c == H5T_FLOAT;
}

namespace {

// Compares names with runs of digits by value: "2.weight" < "10.weight".
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit((unsigned char)a[i]) && std::isdigit((unsigned char)b[j])) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && std::isdigit((unsigned char)a[i2])) ++i2;
      while (j2 < b.size() && std::isdigit((unsigned char)b[j2])) ++j2;
      std::string na = a.substr(i, i2 - i), nb = b.substr(j, j2 - j);
      na.erase(0, std::min(na.find_first_not_of('0'), na.size()));
      nb.erase(0, std::min(nb.find_first_not_of('0'), nb.size()));
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = i2; j = j2;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i; ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::string shape_or_scalar(const Shape& s) { return s.empty() ? "scalar" : shape_str(s); }

}  // namespace

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kUInt8: return "uint8";
    case DType::kInt8: return "int8";
    case DType::kInt64: return "int64";
    default: return "other";
  }
}

void quiet_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

// ---- Object ----------------------------------------------------------------

std::string Object::child_path(const std::string& name) const {
  if (!name.empty() && name[0] == '/') return name;
  return path_ == "/" ? "/" + name : path_ + "/" + name;
}

// ---- Dataset ---------------------------------------------------------------

Dataset::Dataset(Handle h, std::string file, std::string path, bool check_claim)
    : Object(std::move(h), std::move(file), std::move(path)) {
  Handle type(H5Dget_type(id()), H5Tclose);
  dtype_desc_ = describe_type(type.get(), &dtype_);
  Handle space(H5Dget_space(id()), H5Sclose);
  int nd = H5Sget_simple_extent_ndims(space.get());
  if (nd < 0) throw DataError(where() + ": cannot read the dataset's shape" + hdf5_detail());
  std::vector<hsize_t> dims(static_cast<size_t>(nd));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  if (check_claim) check_claimed_size(dims, H5Tget_size(type.get()));
  shape_.assign(dims.begin(), dims.end());
}

int64_t Dataset::row_elems() const {
  int64_t n = 1;
  for (size_t i = 1; i < shape_.size(); ++i) n *= shape_[i];
  return n;
}

void Dataset::require(DType type, int want_rank, const char* dims_hint) const {
  if (dtype_ == type && (want_rank < 0 || rank() == want_rank)) return;
  std::string expected = dtype_name(type);
  if (want_rank >= 0)
    expected += dims_hint ? std::string(" ") + dims_hint : " with " + std::to_string(want_rank) + " dims";
  throw DataError(where() + ": expected " + expected + ", found " + dtype_desc_ + " " +
                  shape_or_scalar(shape_));
}

std::string Dataset::read_failure() const {
  return checksummed() ? "its checksum does not match its data, or reading failed: the file is damaged; use an earlier "
                         "copy or re-create it"
                       : "reading failed (truncated or corrupt file?)";
}

void Dataset::read_raw(DType t, void* out, bool strict) const {
  quiet_errors();
  if (strict) require(t);
  Handle ftype(H5Dget_type(id()), H5Tclose);
  if (!numeric_class(ftype.get()))
    throw DataError(where() + ": expected numbers, found " + dtype_desc_);
  if (numel(shape_) == 0) return;
  if (H5Dread(id(), mem_type(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    throw DataError(where() + ": " + read_failure() + hdf5_detail());
}

// ---- Group -----------------------------------------------------------------

bool Group::exists(const std::string& name) const {
  quiet_errors();
  // H5Lexists fails when an intermediate group is missing, so walk the path.
  std::string prefix = name.size() && name[0] == '/' ? "/" : "";
  size_t pos = prefix.size();
  while (pos <= name.size()) {
    size_t slash = name.find('/', pos);
    if (slash == std::string::npos) slash = name.size();
    std::string part = name.substr(pos, slash - pos);
    if (!part.empty()) {
      prefix += (prefix.empty() || prefix.back() == '/' ? "" : "/") + part;
      if (H5Lexists(id(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    pos = slash + 1;
  }
  return H5Oexists_by_name(id(), name.c_str(), H5P_DEFAULT) > 0;
}

static H5I_type_t object_kind(hid_t loc, const std::string& name) {
  Handle o(H5Oopen(loc, name.c_str(), H5P_DEFAULT), H5Oclose);
  return o.valid() ? H5Iget_type(o.get()) : H5I_BADID;
}

bool Group::is_group(const std::string& name) const {
  return exists(name) && object_kind(id(), name) == H5I_GROUP;
}

bool Group::is_dataset(const std::string& name) const {
  return exists(name) && object_kind(id(), name) == H5I_DATASET;
}

std::vector<std::string> Group::members() const {
  quiet_errors();
  unsigned flags = 0;
  Handle gcpl(H5Gget_create_plist(id()), H5Pclose);
  if (gcpl.valid()) H5Pget_link_creation_order(gcpl.get(), &flags);
  bool by_creation = (flags & H5P_CRT_ORDER_TRACKED) && (flags & H5P_CRT_ORDER_INDEXED);
  std::vector<std::string> names;
  herr_t rc = H5Literate(
      id(), by_creation ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
      },
      &names);
  if (rc < 0) throw DataError(where() + ": cannot list the group's members" + hdf5_detail());
  if (!by_creation) std::sort(names.begin(), names.end(), natural_less);
  return names;
}

Group Group::group(const std::string& name) const {
  quiet_errors();
  std::string p = child_path(name);
  if (!exists(name)) throw DataError(file_ + ": missing group " + p);
  if (object_kind(id(), name) != H5I_GROUP) throw DataError(file_ + ": " + p + ": expected a group, found a dataset");
  hid_t g = H5Gopen2(id(), name.c_str(), H5P_DEFAULT);
  if (g < 0) throw DataError(file_ + ": cannot open group " + p + hdf5_detail());
  return Group(Handle(g, H5Gclose), file_, p);
}

Group Group::create_group(const std::string& name) {
  quiet_errors();
  std::string p = child_path(name);
  Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
  H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
  hid_t g = H5Gcreate2(id(), name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT);
  if (g < 0) throw IoError(file_ + ": cannot create group " + p + hdf5_detail());
  return Group(Handle(g, H5Gclose), file_, p);
}

Dataset Group::dataset(const std::string& name) const {
  quiet_errors();
  std::string p = child_path(name);
  if (!exists(name)) throw DataError(file_ + ": missing dataset " + p);
  if (object_kind(id(), name) != H5I_DATASET) throw DataError(file_ + ": " + p + ": expected a dataset, found a group");
  // A chunk cache large enough for a dataset read by rows in a shuffled order (kChecksumRows):
  // each chunk is read and its checksum verified once, then served from memory. HDF5 fills it
  // only with chunks actually read; contiguous arrays do not use it.
  Handle dapl(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  H5Pset_chunk_cache(dapl.get(), 12421, size_t(128) << 20, 0.75);
  hid_t d = H5Dopen2(id(), name.c_str(), dapl.get());
  if (d < 0) throw DataError(file_ + ": cannot open dataset " + p + " (truncated or corrupt?)" + hdf5_detail());
  return Dataset(Handle(d, H5Dclose), file_, p);
}

void Group::check_count(const std::string& name, const Shape& shape, int64_t count) const {
  if (numel(shape) != count)
    throw IoError(file_ + ": cannot write " + child_path(name) + ": shape " + shape_or_scalar(shape) + " needs " +
                  std::to_string(numel(shape)) + " values, found " + std::to_string(count));
}

Dataset Group::create_raw(const std::string& name, const Shape& shape, DType type, Integrity integrity) {
  quiet_errors();
  std::string p = child_path(name);
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(dims.size()), dims.data(), nullptr),
               H5Sclose);
  // Contiguous layout (the default): no chunk index to walk on row reads. A checksum needs
  // chunks: whole rows, at most 64 MiB a chunk (HDF5's limit is 4 GiB), one chunk for most arrays.
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  // No modification times in the object header: the same data gives the same bytes (two imports
  // of one dataset are identical files).
  H5Pset_obj_track_times(dcpl.get(), false);
  if (integrity != Integrity::kNone && !dims.empty() && numel(shape) > 0) {
    std::vector<hsize_t> chunk = dims;
    const int64_t row_bytes = numel(shape) / shape[0] * int64_t(elem_size(type));
    const int64_t chunk_bytes = integrity == Integrity::kChecksumRows ? int64_t(64) << 10 : int64_t(64) << 20;
    chunk[0] = hsize_t(std::clamp<int64_t>(chunk_bytes / std::max<int64_t>(1, row_bytes), 1, shape[0]));
    if (H5Pset_chunk(dcpl.get(), int(chunk.size()), chunk.data()) < 0 || H5Pset_fletcher32(dcpl.get()) < 0)
      throw IoError(file_ + ": cannot set up the checksum of " + p + hdf5_detail());
  }
  // Rows streamed in by write_rows may end a block inside a chunk: a chunk cache of a few MiB keeps
  // that chunk until the next block completes it, instead of writing and re-reading it.
  Handle dapl(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
  H5Pset_chunk_cache(dapl.get(), 521, size_t(8) << 20, 1.0);
  hid_t d = H5Dcreate2(id(), name.c_str(), file_type(type), space.get(), H5P_DEFAULT, dcpl.get(), dapl.get());
  if (d < 0) throw IoError(file_ + ": cannot create dataset " + p + hdf5_detail());
  return Dataset(Handle(d, H5Dclose), file_, p, /*check_claim=*/false);
}

Dataset Group::write_raw(const std::string& name, const Shape& shape, DType type, const void* data,
                         Integrity integrity) {
  Dataset d = create_raw(name, shape, type, integrity);
  if (numel(shape) > 0 && H5Dwrite(d.id(), mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    throw IoError(file_ + ": cannot write dataset " + d.path() + hdf5_detail());
  return d;
}

}  // namespace rampart::h5
