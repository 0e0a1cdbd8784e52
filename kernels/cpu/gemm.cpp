// sgemm on oneDNN's dnnl_sgemm (JIT AVX-512, threads on the OpenMP runtime).
//
// Why not OpenBLAS: measured on the 2-core CI machine (AMD EPYC family 26,
// OMP_NUM_THREADS=2, median of 30, the small-cnn linear shapes at batch 64):
//                              dnnl_sgemm    OpenBLAS 2 thr  OpenBLAS 1 thr  OpenMP split + OpenBLAS 1 thr
//   fc1 fwd   64x128x3136      160 us 322 GF/s   492 us 105    464 us 111      236 us 218
//   fc1 dx    64x3136x128      108 us 474 GF/s   235 us 219    445 us 116      232 us 222
//   fc1 dW   128x3136x64       111 us 462 GF/s   219 us 234    415 us 124      215 us 240
//   fc2 fwd   64x10x128        2.1 us            2.5 us          2.5 us          3.0 us
// (batch 128: 297/210/219 us for dnnl_sgemm against 456/443/440 us for OpenBLAS.)
// dnnl_sgemm is about twice as fast, shares the OpenMP pool with the
// convolutions (OpenBLAS's pthread pool would compete with it) and needs no
// per-call setup.
#include "kernels/cpu/gemm.h"

#include <stdexcept>
#include <string>

#include <oneapi/dnnl/dnnl.h>

namespace rampart::kernels::cpu {

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc) {
  if (m == 0 || n == 0) return;
  dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b,
                                ldb, beta, c, ldc);
  if (st != dnnl_success)
    throw std::runtime_error("dnnl_sgemm failed (status " + std::to_string(int(st)) + ") for m=" +
                             std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k));
}

}  // namespace rampart::kernels::cpu
