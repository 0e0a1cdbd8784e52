// `rampart data import` through the real executable: each format's command line, what it
// writes, --json, and refused command lines with their exit codes and one-line messages.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/data/dataset.h"
#include "runtime/io/h5.h"

namespace rampart {
namespace {

namespace fs = std::filesystem;

struct CliResult {
  int code = -1;
  std::string out, err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class DataCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("rampart-data-cli-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name())).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CliResult rampart(const std::vector<std::string>& args) {
    std::string cmd = quote(RAMPART_BIN);
    for (const auto& a : args) cmd += " " + quote(a);
    cmd += " >" + quote(dir_ + "/stdout") + " 2>" + quote(dir_ + "/stderr");
    const int rc = std::system(cmd.c_str());
    CliResult r;
    r.code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    r.out = slurp(dir_ + "/stdout");
    r.err = slurp(dir_ + "/stderr");
    return r;
  }

  // The command fails with `code` and one line of standard error holding `text`.
  void expect_fails(const std::vector<std::string>& args, int code, const std::string& text) {
    const CliResult r = rampart(args);
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    EXPECT_EQ(r.code, code) << cmd << "\n" << r.err;
    EXPECT_NE(r.err.find(text), std::string::npos) << cmd << "\nstderr: " << r.err << "\nexpected: " << text;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }

  // cifar-10-batches-bin/ with one record a batch file, labels 0..5.
  std::string make_cifar10() {
    const std::string d = dir_ + "/cifar-10-batches-bin";
    fs::create_directories(d);
    const char* files[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                           "data_batch_5.bin", "test_batch.bin"};
    for (int k = 0; k < 6; ++k) {
      std::string rec(3073, char(k * 7));
      rec[0] = char(k);
      std::ofstream(d + "/" + files[k], std::ios::binary) << rec;
    }
    return d;
  }

  std::string dir_;
};

TEST_F(DataCommand, Cifar10WritesTrainAndTest) {
  const std::string in = make_cifar10();
  const CliResult r = rampart({"data", "import", "--format", "cifar10", "--in", in, "--out", dir_ + "/out"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("wrote " + dir_ + "/out/train.h5: 5 images of 3x32x32, 10 classes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("wrote " + dir_ + "/out/test.h5: 1 images of 3x32x32, 10 classes"), std::string::npos) << r.out;
  EXPECT_EQ(Dataset(dir_ + "/out/train.h5").labels(), (std::vector<int32_t>{0, 1, 2, 3, 4}));
  // --json: one object; --pad and --channels pass through.
  const CliResult j = rampart({"data", "import", "--format", "cifar10", "--in", dir_, "--out", dir_ + "/o2", "--pad", "4",
                         "--json"});
  ASSERT_EQ(j.code, 0) << j.err;
  EXPECT_EQ(j.out.rfind("{\"format\":\"cifar10\",\"splits\":[{", 0), 0u) << j.out;
  EXPECT_NE(j.out.find("\"height\":40"), std::string::npos) << j.out;
  EXPECT_EQ(std::count(j.out.begin(), j.out.end(), '\n'), 1);
}

TEST_F(DataCommand, SvhnAndCifar100Labels) {
  const std::string svhn = std::string(RAMPART_TESTDATA) + "/svhn-zlib";
  CliResult r = rampart({"data", "import", "--format", "svhn", "--in", svhn, "--out", dir_ + "/s", "--svhn-extra", "merge"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Dataset(dir_ + "/s/train.h5").size(), 7);
  EXPECT_FALSE(fs::exists(dir_ + "/s/extra.h5"));

  const std::string d = dir_ + "/cifar-100-binary";
  fs::create_directories(d);
  std::string rec(3074, char(5));
  rec[0] = 3;   // coarse
  rec[1] = 42;  // fine
  std::ofstream(d + "/train.bin", std::ios::binary) << rec;
  std::ofstream(d + "/test.bin", std::ios::binary) << rec;
  r = rampart({"data", "import", "--format", "cifar100", "--in", d, "--out", dir_ + "/f"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Dataset(dir_ + "/f/test.h5").labels(), (std::vector<int32_t>{42}));
  r = rampart({"data", "import", "--format", "cifar100", "--in", d, "--out", dir_ + "/c", "--labels", "coarse"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Dataset(dir_ + "/c/test.h5").classes(), 20);
  EXPECT_EQ(Dataset(dir_ + "/c/test.h5").labels(), (std::vector<int32_t>{3}));
}

// A 2x2 RGB PNG (pixels (10, 20, 30) and (40, 50, 60) in each row), written with Python's zlib
// and struct: this test binary does not link libpng.
const char kTinyPng[] =
    "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x02\x00\x00\x00\x02"
    "\x08\x02\x00\x00\x00\xfd\xd4\x9a\x73\x00\x00\x00\x11\x49\x44\x41\x54\x78\xda\x63\xe0\x12\x91\xd3"
    "\x30\xb2\x61\x80\x50\x00\x0a\x2c\x01\xa5\x0d\x83\xcd\x4e\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42"
    "\x60\x82";

// More than 256 classes (ImageNet-1k has 1000): int64 labels on disk, through import, training,
// the final evaluation and `eval --per-example`.
TEST_F(DataCommand, FolderOf300ClassesTrainsAndEvaluates) {
  const int classes = 300;
  for (int c = 0; c < classes; ++c) {
    char name[8];
    std::snprintf(name, sizeof name, "c%03d", c);  // sorted by name = by number
    fs::create_directories(dir_ + "/many/" + name);
    std::ofstream(dir_ + "/many/" + name + "/a.png", std::ios::binary).write(kTinyPng, sizeof kTinyPng - 1);
  }
  CliResult r = rampart({"data", "import", "--format", "folder", "--in", dir_ + "/many", "--out", dir_ + "/d"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("300 images of 3x2x2, 300 classes"), std::string::npos) << r.out;
  const std::string data = dir_ + "/d/data.h5";
  EXPECT_EQ(h5::File::open(data).root().dataset("labels").dtype(), h5::DType::kInt64);
  std::vector<int32_t> want(classes);
  for (int c = 0; c < classes; ++c) want[size_t(c)] = c;
  EXPECT_EQ(Dataset(data).labels(), want);

  r = rampart({"train", "--data", data, "--test-data", data, "--model", "mlp", "--out", dir_ + "/run", "--epochs",
               "1", "--batch", "100", "--steps", "1", "--eval-steps", "1", "--threads", "2", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).value("n", int64_t(0)), classes) << r.out;  // evaluated every image
  r = rampart({"eval", "--checkpoint", dir_ + "/run/checkpoint.h5", "--data", data, "--steps", "1", "--threads", "2",
               "--per-example", dir_ + "/ex.h5"});
  ASSERT_EQ(r.code, 0) << r.err;
  h5::File ex = h5::File::open(dir_ + "/ex.h5");
  const std::vector<int64_t> index = ex.root().dataset("index").read<int64_t>();
  const std::vector<int64_t> label = ex.root().dataset("label").read<int64_t>();
  ASSERT_EQ(label.size(), size_t(classes));
  for (size_t i = 0; i < label.size(); ++i) EXPECT_EQ(label[i], index[i]) << i;  // image k has label k
  EXPECT_EQ(ex.root().dataset("logits").shape(), (Shape{classes, classes}));
}

TEST_F(DataCommand, RefusedCommandLines) {
  const std::string in = make_cifar10();
  expect_fails({"data", "import", "--format", "cifar11", "--in", in, "--out", dir_ + "/o"}, 78,
               "--format: expected idx, cifar10, cifar100, svhn or folder, found \"cifar11\"");
  expect_fails({"data", "import", "--format", "cifar10", "--out", dir_ + "/o"}, 64, "--in is required");
  expect_fails({"data", "import", "--format", "cifar10", "--images", "x", "--in", in, "--out", dir_ + "/o"}, 64,
               "--images is for --format idx, not cifar10");
  expect_fails({"data", "import", "--in", in, "--out", dir_ + "/o"}, 64,
               "--in is for --format cifar10 or cifar100 or svhn or folder, not idx");
  expect_fails({"data", "import", "--format", "cifar10", "--in", in, "--out", dir_ + "/o", "--size", "32"}, 64,
               "--size is for --format folder, not cifar10");
  expect_fails({"data", "import", "--format", "cifar100", "--in", in, "--out", dir_ + "/o", "--labels", "medium"}, 78,
               "--labels: expected fine (100 classes) or coarse (20 superclasses)");
  expect_fails({"data", "import", "--format", "svhn", "--in", in, "--out", dir_ + "/o", "--svhn-extra", "yes"}, 78,
               "--svhn-extra: expected separate, merge or skip, found \"yes\"");
  expect_fails({"data", "import", "--format", "folder", "--in", in, "--out", dir_ + "/o", "--size", "-3"}, 78,
               "--size must be an integer in [0, 4096], found -3");
  expect_fails({"data", "import", "--format", "cifar10", "--in", in, "--out", dir_ + "/o", "--pad", "5000"}, 78,
               "--pad must be an integer in [0, 1024], found 5000");
  expect_fails({"data", "import", "--format", "cifar10", "--in", in, "--out", dir_ + "/o", "--channels", "1"}, 78,
               "--channels 1: CIFAR-10 has 3 channels");
  expect_fails({"data", "import", "--format", "folder", "--in", dir_ + "/nope", "--out", dir_ + "/o"}, 66,
               "nope: no such folder");
  fs::remove(in + "/test_batch.bin");
  expect_fails({"data", "import", "--format", "cifar10", "--in", in, "--out", dir_ + "/o"}, 66,
               "test_batch.bin: no such file");
  std::ofstream(in + "/test_batch.bin", std::ios::binary) << std::string(3000, 'x');
  expect_fails({"data", "import", "--format", "cifar10", "--in", in, "--out", dir_ + "/o"}, 65,
               "3000 bytes is not a whole number of 3073-byte CIFAR-10 records");
}

}  // namespace
}  // namespace rampart
