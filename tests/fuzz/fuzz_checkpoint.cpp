// libFuzzer: the checkpoint loader on arbitrary bytes, then the model it describes built and
// loaded from it (as `rampart eval` does), for a Fashion-MNIST-shaped input.
#include "runtime/checkpoint.h"
#include "runtime/model_state.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = rampart::fuzz::as_file(data, size, ".h5");
  rampart::fuzz::expect_clean_isolated_outcome([&] {
    rampart::Checkpoint ck = rampart::read_checkpoint(path);
    rampart::Model model = rampart::model_from_checkpoint(ck, {1, 28, 28});
  });
  return 0;
}
