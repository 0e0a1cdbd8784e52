// What the h5_*.cpp files share and h5.h does not promise: HDF5's error detail and type checks.
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

}  // namespace rampart::h5
