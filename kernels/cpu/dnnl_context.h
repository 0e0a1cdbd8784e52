// The one oneDNN CPU engine and stream that all of rampart's oneDNN primitives
// share (oneDNN runs its threads on the OpenMP runtime, like our own loops).
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

namespace rampart::kernels::cpu {

dnnl::engine& dnnl_engine();
dnnl::stream& dnnl_stream();

}  // namespace rampart::kernels::cpu
