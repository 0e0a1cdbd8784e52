// Deterministic column sums over a row-major [rows, cols] array, spread over the
// whole GPU (review C1: one block per 32 columns left most SMs idle). Internal to
// kernels/cuda: included by .cu files only.
//
// Stage 1: a 2-D grid (32-column tiles x row chunks); a block of 32 columns x 8 row
// lanes sums its chunk, lane by lane and then the 8 lanes in order, into one
// partial per (chunk, column). Stage 2: one block per column adds the partials in a
// fixed tree. The split depends only on (rows, cols), never on the device, so the
// same shape gives the same bits on every GPU and every run.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/check.h"

namespace rampart::cuda::detail {

struct ColumnSplit {
  int tiles = 1;               // ceil(cols / 32)
  int chunks = 1;              // row chunks
  int64_t rows_per_chunk = 0;  // the last chunk may be shorter
};

// About 1024 stage-1 blocks (an H100/H200 holds ~8 of them on each of its 132 SMs),
// and at least 64 rows per chunk so that each block has work worth its launch.
inline ColumnSplit column_split(int64_t rows, int cols) {
  constexpr int64_t kTargetBlocks = 1024, kMinRows = 64;
  ColumnSplit s;
  s.tiles = (cols + 31) / 32;
  const int64_t max_chunks = std::max<int64_t>(1, (rows + kMinRows - 1) / kMinRows);
  int64_t chunks = std::clamp<int64_t>(kTargetBlocks / s.tiles, 1, max_chunks);
  s.rows_per_chunk = rows == 0 ? 0 : (rows + chunks - 1) / chunks;
  s.chunks = rows == 0 ? 1 : int((rows + s.rows_per_chunk - 1) / s.rows_per_chunk);
  return s;
}

// load(r, col, vals): the NV values row r contributes to column col, as Acc.
// partial: [NV][chunks][cols].
template <int NV, class Acc, class Load>
__global__ void __launch_bounds__(256) column_partials_kernel(Load load, int64_t rows, int cols,
                                                              int64_t rows_per_chunk,
                                                              Acc* __restrict__ partial) {
  __shared__ Acc part[NV][8][33];
  const int lane = threadIdx.x & 31, r0 = threadIdx.x >> 5;
  const int col = blockIdx.x * 32 + lane;
  const int64_t begin = blockIdx.y * rows_per_chunk;
  const int64_t end = min(rows, begin + rows_per_chunk);
  Acc sum[NV];
#pragma unroll
  for (int v = 0; v < NV; ++v) sum[v] = Acc(0);
  if (col < cols) {
#pragma unroll 4
    for (int64_t r = begin + r0; r < end; r += 8) {
      Acc vals[NV];
      load(r, col, vals);
#pragma unroll
      for (int v = 0; v < NV; ++v) sum[v] += vals[v];
    }
  }
#pragma unroll
  for (int v = 0; v < NV; ++v) part[v][r0][lane] = sum[v];
  __syncthreads();
  if (r0 == 0 && col < cols) {
#pragma unroll
    for (int v = 0; v < NV; ++v) {
      Acc total = Acc(0);
      for (int k = 0; k < 8; ++k) total += part[v][k][lane];
      partial[(int64_t(v) * gridDim.y + blockIdx.y) * cols + col] = total;
    }
  }
}

// Block (col, v): 256 threads stride over the chunks, then a fixed tree.
// finish(v, col, total) consumes the column's sum.
template <class Acc, class Finish>
__global__ void __launch_bounds__(256) column_finish_kernel(const Acc* __restrict__ partial,
                                                            int chunks, int cols, Finish finish) {
  __shared__ Acc tree[256];
  const int col = blockIdx.x, v = blockIdx.y;
  const Acc* p = partial + int64_t(v) * chunks * cols + col;
  Acc sum = Acc(0);
  for (int k = threadIdx.x; k < chunks; k += 256) sum += p[int64_t(k) * cols];
  tree[threadIdx.x] = sum;
  __syncthreads();
  for (int half = 128; half > 0; half >>= 1) {
    if (threadIdx.x < half) tree[threadIdx.x] += tree[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) finish(v, col, tree[0]);
}

// Enqueues both stages on `stream`; the scratch comes from the caching allocator.
template <int NV, class Acc, class Load, class Finish>
void column_reduce(int64_t rows, int cols, Load load, Finish finish, cudaStream_t stream) {
  const ColumnSplit s = column_split(rows, cols);
  DeviceScratch partial(sizeof(Acc) * NV * size_t(s.chunks) * size_t(cols), stream);
  column_partials_kernel<NV, Acc><<<dim3(s.tiles, s.chunks), 256, 0, stream>>>(
      load, rows, cols, s.rows_per_chunk, partial.as<Acc>());
  CUDA_CHECK_LAUNCH();
  column_finish_kernel<Acc><<<dim3(cols, NV), 256, 0, stream>>>(partial.as<Acc>(), s.chunks, cols,
                                                                 finish);
  CUDA_CHECK_LAUNCH();
}

}  // namespace rampart::cuda::detail
