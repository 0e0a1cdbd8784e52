// The NCCL communicator with 2 ranks (run under mpirun -np 2, one GPU per rank):
// every rank holds the same data, so each all-reduced element must be
// world_size times its input, known without communicating.
#include <gtest/gtest.h>

#include <cuda_runtime.h>

#include <vector>

#include "cluster/comm/nccl_communicator.h"
#include "cluster/comm/world.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/device.h"

namespace rampart {
namespace {

TEST(NcclCommunicator, AllReduceBroadcastAndHostFallback) {
  const World world = detect_world();
  const int gpus = cuda::cuda_device_count();
  if (gpus == 0) GTEST_SKIP() << "no CUDA device: " << cuda::cuda_unavailable_reason();
  if (world.local_size > gpus)
    GTEST_SKIP() << "no CUDA device for every rank: " << world.local_size << " ranks on this node, "
                 << gpus << " GPU(s) (NCCL needs one GPU per rank)";

  auto comm = make_nccl_communicator(world, /*timeout_s=*/60);
  ASSERT_EQ(comm->backend(), "nccl");
  const int size = comm->size();

  // Device all-reduce, sync and async, on an awkward length.
  const size_t n = 1000003;
  std::vector<float> host(n);
  for (size_t i = 0; i < n; ++i) host[i] = float(i % 1000) * 0.5f;
  float* dev = nullptr;
  CUDA_CHECK(cudaMalloc(&dev, n * sizeof(float)));
  CUDA_CHECK(cudaMemcpy(dev, host.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  comm->allreduce_sum(dev, int64_t(n));
  auto req = comm->allreduce_sum_async(dev + 1, int64_t(n - 1));  // second pass over all but one
  EXPECT_NO_THROW(req->wait());
  EXPECT_TRUE(req->test());
  std::vector<float> out(n);
  CUDA_CHECK(cudaMemcpy(out.data(), dev, n * sizeof(float), cudaMemcpyDeviceToHost));
  EXPECT_EQ(out[0], host[0] * size);
  for (size_t i = 1; i < n; ++i)
    if (out[i] != host[i] * size * size) {
      ADD_FAILURE() << "element " << i << ": " << out[i] << ", expected " << host[i] * size * size;
      break;
    }

  // Device broadcast from the last rank.
  std::vector<float> mine(257, float(comm->rank() + 1));
  CUDA_CHECK(cudaMemcpy(dev, mine.data(), mine.size() * sizeof(float), cudaMemcpyHostToDevice));
  comm->broadcast(dev, int64_t(mine.size() * sizeof(float)), size - 1);
  CUDA_CHECK(cudaMemcpy(mine.data(), dev, mine.size() * sizeof(float), cudaMemcpyDeviceToHost));
  for (float v : mine) ASSERT_EQ(v, float(size));

  // Host memory goes through MPI.
  std::vector<float> hf(5, 1.5f);
  comm->allreduce_sum(hf.data(), 5);
  for (float v : hf) EXPECT_EQ(v, 1.5f * size);
  double d = 2.0;
  comm->allreduce_sum(&d, 1);
  EXPECT_EQ(d, 2.0 * size);
  auto all = comm->allgather("r" + std::to_string(comm->rank()));
  ASSERT_EQ(int(all.size()), size);
  EXPECT_EQ(all.back(), "r" + std::to_string(size - 1));
  comm->barrier();
  CUDA_CHECK(cudaFree(dev));
}

}  // namespace
}  // namespace rampart
