// HDF5 attributes of any object (see h5.h): strings of both kinds, integers, floats.
#include <cstdint>
#include <string>

#include "runtime/errors.h"
#include "runtime/io/h5.h"
#include "runtime/io/h5_internal.h"

namespace rampart::h5 {
namespace {

Handle open_attr(const Object& o, const std::string& name) {
  quiet_errors();
  if (H5Aexists(o.id(), name.c_str()) <= 0)
    throw DataError(o.where() + ": missing attribute '" + name + "'");
  hid_t a = H5Aopen(o.id(), name.c_str(), H5P_DEFAULT);
  if (a < 0) throw DataError(o.where() + ": cannot open attribute '" + name + "'" + hdf5_detail());
  return Handle(a, H5Aclose);
}

// A numeric attribute must hold exactly one value.
void require_single(const Object& o, const std::string& name, hid_t attr) {
  Handle space(H5Aget_space(attr), H5Sclose);
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n != 1)
    throw DataError(o.where() + ": attribute '" + name + "': expected a single value, found " +
                    std::to_string(n));
}

void create_attr(Object& o, const std::string& name, hid_t type, const void* value) {
  quiet_errors();
  if (H5Aexists(o.id(), name.c_str()) > 0 && H5Adelete(o.id(), name.c_str()) < 0)
    throw IoError(o.where() + ": cannot replace attribute '" + name + "'" + hdf5_detail());
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(H5Acreate2(o.id(), name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!a.valid() || H5Awrite(a.get(), type, value) < 0)
    throw IoError(o.where() + ": cannot write attribute '" + name + "'" + hdf5_detail());
}

}  // namespace

bool Object::has_attr(const std::string& name) const {
  quiet_errors();
  return H5Aexists(id(), name.c_str()) > 0;
}

std::string Object::attr_string(const std::string& name) const {
  Handle a = open_attr(*this, name);
  Handle ftype(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(ftype.get()) != H5T_STRING) {
    DType k;
    throw DataError(where() + ": attribute '" + name + "': expected a string, found " +
                    describe_type(ftype.get(), &k));
  }
  Handle space(H5Aget_space(a.get()), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) != 1)
    throw DataError(where() + ": attribute '" + name + "': expected one string, found an array");
  std::string out;
  if (H5Tis_variable_str(ftype.get()) > 0) {
    Handle mtype(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mtype.get(), H5T_VARIABLE);
    H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get()));
    char* buf = nullptr;
    if (H5Aread(a.get(), mtype.get(), &buf) < 0)
      throw DataError(where() + ": cannot read string attribute '" + name + "'" + hdf5_detail());
    if (buf) out = buf;
    H5free_memory(buf);
  } else {
    size_t n = H5Tget_size(ftype.get());
    std::vector<char> buf(n + 1, '\0');
    if (H5Aread(a.get(), ftype.get(), buf.data()) < 0)
      throw DataError(where() + ": cannot read string attribute '" + name + "'" + hdf5_detail());
    out.assign(buf.data(), strnlen(buf.data(), n));
    if (H5Tget_strpad(ftype.get()) == H5T_STR_SPACEPAD)
      out.erase(out.find_last_not_of(' ') + 1);
  }
  return out;
}

int64_t Object::attr_int(const std::string& name) const {
  Handle a = open_attr(*this, name);
  Handle ftype(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(ftype.get()) != H5T_INTEGER) {
    DType k;
    throw DataError(where() + ": attribute '" + name + "': expected an integer, found " +
                    describe_type(ftype.get(), &k));
  }
  require_single(*this, name, a.get());
  int64_t v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_INT64, &v) < 0)
    throw DataError(where() + ": cannot read attribute '" + name + "'" + hdf5_detail());
  return v;
}

double Object::attr_double(const std::string& name) const {
  Handle a = open_attr(*this, name);
  Handle ftype(H5Aget_type(a.get()), H5Tclose);
  if (!numeric_class(ftype.get())) {
    DType k;
    throw DataError(where() + ": attribute '" + name + "': expected a number, found " +
                    describe_type(ftype.get(), &k));
  }
  require_single(*this, name, a.get());
  double v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) < 0)
    throw DataError(where() + ": cannot read attribute '" + name + "'" + hdf5_detail());
  return v;
}

void Object::set_attr(const std::string& name, const std::string& value) {
  // Variable-length UTF-8, as h5py writes str: no size limit from the object header.
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  const char* p = value.c_str();
  create_attr(*this, name, type.get(), &p);
}

void Object::set_attr(const std::string& name, int64_t value) {
  create_attr(*this, name, H5T_NATIVE_INT64, &value);
}

void Object::set_attr(const std::string& name, double value) {
  create_attr(*this, name, H5T_NATIVE_DOUBLE, &value);
}

}  // namespace rampart::h5
