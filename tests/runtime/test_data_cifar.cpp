// CIFAR-10 and CIFAR-100 binary import: batch files written here in the published format (the
// archive's file names, records of label byte(s) + 1024 R + 1024 G + 1024 B), the exact pixel
// layout, both splits, fine and coarse labels, and bad inputs with their exit codes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "runtime/data/dataset.h"
#include "runtime/data/import.h"
#include "runtime/io/h5.h"
#include "tests/runtime/test_data_util.h"

namespace rampart {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::TempDir;
using testing::write_bytes;

// Pixel (c, y, x) of record r of file f: a value that says where it came from.
uint8_t pixel(int f, int r, int c, int y, int x) { return uint8_t((13 * f + 3 * r + 71 * c + 5 * y + 9 * x) % 256); }

// Records of `labels` (one entry a record: the label bytes), pixels from pixel(f, r, ...).
std::vector<unsigned char> records(int f, const std::vector<std::vector<uint8_t>>& labels) {
  std::vector<unsigned char> b;
  for (size_t r = 0; r < labels.size(); ++r) {
    b.insert(b.end(), labels[r].begin(), labels[r].end());
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) b.push_back(pixel(f, int(r), c, y, x));
  }
  return b;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

const char* kCifar10Names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";

// cifar-10-batches-bin/ as the archive has it: 5 train batches of 2, 3, 1, 2, 2 records, a test batch of 3.
std::string make_cifar10(const TempDir& dir) {
  const std::string d = dir / "cifar-10-batches-bin";
  fs::create_directories(d);
  const std::vector<std::vector<std::vector<uint8_t>>> train = {
      {{3}, {0}}, {{9}, {1}, {2}}, {{4}}, {{5}, {6}}, {{7}, {8}}};
  for (size_t k = 0; k < train.size(); ++k)
    write_bytes(d + "/data_batch_" + std::to_string(k + 1) + ".bin", records(int(k), train[k]), false);
  write_bytes(d + "/test_batch.bin", records(9, {{1}, {1}, {0}}), false);
  write_text(d + "/batches.meta.txt", kCifar10Names);
  return d;
}

// The image at `row` of `ds` is record r of file f, pixel for pixel: images[n][c][h][w].
void expect_record(const Dataset& ds, int64_t row, int f, int r) {
  std::vector<uint8_t> img(3 * 32 * 32);
  std::vector<int32_t> label(1);
  ds.read_range(row, row + 1, img.data(), label.data());
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x)
        ASSERT_EQ(img[size_t((c * 32 + y) * 32 + x)], pixel(f, r, c, y, x))
            << "row " << row << " c " << c << " y " << y << " x " << x;
}

TEST(Cifar10Import, WritesBothSplitsWithTheRecordsPixelLayout) {
  TempDir dir;
  const std::string in = make_cifar10(dir);
  const auto out = import_cifar10(in, dir / "out");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].split, "train");
  EXPECT_EQ(out[0].path, dir / "out/train.h5");
  EXPECT_EQ(out[0].n, 10);
  EXPECT_EQ(out[1].split, "test");
  EXPECT_EQ(out[1].n, 3);
  EXPECT_EQ(dir.files(), (std::vector<std::string>{"cifar-10-batches-bin", "out"}));

  Dataset train(dir / "out/train.h5");
  EXPECT_EQ(train.size(), 10);
  EXPECT_EQ(train.image_shape(), (Shape{3, 32, 32}));
  EXPECT_EQ(train.classes(), 10);
  EXPECT_EQ(train.labels(), (std::vector<int32_t>{3, 0, 9, 1, 2, 4, 5, 6, 7, 8}));  // batch 1 first, in record order
  expect_record(train, 0, 0, 0);
  expect_record(train, 1, 0, 1);
  expect_record(train, 4, 1, 2);  // the third record of data_batch_2.bin
  expect_record(train, 9, 4, 1);
  EXPECT_EQ(train.source(), "cifar10 train: " + in);

  Dataset test(dir / "out/test.h5");
  EXPECT_EQ(test.labels(), (std::vector<int32_t>{1, 1, 0}));
  expect_record(test, 2, 9, 2);
  h5::File f = h5::File::open(dir / "out/test.h5");
  EXPECT_EQ(f.root().attr_string("class_names"),
            R"(["airplane","automobile","bird","cat","deer","dog","frog","horse","ship","truck"])");
  EXPECT_TRUE(f.root().dataset("images").checksummed());
  EXPECT_EQ(f.root().dataset("labels").dtype(), h5::DType::kUInt8);  // int64 only above 256 classes
}

TEST(Cifar10Import, AcceptsTheFolderHoldingTheArchivesFolderAndNoNamesFile) {
  TempDir dir;
  const std::string in = make_cifar10(dir);
  fs::remove(in + "/batches.meta.txt");
  ImportOptions o;
  o.source_name = "my cifar";
  const auto out = import_cifar10(dir.path(), dir / "out", o);  // the parent of cifar-10-batches-bin/
  EXPECT_EQ(out[0].n, 10);
  h5::File f = h5::File::open(dir / "out/train.h5");
  EXPECT_FALSE(f.root().has_attr("class_names"));
  EXPECT_EQ(f.root().attr_string("source"), "my cifar train");
}

TEST(Cifar10Import, PadAndChannels) {
  TempDir dir;
  const std::string in = make_cifar10(dir);
  ImportOptions o;
  o.reshape.pad = 2;
  import_cifar10(in, dir / "out", o);
  Dataset ds(dir / "out/test.h5");
  EXPECT_EQ(ds.image_shape(), (Shape{3, 36, 36}));
  std::vector<uint8_t> img(3 * 36 * 36);
  std::vector<int32_t> label(1);
  ds.read_range(1, 2, img.data(), label.data());
  EXPECT_EQ(img[0], 0);
  EXPECT_EQ(img[size_t((1 * 36 + 2) * 36 + 2)], pixel(9, 1, 1, 0, 0));
  EXPECT_EQ(img[size_t((2 * 36 + 33) * 36 + 33)], pixel(9, 1, 2, 31, 31));
  EXPECT_EQ(img[size_t((2 * 36 + 34) * 36 + 33)], 0);
  o.reshape = {0, 1};
  expect_error([&] { import_cifar10(in, dir / "o2", o); }, kExitConfig,
               {"--channels 1", "has 3 channels", "expected --channels 3"});
}

TEST(Cifar100Import, FineLabelsByDefaultCoarseOnRequest) {
  TempDir dir;
  const std::string d = dir / "cifar-100-binary";
  fs::create_directories(d);
  // Records: coarse byte, then fine byte.
  write_bytes(d + "/train.bin", records(0, {{4, 30}, {19, 99}, {0, 0}}), false);
  write_bytes(d + "/test.bin", records(1, {{11, 57}}), false);
  std::string fine, coarse;
  for (int i = 0; i < 100; ++i) fine += "fine" + std::to_string(i) + "\r\n";
  for (int i = 0; i < 20; ++i) coarse += "  coarse" + std::to_string(i) + "\n";
  write_text(d + "/fine_label_names.txt", fine);
  write_text(d + "/coarse_label_names.txt", coarse);

  import_cifar100(d, dir / "fine");
  Dataset f(dir / "fine/train.h5");
  EXPECT_EQ(f.classes(), 100);
  EXPECT_EQ(f.labels(), (std::vector<int32_t>{30, 99, 0}));
  expect_record(f, 1, 0, 1);  // two label bytes skipped
  EXPECT_EQ(Dataset(dir / "fine/test.h5").labels(), (std::vector<int32_t>{57}));

  import_cifar100(d, dir / "coarse", /*coarse=*/true);
  Dataset c(dir / "coarse/train.h5");
  EXPECT_EQ(c.classes(), 20);
  EXPECT_EQ(c.labels(), (std::vector<int32_t>{4, 19, 0}));
  const std::string names = h5::File::open(dir / "coarse/test.h5").root().attr_string("class_names");
  EXPECT_EQ(names.rfind(R"(["coarse0","coarse1",)", 0), 0u) << names;
  EXPECT_EQ(Dataset(dir / "coarse/test.h5").labels(), (std::vector<int32_t>{11}));
}

TEST(CifarErrors, MissingFolderAndBatchFile) {
  TempDir dir;
  expect_error([&] { import_cifar10(dir / "nope", dir / "out"); }, kExitNoInput,
               {"nope: no such folder", "cifar-10-batches-bin", "cifar-10-binary.tar.gz"});
  const std::string in = make_cifar10(dir);
  fs::remove(in + "/data_batch_3.bin");
  expect_error([&] { import_cifar10(in, dir / "out"); }, kExitNoInput,
               {in + "/data_batch_3.bin: no such file", "CIFAR-10 train file data_batch_3.bin"});
  EXPECT_FALSE(fs::exists(dir / "out/train.h5"));
  // The Python version's files are named as such.
  write_bytes(in + "/data_batch_3", {1, 2, 3}, false);
  expect_error([&] { import_cifar10(in, dir / "out"); }, kExitNoInput,
               {"found data_batch_3 without .bin", "Python (pickle) version", "cifar-10-binary.tar.gz"});
}

TEST(CifarErrors, FileSizeMustBeWholeRecords) {
  TempDir dir;
  const std::string in = make_cifar10(dir);
  auto rec = records(2, {{4}, {5}});
  rec.pop_back();  // one byte short
  write_bytes(in + "/data_batch_3.bin", rec, false);
  expect_error([&] { import_cifar10(in, dir / "out"); }, kExitDataErr,
               {"data_batch_3.bin: 6145 bytes is not a whole number of 3073-byte CIFAR-10 records",
                "found 1 records and 3072 bytes more", "expected 10000 records = 30730000 bytes",
                "fetch cifar-10-binary.tar.gz again"});
  // A CIFAR-100 file (3074-byte records) given as CIFAR-10.
  write_bytes(in + "/data_batch_3.bin", records(2, {{4, 5}, {1, 2}, {3, 3}}), false);
  expect_error([&] { import_cifar10(in, dir / "out"); }, kExitDataErr,
               {"whole number of 3074-byte records: a CIFAR-100 file? use --format cifar100"});
  write_bytes(in + "/data_batch_3.bin", {}, false);
  expect_error([&] { import_cifar10(in, dir / "out"); }, kExitDataErr, {"0 bytes is not a whole number"});
  EXPECT_FALSE(fs::exists(dir / "out"));  // checked before anything is written
}

TEST(CifarErrors, LabelOutOfRange) {
  TempDir dir;
  const std::string in = make_cifar10(dir);
  write_bytes(in + "/test_batch.bin", records(9, {{1}, {10}}), false);
  expect_error([&] { import_cifar10(in, dir / "out"); }, kExitDataErr,
               {"test_batch.bin: record 1 (byte offset 3073) has label 10; expected labels in [0, 10)"});
  EXPECT_TRUE(fs::exists(dir / "out/train.h5"));  // the train split was good
  EXPECT_FALSE(fs::exists(dir / "out/test.h5"));
  EXPECT_EQ(TempDir::list(dir / "out"), (std::vector<std::string>{"train.h5"}));  // no temporary left

  const std::string d = dir / "cifar-100-binary";
  fs::create_directories(d);
  write_bytes(d + "/train.bin", records(0, {{20, 3}}), false);
  write_bytes(d + "/test.bin", records(0, {{2, 100}}), false);
  expect_error([&] { import_cifar100(d, dir / "o100"); }, kExitDataErr,
               {"test.bin: record 0 (byte offset 0) has fine label 100; expected fine labels in [0, 100)"});
  expect_error([&] { import_cifar100(d, dir / "o100", true); }, kExitDataErr,
               {"train.bin: record 0 (byte offset 0) has coarse label 20; expected coarse labels in [0, 20)"});
}

TEST(CifarErrors, ClassNamesFileWithTheWrongCount) {
  TempDir dir;
  const std::string in = make_cifar10(dir);
  write_text(in + "/batches.meta.txt", "cat\ndog\n");
  expect_error([&] { import_cifar10(in, dir / "out"); }, kExitDataErr,
               {"batches.meta.txt: expected 10 class names, one a line, found 2"});
}

TEST(CifarErrors, OutputFolderIsAFile) {
  TempDir dir;
  const std::string in = make_cifar10(dir);
  write_bytes(dir / "file", {1}, false);
  expect_error([&] { import_cifar10(in, dir / "file"); }, kExitIoErr, {"is a file; expected a folder"});
}

}  // namespace
}  // namespace rampart
