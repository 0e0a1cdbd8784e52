// Error checks for CUDA, cuDNN, cuBLAS and NCCL calls: a failing call throws
// std::runtime_error naming the file, the line, the call and the library's message.
// Only CUDA_CHECK needs its header here; the others expand where cudnn.h,
// cublas_v2.h or nccl.h is already included.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace rampart::cuda {

[[noreturn]] inline void throw_call_failed(const char* lib, const char* call, long code,
                                           const char* message, const char* file, int line) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + call +
                           " failed with " + lib + " error " + std::to_string(code) + " (" +
                           (message ? message : "no message") + ")");
}

}  // namespace rampart::cuda

#define RAMPART_CALL_CHECK_(lib, call, ok, to_string)                                         \
  do {                                                                                        \
    auto rampart_status_ = (call);                                                            \
    if (rampart_status_ != (ok))                                                              \
      ::rampart::cuda::throw_call_failed(lib, #call, long(rampart_status_),                   \
                                         to_string(rampart_status_), __FILE__, __LINE__);    \
  } while (0)

#define CUDA_CHECK(call) RAMPART_CALL_CHECK_("CUDA", call, cudaSuccess, cudaGetErrorString)
#define CUDNN_CHECK(call) RAMPART_CALL_CHECK_("cuDNN", call, CUDNN_STATUS_SUCCESS, cudnnGetErrorString)
#define CUBLAS_CHECK(call) RAMPART_CALL_CHECK_("cuBLAS", call, CUBLAS_STATUS_SUCCESS, cublasGetStatusString)
#define NCCL_CHECK(call) RAMPART_CALL_CHECK_("NCCL", call, ncclSuccess, ncclGetErrorString)

// After a kernel launch: reports a bad configuration (grid too large, too much
// shared memory) at the launch instead of at the next unrelated call.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
