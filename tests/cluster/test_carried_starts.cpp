// Carried perturbations sharded over ranks (cluster/train/carried_starts.h), on worlds of
// threads: every rank attacks from the same starts as one rank keeping the whole store, the
// checkpoint holds the same rows however many ranks wrote it, and a resume on another number
// of ranks goes on from them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "cluster/train/carried_starts.h"
#include "runtime/data/sampler.h"
#include "runtime/errors.h"
#include "tests/cluster/thread_world.h"
#include "tests/runtime/test_data_util.h"

namespace rampart {
namespace {

constexpr int64_t kExamples = 37, kDim = 5, kBatch = 8;
constexpr float kEps = 0.25f;

// What an attack of example i at step s ends at, from its start: the start moved by a
// pattern of the example and step, clipped to the ball (x = 0.5 everywhere).
void fake_attack(int64_t i, int64_t s, const float* start, float* x_adv) {
  for (int64_t p = 0; p < kDim; ++p) {
    const float step = 0.11f * float(((i * 7 + s * 3 + p) % 5) - 2);
    x_adv[p] = 0.5f + std::clamp(start[p] + step, -kEps, kEps);
  }
}

// The starts every example was attacked from, bit for bit: log[(step, example)].
using StartLog = std::map<std::pair<int64_t, int64_t>, std::vector<float>>;

// Steps [from, to) of a training run on comm's world: each rank attacks its part of each
// global batch from its carried starts and records where the attack ended.
void train_steps(Communicator& comm, CarriedStarts& c, int64_t from, int64_t to, StartLog& log, std::mutex& m) {
  const int64_t batches = num_batches(kExamples, kBatch);
  std::vector<int64_t> order;
  int64_t epoch = -1;
  for (int64_t s = from; s < to; ++s) {
    if (s / batches != epoch) order = epoch_permutation(kExamples, 5, epoch = s / batches);
    auto [gb, ge] = batch_slice(s % batches, kExamples, kBatch);
    auto [lb, le] = rank_slice(gb, ge, comm.rank(), comm.size());
    c.fetch(comm, order.data() + gb, ge - gb);
    const CarriedStart* st = c.start();
    const int64_t n = le - lb;
    std::vector<float> x(size_t(n * kDim), 0.5f), x_adv(size_t(n * kDim));
    for (int64_t e = 0; e < n; ++e) {
      const int64_t i = order[size_t(lb + e)];
      std::vector<float> start(st->delta + e * kDim, st->delta + (e + 1) * kDim);
      start.push_back(float(st->has[e]));
      {
        std::lock_guard<std::mutex> lock(m);
        log[{s, i}] = start;
      }
      fake_attack(i, s, st->delta + e * kDim, x_adv.data() + e * kDim);
    }
    if (n > 0) c.record(x_adv.data(), x.data(), kEps);
    c.give_back(comm);
  }
}

// The whole store's rows as one rank-0 checkpoint write would see them.
std::pair<std::vector<int8_t>, std::vector<float>> streamed(Communicator& comm, const CarriedStarts& c) {
  std::pair<std::vector<int8_t>, std::vector<float>> out;
  int64_t next = 0;
  c.stream(comm, comm.rank() != 0 ? CarriedRowsSink() : [&](const CarriedRows& r) {
    EXPECT_EQ(r.first, next);
    out.first.insert(out.first.end(), r.codes, r.codes + r.n * kDim);
    out.second.insert(out.second.end(), r.scale, r.scale + r.n);
    next += r.n;
  });
  return out;
}

struct RunResult {
  StartLog log;
  std::pair<std::vector<int8_t>, std::vector<float>> rows;
  nlohmann::json report;
};

RunResult run_on(int ranks, int64_t steps) {
  RunResult out;
  std::mutex m;
  testing::ThreadWorld world(ranks);
  world.run([&](Communicator& comm) {
    CarriedStarts c(true, kExamples, kDim, comm.rank(), comm.size());
    train_steps(comm, c, 0, steps, out.log, m);
    auto rows = streamed(comm, c);
    nlohmann::json rep = c.report(comm);
    if (comm.rank() == 0) out.rows = std::move(rows), out.report = rep;
  });
  return out;
}

TEST(CarriedStarts, ShardsCoverTheExamplesAndOwnersAgreeWithThem) {
  for (int world : {1, 2, 3, 5, 37, 40})
    for (int64_t n : {int64_t(1), int64_t(36), kExamples}) {
      EXPECT_EQ(CarriedStarts::shard_begin(n, 0, world), 0);
      EXPECT_EQ(CarriedStarts::shard_begin(n, world, world), n);
      for (int r = 0; r < world; ++r) {
        const int64_t b = CarriedStarts::shard_begin(n, r, world), e = CarriedStarts::shard_begin(n, r + 1, world);
        EXPECT_LE(e - b, n / world + 1);
        EXPECT_GE(e - b, n / world);
        for (int64_t i = b; i < e; ++i) EXPECT_EQ(CarriedStarts::owner(i, n, world), r) << i << " of " << n;
      }
    }
}

TEST(CarriedStarts, EveryWorldAttacksFromTheStartsOfOneWholeStore) {
  // 3 epochs of 5 batches (the last of 5 rows, fewer than some worlds' ranks).
  const int64_t steps = 3 * num_batches(kExamples, kBatch);
  const RunResult one = run_on(1, steps);
  ASSERT_EQ(int64_t(one.log.size()), 3 * kExamples);
  int64_t carried = 0;
  for (const auto& [key, start] : one.log) carried += start.back() > 0;
  EXPECT_EQ(carried, 2 * kExamples) << "every example starts from its last attack from the second epoch on";
  EXPECT_EQ(one.report["stored"], kExamples);
  for (int ranks : {2, 3, 5, 9}) {
    const RunResult many = run_on(ranks, steps);
    EXPECT_TRUE(many.log == one.log) << ranks << " ranks attacked from other starts than 1 rank";
    EXPECT_TRUE(many.rows == one.rows) << ranks << " ranks' checkpoint rows differ from 1 rank's";
    EXPECT_EQ(many.report["fingerprint"], one.report["fingerprint"]) << ranks;
    EXPECT_EQ(many.report["stored"], kExamples);
    EXPECT_EQ(many.report["shards"], ranks);
    EXPECT_LE(many.report["shard_bytes"].get<int64_t>(), (kExamples / ranks + 1) * (kDim + 4));
    // Each step, a rank receives the starts of its rows that others keep, and their new rows;
    // with random owners that is 2 x (ranks - 1) / ranks of its rows, of dim + 12 bytes each.
    const double rows = double(kBatch) / ranks, row_bytes = kDim + 12;
    const double received = many.report["received_bytes_per_step"].get<double>();
    EXPECT_GT(received, 0.5 * 2 * rows * (ranks - 1) / ranks * row_bytes) << ranks;
    EXPECT_LT(received, 3.0 * 2 * (rows + 1) * row_bytes + 2 * 8 * ranks) << ranks;
    EXPECT_GT(many.report["sent_bytes_per_step"].get<double>(), 0) << ranks;
  }
  EXPECT_EQ(one.report["received_bytes_per_step"].get<double>(), 0) << "one rank exchanges nothing";
  EXPECT_EQ(one.report["sent_bytes_per_step"].get<double>(), 0);
}

TEST(CarriedStarts, ACheckpointWrittenOnSomeRanksResumesOnOthers) {
  testing::TempDir dir;
  const int64_t steps = 3 * num_batches(kExamples, kBatch), stop = 7;  // mid-way through epoch 2
  const RunResult straight = run_on(1, steps);
  std::mutex m, h5;  // serial HDF5: one rank at a time in the file
  for (auto [before, after] : {std::pair{3, 2}, std::pair{2, 5}, std::pair{1, 4}}) {
    const std::string path = dir / ("ck-" + std::to_string(before) + ".h5");
    RunResult first, resumed;
    testing::ThreadWorld a(before);
    a.run([&](Communicator& comm) {
      CarriedStarts c(true, kExamples, kDim, comm.rank(), comm.size());
      train_steps(comm, c, 0, stop, first.log, m);
      Checkpoint ck;
      ck.arch = nlohmann::json::array();
      c.save(ck, &comm);
      if (comm.rank() == 0) write_checkpoint(path, ck);
      else c.stream(comm, {});
    });
    testing::ThreadWorld b(after);
    b.run([&](Communicator& comm) {
      CarriedStarts c(true, kExamples, kDim, comm.rank(), comm.size());
      {
        std::lock_guard<std::mutex> lock(h5);
        const Checkpoint ck = read_checkpoint(path);
        ASSERT_TRUE(c.restore(ck, path));
      }
      train_steps(comm, c, stop, steps, resumed.log, m);
      auto rows = streamed(comm, c);
      if (comm.rank() == 0) resumed.rows = std::move(rows);
    });
    resumed.log.insert(first.log.begin(), first.log.end());
    EXPECT_TRUE(resumed.log == straight.log) << before << " ranks, then " << after;
    EXPECT_TRUE(resumed.rows == straight.rows) << before << " ranks, then " << after;
  }
}

TEST(CarriedStarts, RanksThatDisagreeOnTheBatchFailWithTheReason) {
  // Rank 1 believes the batch is in the other order: the starts rank 0 sends it are not the
  // ones it attacks next.
  testing::ThreadWorld world(2);
  std::vector<int64_t> batch(kBatch);
  for (int64_t i = 0; i < kBatch; ++i) batch[i] = (i * 5) % kExamples;  // owners 0 and 1 mixed
  try {
    world.run([&](Communicator& comm) {
      CarriedStarts c(true, kExamples, kDim, comm.rank(), comm.size());
      std::vector<int64_t> mine = batch;
      if (comm.rank() == 1) std::reverse(mine.begin(), mine.end());
      c.fetch(comm, mine.data(), kBatch);
    });
    FAIL() << "the ranks' disagreement went unnoticed";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("the ranks disagree on the batch"), std::string::npos) << e.what();
  }
}

TEST(CarriedStarts, AResumeOfAnotherStoreSizeIsRefusedWithTheReason) {
  testing::TempDir dir;
  auto self = make_self_communicator();
  CarriedStarts small(true, 10, kDim, 0, 1);
  Checkpoint ck;
  ck.arch = nlohmann::json::array();
  small.save(ck, self.get());
  write_checkpoint(dir / "ck.h5", ck);
  CarriedStarts other(true, kExamples, kDim, 0, 1);
  testing::expect_error([&] { other.restore(read_checkpoint(dir / "ck.h5"), dir / "ck.h5"); }, kExitDataErr,
                        {"carries perturbations for 10 examples of 5 pixels", "trains on 37 of 5",
                         "resume with the same data"});
  CarriedStarts off(false, kExamples, kDim, 0, 1);
  EXPECT_FALSE(off.restore(read_checkpoint(dir / "ck.h5"), dir / "ck.h5"));
  EXPECT_EQ(off.start(), nullptr);
}

TEST(CarriedStarts, ATimedScratchCheckpointHasTheWholeStoresSizeWithoutTheOtherRanks) {
  testing::TempDir dir;
  CarriedStarts c(true, kExamples, kDim, 0, 3);
  Checkpoint ck;
  ck.arch = nlohmann::json::array();
  c.save(ck, nullptr);
  write_checkpoint(dir / "scratch.h5", ck);
  EXPECT_EQ(read_checkpoint(dir / "scratch.h5").carried_examples, kExamples);
  EXPECT_EQ(read_carried_rows(dir / "scratch.h5", 0, kExamples).scale.size(), size_t(kExamples));
}

}  // namespace
}  // namespace rampart
