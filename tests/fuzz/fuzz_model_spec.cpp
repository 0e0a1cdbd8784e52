// libFuzzer: the model spec parser (a named model or a JSON list of layers, as --model takes it)
// and building the model, for a small input shape picked by the first byte.
#include "runtime/model.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 4096) return 0;
  const rampart::Shape input = (data[0] & 1) ? rampart::Shape{1, 28, 28} : rampart::Shape{3, 8, 8};
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  rampart::fuzz::expect_clean_outcome([&] {
    nlohmann::json spec = rampart::expand_model(text, input);
    rampart::Model model(spec, input);
    if (model.num_params() > (int64_t(1) << 24)) return;  // too big to run here; building it was the test
    model.init(0);
  });
  return 0;
}
