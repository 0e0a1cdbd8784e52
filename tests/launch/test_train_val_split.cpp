// --val-split on real Fashion-MNIST, one rank: the held-out rows are not trained on, every
// epoch is validated, best.h5 is bit for bit the checkpoint of the epoch reported as best (the
// first one with the highest held-out robust accuracy), and --resume keeps the best so far,
// also when the run stopped at an epoch's end before that epoch was validated.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

#include "cluster/train/trainer.h"
#include "runtime/checkpoint.h"
#include "runtime/errors.h"
#include "train_fixture.h"

namespace rampart {
namespace {

using testing::fresh_dir;

// 512 images, the last 128 held out: 384 trained on, 6 steps an epoch of batch 64.
TrainConfig val_run(const std::string& out) {
  TrainConfig c;
  c.data = testing::fmnist().train;
  c.out = out;
  c.seed = 5;
  c.limit = 512;
  c.val_split = 128;
  c.epochs = 3;
  c.batch = 64;
  c.lr = 0.05;
  c.attack = "pgd";
  c.eps = 0.1f;
  c.alpha = 0.05f;
  c.steps = 2;
  c.log_every = 1;
  c.config_text = "test";
  return c;
}

// Keeps every epoch's line and a copy of checkpoint.h5 as it stood after each epoch
// (on_epoch is reported after the epoch's checkpoint is written).
struct EpochRecorder : TrainObserver {
  explicit EpochRecorder(std::string out, int64_t stop_at = -1) : out(std::move(out)), stop_at(stop_at) {}
  void on_start(const nlohmann::json& info) override { start = info; }
  void on_step(const StepInfo& s) override {
    if (s.step == stop_at) stop_requested().store(1);
  }
  void on_epoch(const nlohmann::json& e) override {
    lines.push_back(e);
    const std::string copy = out + "/epoch" + std::to_string(e["epoch"].get<int>()) + ".h5";
    std::filesystem::copy_file(out + "/checkpoint.h5", copy, std::filesystem::copy_options::overwrite_existing);
  }
  std::string out;
  int64_t stop_at;
  nlohmann::json start;
  std::vector<nlohmann::json> lines;
};

void expect_same_state(const Checkpoint& a, const Checkpoint& b, const std::string& what) {
  EXPECT_EQ(a.step, b.step) << what;
  ASSERT_EQ(a.model.size(), b.model.size()) << what;
  for (size_t i = 0; i < a.model.size(); ++i) {
    ASSERT_EQ(a.model[i].second.data.size(), b.model[i].second.data.size()) << what;
    EXPECT_EQ(std::memcmp(a.model[i].second.data.data(), b.model[i].second.data.data(),
                          a.model[i].second.data.size() * sizeof(float)), 0)
        << what << ": " << a.model[i].first;
  }
  ASSERT_EQ(a.optimizer.size(), b.optimizer.size()) << what;
  for (size_t i = 0; i < a.optimizer.size(); ++i)
    EXPECT_EQ(a.optimizer[i].second.data, b.optimizer[i].second.data) << what << ": " << a.optimizer[i].first;
}

struct Straight {
  nlohmann::json summary;
  EpochRecorder rec{""};
};

// One uninterrupted run, shared by the tests below.
const Straight& straight() {
  static Straight s = [] {
    Straight r;
    TrainConfig c = val_run(fresh_dir("val-straight"));
    r.rec.out = c.out;
    auto comm = make_self_communicator();
    r.summary = train(c, *comm, r.rec);
    return r;
  }();
  return s;
}

TEST(ValSplit, BestIsTheFirstArgmaxAndBestH5IsItsEpochsCheckpoint) {
  const Straight& s = straight();
  const std::string out = s.rec.out;
  EXPECT_EQ(s.rec.start["train_images"].get<int64_t>(), 384) << "the held-out rows must not be trained on";
  EXPECT_EQ(s.rec.start["val_images"].get<int64_t>(), 128);
  ASSERT_EQ(s.rec.lines.size(), 3u);
  double best = -1;
  int best_epoch = 0;
  for (const auto& e : s.rec.lines) {
    ASSERT_TRUE(e.contains("val_robust_accuracy") && e.contains("val_clean_accuracy")) << e.dump();
    const double r = e["val_robust_accuracy"].get<double>();
    EXPECT_GE(r, 0.0);
    EXPECT_LE(r, e["val_clean_accuracy"].get<double>()) << e.dump();
    if (r > best) { best = r; best_epoch = e["epoch"].get<int>(); }
  }
  const nlohmann::json& sum = s.summary;
  EXPECT_EQ(sum["val_images"].get<int64_t>(), 128);
  EXPECT_EQ(sum["best_epoch"].get<int>(), best_epoch) << sum.dump();
  EXPECT_EQ(sum["best_val_robust_accuracy"].get<double>(), best) << sum.dump();
  EXPECT_EQ(sum["best_checkpoint"].get<std::string>(), out + "/best.h5");
  // Above chance (0.1; one standard deviation over 128 images is 0.027): the validation
  // measures the model. Measured: clean 0.27 after 3 epochs.
  EXPECT_GT(s.rec.lines.back()["val_clean_accuracy"].get<double>(), 0.18);

  const Checkpoint b = read_checkpoint(out + "/best.h5");
  expect_same_state(b, read_checkpoint(out + "/epoch" + std::to_string(best_epoch) + ".h5"), "best.h5");
  EXPECT_EQ(b.step, best_epoch * 6);
  // The record in the final checkpoint names the same best.
  const Checkpoint last = read_checkpoint(out + "/checkpoint.h5");
  EXPECT_EQ(last.extra["validation"]["best_epoch"].get<int>(), best_epoch) << last.extra.dump();
  EXPECT_EQ(last.extra["validation"]["epochs_validated"].get<int>(), 3);
}

// Stopped after step 6 (the end of epoch 1, before its validation), resumed, stopped again
// mid-way through epoch 2, resumed to the end: the same best, the same best.h5 and the same
// final state as the uninterrupted run.
TEST(ValSplit, ResumeKeepsTheBestSoFar) {
  const Straight& s = straight();
  auto comm = make_self_communicator();
  TrainConfig r = val_run(fresh_dir("val-resumed"));
  nlohmann::json sum;
  for (int64_t stop_at : {5, 8, -1}) {  // the flag raised at step N stops at step N + 1
    EpochRecorder rec(r.out, stop_at);
    try {
      sum = train(r, *comm, rec);
      EXPECT_EQ(stop_at, -1) << "the run did not stop";
    } catch (const Interrupted& e) {
      EXPECT_NE(stop_at, -1) << e.what();
    }
    stop_requested().store(0);
    if (stop_at == 5) {
      const Checkpoint mid = read_checkpoint(r.out + "/checkpoint.h5");
      ASSERT_EQ(mid.step, 6);
      EXPECT_EQ(mid.extra["validation"]["epochs_validated"].get<int>(), 0) << "stopped before validating epoch 1";
    }
    r.resume = true;
  }
  for (const char* k : {"best_epoch", "best_val_robust_accuracy", "best_val_clean_accuracy", "val_images"})
    EXPECT_EQ(sum[k], s.summary[k]) << k;
  expect_same_state(read_checkpoint(r.out + "/best.h5"), read_checkpoint(s.rec.out + "/best.h5"), "resumed best.h5");
  expect_same_state(read_checkpoint(r.out + "/checkpoint.h5"), read_checkpoint(s.rec.out + "/checkpoint.h5"),
                    "resumed checkpoint.h5");
}

TEST(ValSplit, ASplitThatLeavesNoTrainingImageIsAConfigError) {
  auto comm = make_self_communicator();
  TrainConfig c = val_run(fresh_dir("val-bad"));
  TrainObserver quiet;
  for (int64_t bad : {int64_t(-1), int64_t(512), int64_t(600)}) {
    c.val_split = bad;
    try {
      train(c, *comm, quiet);
      FAIL() << "--val-split " << bad << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("--val-split"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("found " + std::to_string(bad)), std::string::npos) << e.what();
    }
  }
  // Against the data's size (no --limit): the check where the data is read.
  c.limit = 0;
  c.val_split = 60000;
  EXPECT_THROW(train(c, *comm, quiet), ConfigError);
}

}  // namespace
}  // namespace rampart
