// Streamed writes of the HDF5 wrapper (Group::create, Dataset::write_rows): rows written in
// blocks that end inside checksummed chunks read back exactly; rows never written are zeros;
// writes out of range or of the wrong type are refused.
#include <gtest/gtest.h>

#include <numeric>
#include <stdexcept>

#include "runtime/io/h5.h"
#include "tests/runtime/test_data_util.h"

namespace rampart {
namespace {

using testing::expect_error;
using testing::TempDir;

TEST(H5WriteRows, BlocksThatEndInsideChunksReadBackExactly) {
  TempDir dir;
  // 1000 rows of 3x32x32 bytes: chunks of 21 rows (64 KiB); blocks of 37 rows end mid-chunk.
  const int64_t n = 1000, row = 3 * 32 * 32;
  std::vector<uint8_t> all(size_t(n * row));
  for (size_t i = 0; i < all.size(); ++i) all[i] = uint8_t((i * 2654435761u) >> 13);
  h5::write_atomically(dir / "a.h5", [&](h5::File& f) {
    h5::Dataset d = f.root().create<uint8_t>("images", {n, 3, 32, 32}, h5::Integrity::kChecksumRows);
    for (int64_t b = 0; b < n; b += 37) d.write_rows<uint8_t>(b, std::min(n, b + 37), all.data() + b * row);
  });
  h5::File f = h5::File::open(dir / "a.h5");
  h5::Dataset d = f.root().dataset("images");
  EXPECT_EQ(d.shape(), (Shape{n, 3, 32, 32}));
  EXPECT_TRUE(d.checksummed());
  EXPECT_EQ(d.read<uint8_t>(), all);
}

TEST(H5WriteRows, UnwrittenRowsAreZerosAndOrderIsFree) {
  TempDir dir;
  h5::write_atomically(dir / "b.h5", [&](h5::File& f) {
    h5::Dataset d = f.root().create<float>("x", {5, 2});
    const float r3[2] = {3.5f, -1.f}, r0[2] = {7.f, 8.f};
    d.write_rows<float>(3, 4, r3);
    d.write_rows<float>(0, 1, r0);
    d.write_rows<float>(2, 2, r0);  // an empty range writes nothing
  });
  h5::File f = h5::File::open(dir / "b.h5");
  EXPECT_EQ(f.root().dataset("x").read<float>(), (std::vector<float>{7, 8, 0, 0, 0, 0, 3.5f, -1, 0, 0}));
}

TEST(H5WriteRows, OutOfRangeAndWrongTypeAreRefused) {
  TempDir dir;
  h5::File f = h5::File::create(dir / "c.h5");
  h5::Dataset d = f.root().create<uint8_t>("images", {4, 2}, h5::Integrity::kChecksumRows);
  std::vector<uint8_t> rows(10, 1);
  EXPECT_THROW(d.write_rows<uint8_t>(3, 5, rows.data()), std::out_of_range);
  EXPECT_THROW(d.write_rows<uint8_t>(-1, 1, rows.data()), std::out_of_range);
  std::vector<float> fl(4, 1.f);
  expect_error([&] { d.write_rows<float>(0, 2, fl.data()); }, kExitIoErr,
               {"c.h5:/images", "cannot write float32 rows into an array of uint8"});
}

}  // namespace
}  // namespace rampart
