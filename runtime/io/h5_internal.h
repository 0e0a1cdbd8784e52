// What the h5_*.cpp files share and h5.h does not promise: HDF5's error detail, type checks and
// memory types.
#pragma once
#include <hdf5.h>

#include <string>

#include "runtime/io/h5.h"

namespace rampart::h5 {

// The most specific message on HDF5's error stack (": ..."), then clears the stack.
std::string hdf5_detail();
// "uint8", "float32", "string", ...; *kind gets the DType (kOther when unsupported).
std::string describe_type(hid_t t, DType* kind);
bool numeric_class(hid_t t);
// HDF5's native memory type and the bytes of one element (0 for kOther).
hid_t mem_type(DType t);
size_t elem_size(DType t);

}  // namespace rampart::h5
