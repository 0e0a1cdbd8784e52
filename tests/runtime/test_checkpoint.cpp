// Checkpoints: bit-exact round trips, atomic writes that never clobber a good
// file, validation of format/version, and reading the PyTorch-made golden file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>

#include "runtime/checkpoint.h"
#include "runtime/io/h5.h"
#include "runtime/model_state.h"
#include "tests/runtime/test_data_util.h"

namespace rampart {
namespace {

using testing::expect_error;
using testing::TempDir;

NamedArray array(Shape shape, float seed) {
  NamedArray a;
  a.shape = shape;
  a.data.resize(size_t(numel(shape)));
  for (size_t i = 0; i < a.data.size(); ++i) a.data[i] = std::sin(seed + float(i)) * 1e-3f * float(i + 1);
  return a;
}

Checkpoint sample() {
  Checkpoint ck;
  ck.arch = nlohmann::json::parse(R"([{"type": "conv2d", "in_channels": 1, "out_channels": 2, "kernel_size": 3},
                                      {"type": "batchnorm2d", "num_features": 2, "eps": 1e-5, "momentum": 0.1},
                                      {"type": "flatten"}])");
  ck.config = "[train]\nepochs = 5\n# ünïcode comment\n";
  ck.epoch = 3;
  ck.step = 1234567890123;
  ck.world_size = 4;
  // "10.weight" before "2.weight": the stored order, not the sorted one, must come back.
  ck.model = {{"10.weight", array({2, 1, 3, 3}, 1)},
              {"10.bias", array({2}, 2)},
              {"2.weight", array({2}, 3)},
              {"2.running_mean", array({2}, 4)},
              {"2.num_batches_tracked", NamedArray{{}, {37.f}}}};
  ck.model[0].second.data[0] = std::numeric_limits<float>::denorm_min();
  ck.model[0].second.data[1] = -0.0f;
  ck.model[0].second.data[2] = std::numeric_limits<float>::infinity();
  ck.optimizer = {{"10.weight", array({2, 1, 3, 3}, 5)}, {"10.bias", array({2}, 6)}};
  ck.rng = {{"seed", 18446744073709551615ull}, {"counter", 99}};
  ck.scheduler = {{"spent_usd", 0.1 + 0.2}, {"plan", {{{"epoch", 0}, {"eps", 0.1}, {"k", 7}}}}};
  ck.extra = {{"note", "hi"}};
  return ck;
}

void expect_same_arrays(const std::vector<std::pair<std::string, NamedArray>>& a,
                        const std::vector<std::pair<std::string, NamedArray>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second.shape, b[i].second.shape) << a[i].first;
    ASSERT_EQ(a[i].second.data.size(), b[i].second.data.size()) << a[i].first;
    EXPECT_EQ(std::memcmp(a[i].second.data.data(), b[i].second.data.data(), a[i].second.data.size() * 4), 0)
        << a[i].first << " differs in its bits";
  }
}

TEST(Checkpoint, RoundTripIsBitExact) {
  TempDir dir;
  Checkpoint ck = sample();
  write_checkpoint(dir / "ck.h5", ck);
  EXPECT_EQ(dir.files(), std::vector<std::string>{"ck.h5"});  // no temporary left behind
  Checkpoint back = read_checkpoint(dir / "ck.h5");
  EXPECT_EQ(back.arch, ck.arch);
  EXPECT_EQ(back.config, ck.config);
  EXPECT_EQ(back.epoch, 3);
  EXPECT_EQ(back.step, 1234567890123);
  EXPECT_EQ(back.world_size, 4);
  expect_same_arrays(back.model, ck.model);
  expect_same_arrays(back.optimizer, ck.optimizer);
  EXPECT_EQ(back.rng, ck.rng);
  EXPECT_EQ(back.rng["seed"].get<uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(back.scheduler, ck.scheduler);
  EXPECT_EQ(back.scheduler["spent_usd"].get<double>(), 0.1 + 0.2);
  EXPECT_EQ(back.extra, ck.extra);

  // The layout other tools rely on: root attrs, float32 weights, int64 counters.
  h5::File f = h5::File::open(dir / "ck.h5");
  EXPECT_EQ(f.root().attr_string("format"), "rampart-checkpoint");
  EXPECT_EQ(f.root().attr_int("version"), 1);
  EXPECT_EQ(nlohmann::json::parse(f.root().attr_string("arch_json")), ck.arch);
  EXPECT_EQ(f.root().dataset("model/10.weight").dtype(), h5::DType::kFloat32);
  EXPECT_EQ(f.root().dataset("model/2.num_batches_tracked").dtype(), h5::DType::kInt64);
  EXPECT_EQ(f.root().dataset("model/2.num_batches_tracked").read<int64_t>(), std::vector<int64_t>{37});
  EXPECT_TRUE(f.root().is_group("rng"));
  EXPECT_TRUE(f.root().is_group("scheduler"));
}

TEST(Checkpoint, EmptyStatesRoundTrip) {
  TempDir dir;
  Checkpoint ck;
  ck.arch = nlohmann::json::array();
  write_checkpoint(dir / "ck.h5", ck);
  Checkpoint back = read_checkpoint(dir / "ck.h5");
  EXPECT_TRUE(back.model.empty());
  EXPECT_TRUE(back.rng.is_null());
  EXPECT_TRUE(back.scheduler.is_null());
  EXPECT_EQ(back.world_size, 1);
}

TEST(Checkpoint, FailedWriteKeepsThePreviousFile) {
  TempDir dir;
  Checkpoint good = sample();
  write_checkpoint(dir / "ck.h5", good);

  // An array whose data does not fill its shape fails midway, after other arrays were written.
  Checkpoint bad = sample();
  bad.epoch = 4;
  bad.model[2].second.data.pop_back();
  expect_error([&] { write_checkpoint(dir / "ck.h5", bad); }, kExitIoErr,
               {"/model/2.weight", "shape [2] needs 2 values, found 1"});
  EXPECT_EQ(dir.files(), std::vector<std::string>{"ck.h5"});
  Checkpoint back = read_checkpoint(dir / "ck.h5");
  EXPECT_EQ(back.epoch, 3);
  expect_same_arrays(back.model, good.model);

  expect_error([&] { write_checkpoint(dir / "missing-dir/ck.h5", good); }, kExitIoErr,
               {"missing-dir/ck.h5", "No such file or directory"});
  EXPECT_EQ(dir.files(), std::vector<std::string>{"ck.h5"});
}

TEST(Checkpoint, RejectsFilesThatAreNotCheckpoints) {
  TempDir dir;
  expect_error([&] { read_checkpoint(dir / "absent.h5"); }, kExitNoInput, {"absent.h5", "no such file"});

  auto with_root = [&](const std::string& name, const std::function<void(h5::Group&)>& f) {
    h5::File file = h5::File::create(dir / name);
    file.root().create_group("model");
    file.root().set_attr("arch_json", "[]");
    f(file.root());
    return dir / name;
  };
  std::string other = with_root("other.h5", [](h5::Group& g) {
    g.set_attr("format", "keras");
    g.set_attr("version", int64_t(1));
  });
  expect_error([&] { read_checkpoint(other); }, kExitDataErr,
               {"other.h5", "expected root attribute format = \"rampart-checkpoint\"", "found \"keras\""});
  std::string none = with_root("none.h5", [](h5::Group& g) { g.set_attr("version", int64_t(1)); });
  expect_error([&] { read_checkpoint(none); }, kExitDataErr, {"none.h5", "format", "found none"});
  std::string v2 = with_root("v2.h5", [](h5::Group& g) {
    g.set_attr("format", "rampart-checkpoint");
    g.set_attr("version", int64_t(2));
  });
  expect_error([&] { read_checkpoint(v2); }, kExitDataErr, {"v2.h5", "expected checkpoint version 1, found 2"});
  std::string bad_json = with_root("json.h5", [](h5::Group& g) {
    g.set_attr("format", "rampart-checkpoint");
    g.set_attr("version", int64_t(1));
    g.set_attr("arch_json", "[{oops");
  });
  expect_error([&] { read_checkpoint(bad_json); }, kExitDataErr, {"json.h5", "arch_json", "expected JSON"});

  write_checkpoint(dir / "ck.h5", sample());
  testing::truncate_file(dir / "ck.h5", 0.5);
  expect_error([&] { read_checkpoint(dir / "ck.h5"); }, kExitDataErr,
               {"ck.h5 is not a valid HDF5 file (truncated or corrupt?)"});
}

// load_model: every array exactly the model's shape, and no array that no layer owns.
TEST(Checkpoint, LoadModelWantsExactShapesAndNoStrayArrays) {
  const auto spec = nlohmann::json::parse(R"([{"type": "conv2d", "in_channels": 1, "out_channels": 2, "kernel_size": 3},
                                              {"type": "batchnorm2d", "num_features": 2},
                                              {"type": "flatten"},
                                              {"type": "linear", "in_features": 8, "out_features": 3}])");
  Model model(spec, {1, 4, 4});
  Sgd sgd(SgdConfig{}, model.num_params());
  Checkpoint ck;
  store_model(model, &sgd, ck);
  TempDir dir;
  write_checkpoint(dir / "ck.h5", ck);
  Checkpoint back = read_checkpoint(dir / "ck.h5");
  Model again(back.arch, {1, 4, 4});
  Sgd sgd_again(SgdConfig{}, again.num_params());
  load_model(back, again, &sgd_again);  // what rampart writes, it loads

  auto find = [](std::vector<std::pair<std::string, NamedArray>>& v, const std::string& name) -> NamedArray& {
    for (auto& [k, a] : v)
      if (k == name) return a;
    throw std::runtime_error("no " + name);
  };
  Checkpoint reshaped = back;
  find(reshaped.model, "0.weight").shape = {2, 9};  // the same 18 values
  expect_error([&] { load_model(reshaped, again, nullptr); }, kExitDataErr,
               {"/model/0.weight has shape [2, 9], expected [2, 1, 3, 3]"});
  Checkpoint reshaped_mom = back;
  find(reshaped_mom.optimizer, "3.weight").shape = {24};
  expect_error([&] { load_model(reshaped_mom, again, &sgd_again); }, kExitDataErr,
               {"/optimizer/3.weight has shape [24], expected [3, 8]"});

  Checkpoint stray = back;
  stray.model.push_back({"5.weight", NamedArray{{2}, {1.f, 2.f}}});
  expect_error([&] { load_model(stray, again, nullptr); }, kExitDataErr,
               {"/model/5.weight [2] belongs to no layer of the model"});
  Checkpoint stray_mom = back;
  stray_mom.optimizer.push_back({"1.running_mean", NamedArray{{2}, {0.f, 0.f}}});  // a buffer has no momentum
  load_model(stray_mom, again, nullptr);  // eval does not read the optimizer
  expect_error([&] { load_model(stray_mom, again, &sgd_again); }, kExitDataErr,
               {"/optimizer/1.running_mean [2] belongs to no layer of the model"});
}

TEST(Checkpoint, ReadsTheGoldenFile) {
  Checkpoint ck = read_checkpoint(std::string(RAMPART_TESTDATA) + "/small_cnn_golden.h5");
  ASSERT_TRUE(ck.arch.is_array());
  EXPECT_EQ(ck.arch.size(), 10u);
  EXPECT_EQ(ck.arch[0]["type"], "conv2d");
  EXPECT_EQ(ck.arch[7]["in_features"], 3136);
  ASSERT_EQ(ck.model.size(), 8u);
  std::map<std::string, Shape> want{{"0.weight", {32, 1, 3, 3}}, {"0.bias", {32}},
                                    {"3.weight", {64, 32, 3, 3}}, {"3.bias", {64}},
                                    {"7.weight", {128, 3136}},    {"7.bias", {128}},
                                    {"9.weight", {10, 128}},      {"9.bias", {10}}};
  for (auto& [name, a] : ck.model) {
    ASSERT_TRUE(want.count(name)) << name;
    EXPECT_EQ(a.shape, want[name]) << name;
    EXPECT_EQ(int64_t(a.data.size()), numel(a.shape));
  }
  EXPECT_EQ(ck.model[0].first, "0.bias");  // sorted by name, numbers by value
  EXPECT_EQ(ck.model[7].first, "9.weight");
  // What the golden file lacks reads as a fresh start.
  EXPECT_EQ(ck.epoch, 0);
  EXPECT_EQ(ck.step, 0);
  EXPECT_EQ(ck.world_size, 1);
  EXPECT_TRUE(ck.optimizer.empty());
  EXPECT_TRUE(ck.rng.is_null());
}

}  // namespace
}  // namespace rampart
