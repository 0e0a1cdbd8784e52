// Device discovery: never throws without a GPU, and says why there is none.
#include <gtest/gtest.h>

#include "cuda_test_util.h"

namespace rampart::cuda {
namespace {

TEST(CudaDevice, CountIsZeroWithAReasonOrPositiveWithout) {
  const int count = cuda_device_count();  // must not throw, whatever the machine
  EXPECT_GE(count, 0);
  if (count == 0) {
    EXPECT_FALSE(cuda_unavailable_reason().empty());
    EXPECT_THROW(select_device_for_local_rank(0), std::runtime_error);
  } else {
    EXPECT_TRUE(cuda_unavailable_reason().empty());
  }
}

TEST(CudaDevice, InfoReportsBandwidth) {
  RAMPART_REQUIRE_GPU();
  const int device = select_device_for_local_rank(0);
  DeviceInfo info = device_info(device);
  EXPECT_FALSE(info.name.empty());
  EXPECT_GT(info.sm_count, 0);
  EXPECT_GT(info.memory_bandwidth_gbs, 100.0);  // every supported GPU has more
  EXPECT_GT(info.total_memory_bytes, size_t(1) << 30);
}

}  // namespace
}  // namespace rampart::cuda
