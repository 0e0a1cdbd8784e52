// SVHN import (rampart data import --format svhn): the pixel layout (column-major X to
// [C, H, W]), labels 10 -> 0, the extra set separate, merged or skipped, both byte orders; and
// missing, damaged or foreign files with their exit codes. The MAT reader itself: test_mat5.cpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "runtime/data/dataset.h"
#include "runtime/data/import.h"
#include "runtime/data/mat5.h"
#include "runtime/io/h5.h"
#include "tests/runtime/svhn_fixtures.h"
#include "tests/runtime/test_data_util.h"
#include "tests/runtime/test_mat_util.h"

namespace rampart {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::le_bytes;
using testing::MatVar;
using testing::MatWriter;
using testing::TempDir;
using testing::write_bytes;
using namespace testing::svhn;

TEST(SvhnImport, ScipysCompressedFilesWithTheExtraSetSeparate) {
  TempDir dir;
  const auto out = import_svhn(kZlib, dir / "out");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].split, "train");
  EXPECT_EQ(out[1].split, "test");
  EXPECT_EQ(out[2].split, "extra");
  EXPECT_EQ(dir.list(dir / "out"), (std::vector<std::string>{"extra.h5", "test.h5", "train.h5"}));
  Dataset train(dir / "out/train.h5");
  EXPECT_EQ(train.image_shape(), (Shape{3, 32, 32}));
  EXPECT_EQ(train.classes(), 10);
  EXPECT_EQ(train.labels(), (std::vector<int32_t>{0, 1, 5}));  // 10 is the digit 0
  expect_svhn_images(train, 0);
  Dataset test(dir / "out/test.h5");
  EXPECT_EQ(test.labels(), (std::vector<int32_t>{0, 1}));
  expect_svhn_images(test, 1);
  Dataset extra(dir / "out/extra.h5");
  EXPECT_EQ(extra.labels(), (std::vector<int32_t>{0, 1, 5, 9}));
  expect_svhn_images(extra, 2);
  h5::File f = h5::File::open(dir / "out/train.h5");
  EXPECT_EQ(f.root().attr_string("class_names"), R"(["0","1","2","3","4","5","6","7","8","9"])");
  EXPECT_EQ(f.root().attr_string("source"), "svhn train: " + kZlib);
  EXPECT_EQ(f.root().dataset("labels").dtype(), h5::DType::kUInt8);  // int64 only above 256 classes
}

TEST(SvhnImport, ScipysPlainFilesLabelsBeforeImages) {
  TempDir dir;
  const auto out = import_svhn(kPlain, dir / "out");
  ASSERT_EQ(out.size(), 2u);  // no extra_32x32.mat
  Dataset train(dir / "out/train.h5"), test(dir / "out/test.h5");
  EXPECT_EQ(train.labels(), (std::vector<int32_t>{0, 1}));
  expect_svhn_images(train, 3);
  EXPECT_EQ(test.labels(), (std::vector<int32_t>{0}));
  expect_svhn_images(test, 4);
}

TEST(SvhnImport, ExtraMergedIntoTrainOrSkipped) {
  TempDir dir;
  const auto merged = import_svhn(kZlib, dir / "m", SvhnExtra::kMerge);
  ASSERT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged[0].n, 7);
  Dataset train(dir / "m/train.h5");
  EXPECT_EQ(train.labels(), (std::vector<int32_t>{0, 1, 5, 0, 1, 5, 9}));
  EXPECT_EQ(train.source(), "svhn train+extra: " + kZlib);
  std::vector<uint8_t> img(3 * 1024);
  std::vector<int32_t> label(1);
  train.read_range(4, 5, img.data(), label.data());  // extra's image 1
  EXPECT_EQ(img[size_t((2 * 32 + 5) * 32 + 6)], svhn_pixel(5, 6, 2, 1, 2));
  EXPECT_FALSE(fs::exists(dir / "m/extra.h5"));

  EXPECT_EQ(import_svhn(kZlib, dir / "s", SvhnExtra::kSkip).size(), 2u);
  EXPECT_EQ(dir.list(dir / "s"), (std::vector<std::string>{"test.h5", "train.h5"}));
  expect_error([&] { import_svhn(kPlain, dir / "p", SvhnExtra::kMerge); }, kExitNoInput,
               {"extra_32x32.mat: no such file", "--svhn-extra merge"});
}

TEST(SvhnImport, BigEndianFileGivesTheSameDataset) {
  TempDir dir;
  for (bool be : {false, true}) {
    const std::string d = dir / (be ? "be" : "le");
    fs::create_directories(d);
    MatWriter train(be), test(be);
    train.add(x_var(3, 0)).add(y_var({10, 1, 5}));
    test.add(y_var({10, 1}, true)).add(x_var(2, 1, true));
    write_bytes(d + "/train_32x32.mat", train.bytes(), false);
    write_bytes(d + "/test_32x32.mat", test.bytes(), false);
    import_svhn(d, d + "/out");
  }
  for (const char* split : {"train", "test"}) {
    Dataset le(dir / (std::string("le/out/") + split + ".h5")), be(dir / (std::string("be/out/") + split + ".h5"));
    EXPECT_EQ(le.labels(), be.labels());
    expect_svhn_images(be, std::string(split) == "train" ? 0 : 1);
  }
}

TEST(SvhnErrors, MissingFilesAndFolders) {
  TempDir dir;
  expect_error([&] { import_svhn(dir / "nope", dir / "out"); }, kExitNoInput,
               {"nope: no such folder", "train_32x32.mat and test_32x32.mat"});
  fs::create_directories(dir / "in");
  fs::copy_file(kZlib + "/train_32x32.mat", dir / "in/train_32x32.mat");
  expect_error([&] { import_svhn(dir / "in", dir / "out"); }, kExitNoInput,
               {"in/test_32x32.mat: no such file", "Format 2"});
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(SvhnErrors, LabelsOutsideOneToTen) {
  TempDir dir;
  copy_dir(kPlain, dir / "in");
  for (double bad : {11.0, 0.0, 2.5}) {
    MatWriter w(false);
    w.add(x_var(2, 0)).add(y_var({3, bad}));
    write_bytes(dir / "in/train_32x32.mat", w.bytes(), false);
    expect_error([&] { import_svhn(dir / "in", dir / "out"); }, kExitDataErr,
                 {"train_32x32.mat: variable 'y': label", "at index 1; expected SVHN's labels 1..10 (10 for the digit 0)"});
    EXPECT_FALSE(fs::exists(dir / "out/train.h5"));
  }
}

TEST(SvhnErrors, WrongVariables) {
  TempDir dir;
  copy_dir(kPlain, dir / "in");
  auto expect_train = [&](MatWriter& w, const std::vector<std::string>& fragments) {
    write_bytes(dir / "in/train_32x32.mat", w.bytes(), false);
    expect_error([&] { import_svhn(dir / "in", dir / "out"); }, kExitDataErr, fragments);
  };
  {
    MatWriter w(false);  // X as double
    w.add({"X", 6, 2, 1, {32, 32, 3, 1}, std::vector<uint8_t>(3072, 1)}).add(y_var({1}));
    expect_train(w, {"variable 'X': expected uint8 [32, 32, 3, N]", "found double [32, 32, 3, 1]"});
  }
  {
    MatWriter w(false);  // X with 2 channels
    w.add({"X", 9, 2, 1, {32, 32, 2, 1}, std::vector<uint8_t>(2048, 1)}).add(y_var({1}));
    expect_train(w, {"with 1 or 3 channels", "found uint8 [32, 32, 2, 1]"});
  }
  {
    MatWriter w(false);  // no X
    w.add(y_var({1})).add({"images", 9, 2, 1, {1, 1}, {1}});
    expect_train(w, {"no variable 'X' (the images); found y, images"});
  }
  {
    MatWriter w(false);  // no y
    w.add(x_var(1, 0));
    expect_train(w, {"no variable 'y' (the labels)"});
  }
  {
    MatWriter w(false);  // counts disagree
    w.add(x_var(2, 0)).add(y_var({1, 2, 3}));
    expect_train(w, {"'y' holds 3 labels but 'X' holds 2 images"});
  }
}

TEST(SvhnErrors, ADamagedChecksumOfTheImagesIsRefused) {
  TempDir dir;
  copy_dir(kPlain, dir / "in");
  MatWriter w(false);
  w.add(y_var({1, 2}, true)).add(x_var(2, 0, true));  // X last: its zlib trailer ends the file
  std::vector<unsigned char> b = w.bytes();
  const size_t size = b.size();
  ASSERT_GT(size, 200u);
  b[size - 1] = uint8_t(b[size - 1] ^ 0x01);
  write_bytes(dir / "in/train_32x32.mat", b, false);
  expect_error([&] { import_svhn(dir / "in", dir / "out"); }, kExitDataErr,
               {"train_32x32.mat: the compressed variable at offset", "corrupt compressed data (zlib: incorrect data check)"});
  EXPECT_FALSE(fs::exists(dir / "out/train.h5"));
}

TEST(SvhnErrors, TruncatedAndV73Files) {
  TempDir dir;
  copy_dir(kZlib, dir / "in");
  testing::truncate_file(dir / "in/test_32x32.mat", 0.6);
  expect_error([&] { import_svhn(dir / "in", dir / "out"); }, kExitDataErr, {"test_32x32.mat", "truncated"});
  EXPECT_EQ(dir.list(dir / "out"), (std::vector<std::string>{"train.h5"}));  // no temporary left
  std::vector<unsigned char> v73(600, 0);
  const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  std::copy(sig, sig + 8, v73.begin() + 512);
  write_bytes(dir / "in/test_32x32.mat", v73, false);
  expect_error([&] { import_svhn(dir / "in", dir / "out"); }, kExitDataErr, {"MATLAB v7.3 MAT-file", "'-v7'"});
}

}  // namespace
}  // namespace rampart
