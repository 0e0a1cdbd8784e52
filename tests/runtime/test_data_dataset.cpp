// Dataset: validation of the HDF5 layout, shard reads and the uint8 -> float conversion.
#include <gtest/gtest.h>

#include <fstream>

#include "runtime/data/dataset.h"
#include "runtime/data/import.h"
#include "runtime/io/h5.h"
#include "tests/runtime/test_data_util.h"

namespace rampart {
namespace {

using testing::expect_error;
using testing::TempDir;

// A dataset file written with the raw wrapper, so tests can break any part of it.
struct Spec {
  Shape images{6, 1, 2, 3};
  Shape labels{6};
  bool float_images = false;
  bool with_images = true, with_labels = true, with_classes = true;
  int64_t classes = 10;
  int64_t bad_label = 0;  // nonzero: written as the last label
  int64_t label_step = 1;  // label i is (i * label_step) % classes
  h5::DType label_type = h5::DType::kUInt8;  // also kInt64 (more than 256 classes), kFloat32, kInt8
};

std::string make(const TempDir& dir, const std::string& name, const Spec& s) {
  std::string path = dir / name;
  h5::File f = h5::File::create(path);
  std::vector<uint8_t> px(size_t(numel(s.images)));
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 13);
  if (s.with_images) {
    if (s.float_images) f.root().write<float>("images", s.images, std::vector<float>(px.begin(), px.end()));
    else f.root().write<uint8_t>("images", s.images, px);
  }
  std::vector<int64_t> lab(size_t(numel(s.labels)));
  for (size_t i = 0; i < lab.size(); ++i) lab[i] = int64_t(i) * s.label_step % s.classes;
  if (s.bad_label) lab.back() = s.bad_label;
  if (s.with_labels) {
    if (s.label_type == h5::DType::kInt64) f.root().write<int64_t>("labels", s.labels, lab);
    if (s.label_type == h5::DType::kUInt8)
      f.root().write<uint8_t>("labels", s.labels, std::vector<uint8_t>(lab.begin(), lab.end()));
    if (s.label_type == h5::DType::kFloat32)
      f.root().write<float>("labels", s.labels, std::vector<float>(lab.begin(), lab.end()));
    if (s.label_type == h5::DType::kInt8)
      f.root().write<int8_t>("labels", s.labels, std::vector<int8_t>(lab.begin(), lab.end()));
  }
  if (s.with_classes) f.root().set_attr("classes", int64_t(s.classes));
  f.root().set_attr("source", "unit test");
  return path;
}

TEST(DataDataset, OpensValidFileAndReadsShards) {
  TempDir dir;
  Dataset ds(make(dir, "ok.h5", {}));
  EXPECT_EQ(ds.size(), 6);
  EXPECT_EQ(ds.image_shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(ds.classes(), 10);
  EXPECT_EQ(ds.source(), "unit test");
  std::vector<uint8_t> img(3 * 6);
  std::vector<int32_t> lab(3);
  ds.read_rows({5, 1, 2}, img.data(), lab.data());
  const int64_t rows[] = {5, 1, 2};
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(lab[k], rows[k] % 10);
    for (int j = 0; j < 6; ++j) EXPECT_EQ(img[k * 6 + j], uint8_t((rows[k] * 6 + j) * 13));
  }
  EXPECT_THROW(ds.read_rows({6}, img.data(), lab.data()), std::out_of_range);
  EXPECT_THROW(ds.read_range(4, 7, img.data(), lab.data()), std::out_of_range);

  Dataset limited(dir / "ok.h5", 4);
  EXPECT_EQ(limited.size(), 4);
  EXPECT_THROW(limited.read_range(0, 5, img.data(), lab.data()), std::out_of_range);
}

TEST(DataDataset, RejectsBrokenLayouts) {
  TempDir dir;
  Spec no_labels;
  no_labels.with_labels = false;
  expect_error([&] { Dataset(make(dir, "a.h5", no_labels)); }, kExitDataErr, {"a.h5", "missing dataset /labels"});
  Spec no_images;
  no_images.with_images = false;
  expect_error([&] { Dataset(make(dir, "b.h5", no_images)); }, kExitDataErr, {"b.h5", "missing dataset /images"});
  Spec rank3;
  rank3.images = {6, 2, 3};
  expect_error([&] { Dataset(make(dir, "c.h5", rank3)); }, kExitDataErr,
               {"c.h5:/images", "expected uint8 [N, C, H, W]", "found uint8 [6, 2, 3]"});
  Spec floats;
  floats.float_images = true;
  expect_error([&] { Dataset(make(dir, "d.h5", floats)); }, kExitDataErr,
               {"d.h5:/images", "expected uint8 [N, C, H, W]", "found float32 [6, 1, 2, 3]"});
  Spec mismatch;
  mismatch.labels = {5};
  expect_error([&] { Dataset(make(dir, "e.h5", mismatch)); }, kExitDataErr,
               {"e.h5", "6 images", "5 labels", "expected the same N"});
  Spec bad_label;
  bad_label.bad_label = 10;
  expect_error([&] { Dataset(make(dir, "f.h5", bad_label)); }, kExitDataErr,
               {"f.h5", "/labels[5] = 10", "expected a label in [0, 10)"});
  Spec no_classes;
  no_classes.with_classes = false;
  expect_error([&] { Dataset(make(dir, "g.h5", no_classes)); }, kExitDataErr, {"g.h5", "missing attribute 'classes'"});
  Spec label_rank;
  label_rank.labels = {6, 1};
  expect_error([&] { Dataset(make(dir, "h.h5", label_rank)); }, kExitDataErr,
               {"h.h5:/labels", "expected uint8 [N] or int64 [N]", "found uint8 [6, 1]"});
  Spec empty;
  empty.images = {0, 1, 2, 3};
  empty.labels = {0};
  expect_error([&] { Dataset(make(dir, "i.h5", empty)); }, kExitDataErr,
               {"i.h5: /images holds 0 images (shape [0, 1, 2, 3]); expected at least 1"});
}

// More than 256 classes (ImageNet-1k): /labels is int64 on disk, int32 in memory.
TEST(DataDataset, ReadsInt64LabelsForManyClasses) {
  TempDir dir;
  Spec wide;
  wide.label_type = h5::DType::kInt64;
  wide.classes = 1000;
  wide.label_step = 333;  // 0, 333, 666, 999, 332, 665
  Dataset ds(make(dir, "wide.h5", wide));
  EXPECT_EQ(ds.classes(), 1000);
  EXPECT_EQ(ds.labels(), (std::vector<int32_t>{0, 333, 666, 999, 332, 665}));
  std::vector<uint8_t> img(2 * 6);
  std::vector<int32_t> lab(2);
  ds.read_rows({3, 1}, img.data(), lab.data());
  EXPECT_EQ(lab, (std::vector<int32_t>{999, 333}));
  ds.read_range(4, 6, img.data(), lab.data());
  EXPECT_EQ(lab, (std::vector<int32_t>{332, 665}));

  // uint8 stays valid whatever the class count, and int64 for a few classes too.
  Spec narrow_many;
  narrow_many.classes = 300;
  EXPECT_EQ(Dataset(make(dir, "narrow.h5", narrow_many)).classes(), 300);
  Spec wide_few;
  wide_few.label_type = h5::DType::kInt64;
  EXPECT_EQ(Dataset(make(dir, "few.h5", wide_few)).labels(), (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
}

TEST(DataDataset, RejectsBadInt64LabelsAndOtherLabelTypes) {
  TempDir dir;
  Spec wide;
  wide.label_type = h5::DType::kInt64;
  wide.classes = 1000;
  wide.bad_label = 1000;
  expect_error([&] { Dataset(make(dir, "a.h5", wide)); }, kExitDataErr,
               {"a.h5", "/labels[5] = 1000", "expected a label in [0, 1000)"});
  wide.bad_label = -1;
  expect_error([&] { Dataset(make(dir, "b.h5", wide)); }, kExitDataErr,
               {"b.h5", "/labels[5] = -1", "expected a label in [0, 1000)"});
  wide.bad_label = int64_t(1) << 40;  // would wrap to 0 as int32
  expect_error([&] { Dataset(make(dir, "c.h5", wide)); }, kExitDataErr,
               {"c.h5", "/labels[5] = 1099511627776", "expected a label in [0, 1000)"});
  Spec floats;
  floats.label_type = h5::DType::kFloat32;
  expect_error([&] { Dataset(make(dir, "d.h5", floats)); }, kExitDataErr,
               {"d.h5:/labels", "expected uint8 [N] or int64 [N]", "found float32 [6]"});
  Spec int8s;
  int8s.label_type = h5::DType::kInt8;
  expect_error([&] { Dataset(make(dir, "e.h5", int8s)); }, kExitDataErr,
               {"e.h5:/labels", "expected uint8 [N] or int64 [N]", "found int8 [6]"});
  Spec absurd;
  absurd.label_type = h5::DType::kInt64;
  absurd.classes = kMaxClasses + 1;
  expect_error([&] { Dataset(make(dir, "f.h5", absurd)); }, kExitDataErr,
               {"f.h5", "attribute 'classes': expected 1 to 1000000, found 1000001"});
}

TEST(DataDataset, RejectsMissingTruncatedAndRandomFiles) {
  TempDir dir;
  expect_error([&] { Dataset(dir / "absent.h5"); }, kExitNoInput, {"absent.h5", "no such file"});

  std::string good = make(dir, "cut.h5", Spec{.images = {200, 1, 28, 28}, .labels = {200}});
  testing::truncate_file(good, 0.5);
  expect_error([&] { Dataset(dir / "cut.h5"); }, kExitDataErr,
               {"cut.h5 is not a valid HDF5 file (truncated or corrupt?)"});

  std::vector<unsigned char> noise(10000);
  uint32_t x = 12345;
  for (auto& b : noise) { x = x * 1664525u + 1013904223u; b = (unsigned char)(x >> 24); }
  testing::write_bytes(dir / "noise.h5", noise, false);
  expect_error([&] { Dataset(dir / "noise.h5"); }, kExitDataErr,
               {"noise.h5 is not a valid HDF5 file (truncated or corrupt?)"});
}

// Datasets written with row checksums (as `rampart data import` writes them): a flipped bit
// anywhere in the pixels is refused when the dataset is opened, naming the array, not found
// later by a training step (or never).
TEST(DataDataset, FlippedPixelBitIsRefusedOnOpen) {
  TempDir dir;
  const std::string path = dir / "sum.h5";
  const int64_t n = 300, c = 1, h = 28, w = 28;  // several 64 KiB chunks
  {
    h5::File f = h5::File::create(path);
    std::vector<uint8_t> px(static_cast<size_t>(n * c * h * w)), lab(static_cast<size_t>(n));
    for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 7);
    for (size_t i = 0; i < lab.size(); ++i) lab[i] = uint8_t(i % 10);
    EXPECT_TRUE(f.root().write<uint8_t>("images", {n, c, h, w}, px, h5::Integrity::kChecksumRows).checksummed());
    f.root().write<uint8_t>("labels", {n}, lab, h5::Integrity::kChecksumRows);
    f.root().set_attr("classes", int64_t(10));
  }
  {  // closed before the flip: HDF5 shares one chunk cache between handles of one open file
    Dataset ok(path);
    std::vector<uint8_t> img(static_cast<size_t>(3 * c * h * w));
    std::vector<int32_t> lab(3);
    ok.read_rows({299, 0, 150}, img.data(), lab.data());
    EXPECT_EQ(img[0], uint8_t(299 * 784 * 7));
    EXPECT_EQ(lab[2], 0);
  }

  // The byte offset of the last chunk of /images in the file, from HDF5's chunk index.
  haddr_t addr = 0;
  hsize_t bytes = 0;
  {
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "images", H5P_DEFAULT);
    hid_t space = H5Dget_space(d);
    hsize_t chunks = 0;
    ASSERT_GE(H5Dget_num_chunks(d, space, &chunks), 0);
    ASSERT_GT(chunks, 2u);
    unsigned mask = 0;
    ASSERT_GE(H5Dget_chunk_info(d, space, chunks - 1, nullptr, &mask, &addr, &bytes), 0);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
  }
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(std::streamoff(addr + bytes / 2));
    char byte = 0;
    file.read(&byte, 1);
    byte = char(byte ^ 0x10);
    file.seekp(std::streamoff(addr + bytes / 2));
    file.write(&byte, 1);
  }
  expect_error([&] { Dataset broken(path); }, kExitDataErr, {path, "/images"});
}

TEST(DataDataset, ImagesToTensorIsChannelsLastInUnitRange) {
  // 2 images, 3 channels, 2x2: value encodes (n, c, pixel).
  const int64_t n = 2, c = 3, h = 2, w = 2;
  std::vector<uint8_t> nchw(n * c * h * w);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < h * w; ++p) nchw[(b * c + ch) * h * w + p] = uint8_t(100 * b + 10 * ch + p);
  Tensor t;
  images_to_tensor(nchw.data(), n, c, h, w, t);
  EXPECT_EQ(t.shape(), (Shape{n, c, h, w}));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t p = 0; p < h * w; ++p)
      for (int64_t ch = 0; ch < c; ++ch)
        EXPECT_EQ(t[(b * h * w + p) * c + ch], float(100 * b + 10 * ch + p) / 255.f);
  std::vector<uint8_t> gray{0, 255, 128, 1};
  images_to_tensor(gray.data(), 1, 1, 2, 2, t);
  EXPECT_EQ(t[0], 0.f);
  EXPECT_EQ(t[1], 1.f);
  EXPECT_EQ(t[2], 128.f / 255.f);
  EXPECT_EQ(t[3], 1.f / 255.f);
}

}  // namespace
}  // namespace rampart
