// IDX reading and `data import`: round trips (plain and gzip), the real
// Fashion-MNIST test set where installed, and bad inputs with exact exit codes.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "runtime/data/dataset.h"
#include "runtime/data/idx.h"
#include "runtime/data/import.h"
#include "runtime/io/h5.h"
#include "tests/runtime/test_data_util.h"

namespace rampart {
namespace {

using testing::expect_error;
using testing::idx_bytes;
using testing::TempDir;
using testing::write_bytes;

constexpr uint32_t kImagesMagic = 0x00000803, kLabelsMagic = 0x00000801;

std::vector<unsigned char> pattern(size_t n, unsigned seed) {
  std::vector<unsigned char> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) { x = x * 1664525u + 1013904223u; b = (unsigned char)(x >> 24); }
  return v;
}

class IdxImport : public ::testing::TestWithParam<bool> {};

TEST_P(IdxImport, RoundTripThroughHdf5) {
  const bool gz = GetParam();
  TempDir dir;
  const uint32_t n = 7, h = 4, w = 3;
  auto pixels = pattern(n * h * w, 1);
  std::vector<unsigned char> labels{3, 0, 9, 1, 1, 5, 2};
  write_bytes(dir / "img", idx_bytes(kImagesMagic, {n, h, w}, pixels), gz);
  write_bytes(dir / "lab", idx_bytes(kLabelsMagic, {n}, labels), gz);

  IdxImages im = read_idx_images(dir / "img");
  EXPECT_EQ(im.n, n);
  EXPECT_EQ(im.rows, h);
  EXPECT_EQ(im.cols, w);
  EXPECT_EQ(std::vector<unsigned char>(im.pixels.begin(), im.pixels.end()), pixels);

  ImportSummary s = import_idx(dir / "img", dir / "lab", dir / "out.h5", "synthetic");
  EXPECT_EQ(s.n, n);
  EXPECT_EQ(s.classes, 10);
  EXPECT_EQ(dir.files(), (std::vector<std::string>{"img", "lab", "out.h5"}));  // no temporary left

  // The layout of DESIGN.md, checked with the raw wrapper.
  h5::File f = h5::File::open(dir / "out.h5");
  EXPECT_EQ(f.root().dataset("images").shape(), (Shape{n, 1, h, w}));
  EXPECT_EQ(f.root().dataset("images").dtype(), h5::DType::kUInt8);
  EXPECT_EQ(f.root().dataset("labels").shape(), (Shape{n}));
  EXPECT_EQ(f.root().dataset("labels").dtype(), h5::DType::kUInt8);  // int64 only above 256 classes
  EXPECT_EQ(f.root().attr_int("classes"), 10);
  EXPECT_EQ(f.root().attr_string("source"), "synthetic");
  // Small chunks of rows, each with a checksum that every read verifies.
  for (const char* name : {"images", "labels"}) {
    h5::Dataset d = f.root().dataset(name);
    EXPECT_TRUE(d.checksummed()) << name;
    h5::Handle dcpl(H5Dget_create_plist(d.id()), H5Pclose);
    EXPECT_EQ(H5Pget_layout(dcpl.get()), H5D_CHUNKED) << name;
    hsize_t chunk[4] = {0, 0, 0, 0};
    ASSERT_GE(H5Pget_chunk(dcpl.get(), 4, chunk), 1);
    EXPECT_LE(chunk[0] * hsize_t(d.row_elems()), hsize_t(64) << 10) << name;
  }

  Dataset ds(dir / "out.h5");
  EXPECT_EQ(ds.size(), n);
  EXPECT_EQ(ds.image_shape(), (Shape{1, h, w}));
  std::vector<uint8_t> all(n * h * w);
  std::vector<int32_t> lab(n);
  ds.read_range(0, n, all.data(), lab.data());
  EXPECT_EQ(std::vector<unsigned char>(all.begin(), all.end()), pixels);
  EXPECT_EQ(lab, std::vector<int32_t>(labels.begin(), labels.end()));
}

INSTANTIATE_TEST_SUITE_P(Idx, IdxImport, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "gzip" : "plain"; });

TEST(IdxImportClasses, CountFollowsLabelsOrIsChecked) {
  TempDir dir;
  write_bytes(dir / "img", idx_bytes(kImagesMagic, {3, 2, 2}, pattern(12, 2)), false);
  write_bytes(dir / "lab", idx_bytes(kLabelsMagic, {3}, {0, 12, 4}), false);
  EXPECT_EQ(import_idx(dir / "img", dir / "lab", dir / "a.h5", "x").classes, 13);
  EXPECT_EQ(Dataset(dir / "a.h5").classes(), 13);
  expect_error([&] { import_idx(dir / "img", dir / "lab", dir / "b.h5", "x", 10); }, kExitDataErr,
               {"label 12 at index 1 is out of range", "expected labels in [0, 10)"});
  EXPECT_FALSE(std::filesystem::exists(dir / "b.h5"));
  // The writer stores uint8 up to 256 classes and int64 above (dataset.h), and bounds the count.
  import_idx(dir / "img", dir / "lab", dir / "c.h5", "x", 256);
  EXPECT_EQ(h5::File::open(dir / "c.h5").root().dataset("labels").dtype(), h5::DType::kUInt8);
  import_idx(dir / "img", dir / "lab", dir / "d.h5", "x", 257);
  EXPECT_EQ(h5::File::open(dir / "d.h5").root().dataset("labels").dtype(), h5::DType::kInt64);
  EXPECT_EQ(Dataset(dir / "d.h5").labels(), (std::vector<int32_t>{0, 12, 4}));
  expect_error([&] { import_idx(dir / "img", dir / "lab", dir / "e.h5", "x", int(kMaxClasses) + 1); }, kExitDataErr,
               {"1000001 classes: expected 1 to 1000000"});
  EXPECT_FALSE(std::filesystem::exists(dir / "e.h5"));
}

TEST(IdxImportReshape, PadAndReplicateTheGreyChannel) {
  TempDir dir;
  const uint32_t n = 2, h = 3, w = 4;
  auto pixels = pattern(n * h * w, 9);
  for (auto& p : pixels) p = uint8_t(p | 1);  // no zero pixels: the border is told apart
  write_bytes(dir / "img", idx_bytes(kImagesMagic, {n, h, w}, pixels), false);
  write_bytes(dir / "lab", idx_bytes(kLabelsMagic, {n}, {7, 1}), false);
  ImportSummary s = import_idx(dir / "img", dir / "lab", dir / "p.h5", "x", 0, ImageReshape{2, 3});
  EXPECT_EQ(s.channels, 3);
  EXPECT_EQ(s.height, 7);
  EXPECT_EQ(s.width, 8);
  Dataset ds(dir / "p.h5");
  EXPECT_EQ(ds.image_shape(), (Shape{3, 7, 8}));
  std::vector<uint8_t> all(size_t(n) * 3 * 7 * 8);
  std::vector<int32_t> lab(n);
  ds.read_range(0, n, all.data(), lab.data());
  for (uint32_t i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 7; ++y)
        for (int x = 0; x < 8; ++x) {
          const bool inside = y >= 2 && y < 5 && x >= 2 && x < 6;
          const uint8_t want = inside ? pixels[(i * h + uint32_t(y - 2)) * w + uint32_t(x - 2)] : 0;
          ASSERT_EQ(all[((i * 3 + uint32_t(c)) * 7 + uint32_t(y)) * 8 + uint32_t(x)], want)
              << "image " << i << " channel " << c << " y " << y << " x " << x;
        }
  // Fashion-MNIST for CIFAR-sized networks: 28x28 -> 32x32 with --pad 2.
  write_bytes(dir / "img28", idx_bytes(kImagesMagic, {1, 28, 28}, pattern(784, 1)), false);
  write_bytes(dir / "lab1", idx_bytes(kLabelsMagic, {1}, {0}), false);
  EXPECT_EQ(import_idx(dir / "img28", dir / "lab1", dir / "q.h5", "x", 0, ImageReshape{2, 0}).height, 32);
  expect_error([&] { import_idx(dir / "img", dir / "lab", dir / "r.h5", "x", 0, ImageReshape{0, 2}); }, kExitConfig,
               {"--channels 2", "has 1 channel", "expected --channels 1 or 3"});
  expect_error([&] { import_idx(dir / "img", dir / "lab", dir / "r.h5", "x", 0, ImageReshape{-1, 0}); }, kExitConfig,
               {"--pad must be an integer in [0, 1024], found -1"});
  EXPECT_FALSE(std::filesystem::exists(dir / "r.h5"));
}

TEST(IdxFashionMnist, ImportsTheTestSet) {
  const std::string dir_in = RAMPART_FMNIST;
  const std::string img = dir_in + "/t10k-images-idx3-ubyte.gz", lab = dir_in + "/t10k-labels-idx1-ubyte.gz";
  if (!std::filesystem::exists(img) || !std::filesystem::exists(lab))
    GTEST_SKIP() << "Fashion-MNIST not installed at " << dir_in << " (apt-get install dataset-fashion-mnist)";
  TempDir dir;
  ImportSummary s = import_idx(img, lab, dir / "test.h5", "fashion-mnist t10k");
  EXPECT_EQ(s.n, 10000);
  Dataset ds(dir / "test.h5");
  EXPECT_EQ(ds.size(), 10000);
  EXPECT_EQ(ds.channels(), 1);
  EXPECT_EQ(ds.height(), 28);
  EXPECT_EQ(ds.width(), 28);
  EXPECT_EQ(ds.classes(), 10);
  EXPECT_EQ(ds.source(), "fashion-mnist t10k");
  const std::vector<int32_t> first{9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
  EXPECT_EQ(std::vector<int32_t>(ds.labels().begin(), ds.labels().begin() + 10), first);

  // The golden file's batch is the first 16 test images: an independent reader's view of the same bytes.
  h5::File golden = h5::File::open(std::string(RAMPART_TESTDATA) + "/small_cnn_golden.h5");
  std::vector<uint8_t> want = golden.root().dataset("batch/images_u8").read<uint8_t>();
  std::vector<uint8_t> want_labels = golden.root().dataset("batch/labels").read<uint8_t>();
  std::vector<uint8_t> got(16 * 784);
  std::vector<int32_t> got_labels(16);
  ds.read_range(0, 16, got.data(), got_labels.data());
  EXPECT_EQ(got, want);
  EXPECT_EQ(got_labels, std::vector<int32_t>(want_labels.begin(), want_labels.end()));

  // A shard read in shuffled order equals the matching rows of a range read.
  std::vector<int64_t> rows{9999, 17, 18, 19, 5000, 0};
  std::vector<uint8_t> shard(rows.size() * 784), one(784);
  std::vector<int32_t> shard_labels(rows.size()), one_label(1);
  ds.read_rows(rows, shard.data(), shard_labels.data());
  for (size_t k = 0; k < rows.size(); ++k) {
    ds.read_range(rows[k], rows[k] + 1, one.data(), one_label.data());
    EXPECT_TRUE(std::equal(one.begin(), one.end(), shard.begin() + k * 784)) << "row " << rows[k];
    EXPECT_EQ(shard_labels[k], one_label[0]);
  }
}

TEST(IdxErrors, MissingFile) {
  TempDir dir;
  write_bytes(dir / "lab", idx_bytes(kLabelsMagic, {1}, {0}), false);
  expect_error([&] { read_idx_images(dir / "nope.gz"); }, kExitNoInput, {"nope.gz", "no such file", "IDX images"});
  expect_error([&] { import_idx(dir / "nope.gz", dir / "lab", dir / "o.h5", "x"); }, kExitNoInput, {"nope.gz"});
  EXPECT_FALSE(std::filesystem::exists(dir / "o.h5"));
  // A directory is named as one, not as a missing file.
  expect_error([&] { read_idx_images(dir.path()); }, kExitNoInput,
               {dir.path() + " is a directory, expected an IDX images file", "t10k-images-idx3-ubyte.gz"});
}

TEST(IdxErrors, TruncatedPlain) {
  TempDir dir;
  write_bytes(dir / "img", idx_bytes(kImagesMagic, {5, 4, 3}, pattern(20, 3)), false);
  expect_error([&] { read_idx_images(dir / "img"); }, kExitDataErr,
               {"expected 60 bytes of pixels for 5 images of 4x3, found 20"});
  write_bytes(dir / "lab", idx_bytes(kLabelsMagic, {100}, pattern(40, 4)), false);
  expect_error([&] { read_idx_labels(dir / "lab"); }, kExitDataErr, {"expected 100 bytes of labels", "found 40"});
  write_bytes(dir / "hdr", {0, 0, 8, 3, 0, 0}, false);
  expect_error([&] { read_idx_images(dir / "hdr"); }, kExitDataErr, {"expected a 16-byte IDX header", "found 6 bytes"});
}

TEST(IdxErrors, TruncatedGzip) {
  TempDir dir;
  // Random pixels do not compress: cutting the .gz in half cuts the pixels about in half.
  write_bytes(dir / "img.gz", idx_bytes(kImagesMagic, {100, 28, 28}, pattern(78400, 5)), true);
  testing::truncate_file(dir / "img.gz", 0.5);
  expect_error([&] { read_idx_images(dir / "img.gz"); }, kExitDataErr,
               {"img.gz (gzip)", "expected 78400 bytes of pixels for 100 images of 28x28, found "});
  try {
    read_idx_images(dir / "img.gz");
  } catch (const DataError& e) {
    std::string m = e.what();
    long found = std::stol(m.substr(m.find(", found ") + 8));
    EXPECT_GT(found, 0);
    EXPECT_LT(found, 78400);
  }
}

TEST(IdxErrors, GzipWithoutItsTrailer) {
  TempDir dir;
  // Every pixel arrives, but the 8-byte trailer (CRC-32 and length) is cut: the data cannot be
  // verified, so it is refused rather than imported unchecked.
  write_bytes(dir / "img.gz", idx_bytes(kImagesMagic, {10, 4, 4}, pattern(160, 7)), true);
  const auto size = std::filesystem::file_size(dir / "img.gz");
  std::filesystem::resize_file(dir / "img.gz", size - 8);
  expect_error([&] { read_idx_images(dir / "img.gz"); }, kExitDataErr,
               {"img.gz (gzip)", "ends before its CRC-32 and length trailer"});
  // A damaged trailer (CRC-32 that does not match) is zlib's own error.
  write_bytes(dir / "bad.gz", idx_bytes(kImagesMagic, {10, 4, 4}, pattern(160, 7)), true);
  {
    std::FILE* f = std::fopen((dir / "bad.gz").c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, -8, SEEK_END);
    std::fputc(0x5a, f);
    std::fputc(0xa5, f);
    std::fclose(f);
  }
  expect_error([&] { read_idx_images(dir / "bad.gz"); }, kExitDataErr, {"bad.gz (gzip)", "corrupt compressed data"});
}

TEST(IdxErrors, HugeClaimedCountFailsOnTheDataNotOnAllocation) {
  TempDir dir;
  // 20 million images of 28x28 claimed (15.7 GB), 100 bytes present: the reader must say so
  // after reading what is there, not allocate the claimed size first.
  write_bytes(dir / "img", idx_bytes(kImagesMagic, {20000000, 28, 28}, pattern(100, 8)), false);
  expect_error([&] { read_idx_images(dir / "img"); }, kExitDataErr,
               {"expected 15680000000 bytes of pixels for 20000000 images of 28x28, found 100"});
}

TEST(IdxErrors, HeaderDimensionsThatOverflowAreACorruptHeader) {
  TempDir dir;
  // Found by fuzzing: rows x cols overflowed int64 before the size check.
  write_bytes(dir / "img", idx_bytes(kImagesMagic, {0xffffffffu, 0xff000000u, 0xffffffffu}, {}), false);
  expect_error([&] { read_idx_images(dir / "img"); }, kExitDataErr, {"more than 1 TiB: corrupt header?"});
}

TEST(IdxErrors, WrongMagic) {
  TempDir dir;
  write_bytes(dir / "lab", idx_bytes(kLabelsMagic, {2}, {1, 2}), true);
  expect_error([&] { read_idx_images(dir / "lab"); }, kExitDataErr,
               {"expected IDX magic 0x00000803 (uint8, 3 dims) for images, found 0x00000801", "labels file?"});
  write_bytes(dir / "png", {0x89, 'P', 'N', 'G', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false);
  expect_error([&] { read_idx_labels(dir / "png"); }, kExitDataErr,
               {"expected IDX magic 0x00000801 (uint8, 1 dim) for labels, found 0x89504e47 (not an IDX file)"});
}

TEST(IdxErrors, TrailingBytes) {
  TempDir dir;
  write_bytes(dir / "lab", idx_bytes(kLabelsMagic, {2}, {1, 2, 3}), false);
  expect_error([&] { read_idx_labels(dir / "lab"); }, kExitDataErr, {"expected 2 bytes of labels", "found more"});
}

TEST(IdxErrors, CountMismatch) {
  TempDir dir;
  write_bytes(dir / "img", idx_bytes(kImagesMagic, {5, 2, 2}, pattern(20, 6)), false);
  write_bytes(dir / "lab", idx_bytes(kLabelsMagic, {4}, {1, 2, 3, 4}), false);
  expect_error([&] { import_idx(dir / "img", dir / "lab", dir / "o.h5", "x"); }, kExitDataErr,
               {"holds 5 images", "holds 4 labels", "expected the same count"});
  EXPECT_EQ(dir.files(), (std::vector<std::string>{"img", "lab"}));
}

}  // namespace
}  // namespace rampart
