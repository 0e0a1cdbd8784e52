// RAMPART_HD marks per-element math shared by the CPU kernels and the CUDA kernels.
#pragma once
#if defined(__CUDACC__)
#define RAMPART_HD __host__ __device__ __forceinline__
#else
#define RAMPART_HD inline
#endif
