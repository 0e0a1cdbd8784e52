// make_compute_backend() and check_device(): the one place that chooses a compute
// backend (see compute_backend.h).
#include "cluster/train/compute_backend.h"

#include <stdexcept>

#include "cluster/train/cpu_backend.h"
#include "runtime/errors.h"
#if RAMPART_HAVE_CUDA
#include "cluster/train/cuda_backend.h"
#include "kernels/cuda/device.h"
#endif

namespace rampart {

void check_device(const std::string& device) {
  if (device == "cpu") return;
  if (device != "cuda") throw ConfigError("device: expected cpu or cuda, found \"" + device + "\"");
#if RAMPART_HAVE_CUDA
  if (cuda::cuda_device_count() == 0)
    throw ConfigError("--device cuda: expected a visible CUDA GPU, found none (" + cuda::cuda_unavailable_reason() +
                      "); run on a GPU node (check nvidia-smi and CUDA_VISIBLE_DEVICES) or use --device cpu");
#else
  throw ConfigError("--device cuda: expected a rampart built with the CUDA backend, found one built without it "
                    "(RAMPART_CUDA=OFF); rebuild with -DRAMPART_CUDA=ON where the CUDA toolkit is installed, "
                    "or use --device cpu");
#endif
}

std::unique_ptr<ComputeBackend> make_compute_backend(const std::string& device, Model& model, Sgd* sgd,
                                                     Communicator& comm, int local_rank, int64_t bucket_bytes) {
  check_device(device);
  if (device == "cpu") return make_cpu_backend(model, sgd, comm, bucket_bytes);
#if RAMPART_HAVE_CUDA
  return make_cuda_backend(model, sgd, comm, local_rank, bucket_bytes);
#else
  throw std::logic_error("make_compute_backend: check_device let \"" + device + "\" through");
#endif
}

}  // namespace rampart
