// libFuzzer: an INI config file (--config) through the same parsing and validation that
// `rampart train` applies before it touches any data.
#include "launch/options.h"
#include "launch/schedule_options.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = rampart::fuzz::as_file(data, size, ".ini");
  rampart::fuzz::expect_clean_outcome([&] {
    rampart::po::variables_map vm;
    if (!rampart::parse_options("train", {"--config", path, "--data", "unused.h5"}, rampart::train_options(), vm)) return;
    rampart::train_config(vm);
  });
  return 0;
}
