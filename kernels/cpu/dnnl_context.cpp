// The global oneDNN engine and stream (created on first use, thread-safely).
#include "kernels/cpu/dnnl_context.h"

namespace rampart::kernels::cpu {

dnnl::engine& dnnl_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& dnnl_stream() {
  static dnnl::stream stream(dnnl_engine());
  return stream;
}

}  // namespace rampart::kernels::cpu
