// Row-major single-precision matrix product for the linear layer:
//   c[m, n] = alpha * op(a)[m, k] * op(b)[k, n] + beta * c[m, n],
// op(a) = a^T when trans_a (then a is stored [k, m]), likewise for b.
#pragma once

namespace rampart::kernels::cpu {

void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
           const float* b, int ldb, float beta, float* c, int ldc);

}  // namespace rampart::kernels::cpu
