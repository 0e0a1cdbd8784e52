// The MAT-file reader (runtime/data/mat5.h): files made by scipy.io.savemat (tests/data/svhn-*,
// see its README), compressed and not; files made here in both byte orders and with MATLAB's
// storage tricks; what it refuses, truncated and damaged files.
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

TEST(Mat5, ReadsScipysCompressedFile) {
  mat5::Reader r(kZlib + "/train_32x32.mat");
  EXPECT_FALSE(r.big_endian());
  ASSERT_TRUE(r.next());
  EXPECT_EQ(r.var().name, "X");
  EXPECT_EQ(r.var().class_name, "uint8");
  EXPECT_EQ(r.var().dims, (std::vector<int64_t>{32, 32, 3, 3}));
  EXPECT_TRUE(r.var().compressed);
  std::vector<uint8_t> x(32 * 32 * 3 * 3);
  r.read_uint8(1000, x.data());  // in pieces, as the importer reads
  r.read_uint8(int64_t(x.size()) - 1000, x.data() + 1000);
  EXPECT_EQ(x, x_bytes(3, 0));
  ASSERT_TRUE(r.next());
  EXPECT_EQ(r.var().name, "y");
  EXPECT_EQ(r.var().class_name, "double");
  EXPECT_EQ(r.var().dims, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(r.read_doubles(), (std::vector<double>{10, 1, 5}));
  EXPECT_FALSE(r.next());
}

TEST(Mat5, ReadsScipysPlainFileWithASmallElement) {
  mat5::Reader r(kPlain + "/test_32x32.mat");
  ASSERT_TRUE(r.next());
  EXPECT_EQ(r.var().name, "y");
  EXPECT_FALSE(r.var().compressed);
  EXPECT_EQ(r.var().class_name, "uint8");
  EXPECT_EQ(r.read_doubles(), (std::vector<double>{10}));  // one byte, inside its tag
  ASSERT_TRUE(r.next());
  EXPECT_EQ(r.var().name, "X");
  EXPECT_EQ(r.var().dims, (std::vector<int64_t>{32, 32, 3, 1}));
  EXPECT_FALSE(r.next());  // X left unread: skipped by its size
}

TEST(Mat5, BothByteOrdersStorageTypesAndSkippedVariables) {
  TempDir dir;
  for (bool be : {false, true})
    for (bool z : {false, true}) {
      SCOPED_TRACE(std::string(be ? "big-endian" : "little-endian") + (z ? ", compressed" : ", plain"));
      MatWriter w(be);
      // A double array stored as uint8 (MATLAB's saving of small integers), int16 and single values,
      // a string and a cell between them (skipped), and a long name (a normal-form element).
      w.add({"a", 6, 2, 1, {1, 3}, {10, 0, 255}, false, z});
      w.add({"txt", 4, 4, 2, {1, 2}, {}, false, z});
      w.add({"cells", 1, 0, 0, {1, 1}, {}, false, z});
      w.add({"int16s", 10, 3, 2, {2, 2}, le_bytes(std::vector<int16_t>{-3, 300, 0, 7}), false, z});
      w.add({"single_values", 7, 7, 4, {1, 2}, le_bytes(std::vector<float>{1.5f, -2.25f}), false, z});
      write_bytes(dir / "v.mat", w.bytes(), false);
      mat5::Reader r(dir / "v.mat");
      EXPECT_EQ(r.big_endian(), be);
      ASSERT_TRUE(r.next());
      EXPECT_EQ(r.var().class_name, "double");
      EXPECT_EQ(r.read_doubles(), (std::vector<double>{10, 0, 255}));
      ASSERT_TRUE(r.next());
      EXPECT_EQ(r.var().name, "txt");
      expect_error([&] { r.read_doubles(); }, kExitDataErr,
                   {"v.mat: variable 'txt': expected a numeric array for its values, found a char [1, 2]"});
      ASSERT_TRUE(r.next());
      EXPECT_EQ(r.var().class_name, "cell");
      ASSERT_TRUE(r.next());
      EXPECT_EQ(r.var().dims, (std::vector<int64_t>{2, 2}));
      EXPECT_EQ(r.read_doubles(), (std::vector<double>{-3, 300, 0, 7}));
      ASSERT_TRUE(r.next());
      EXPECT_EQ(r.var().name, "single_values");
      EXPECT_EQ(r.read_doubles(), (std::vector<double>{1.5, -2.25}));
      EXPECT_FALSE(r.next());
    }
}

TEST(Mat5, RefusesWhatItDoesNotRead) {
  TempDir dir;
  // MATLAB v7.3: a 512-byte user block (its text says so), then HDF5.
  std::vector<unsigned char> v73(1024, 0);
  const std::string text = "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .";
  std::copy(text.begin(), text.end(), v73.begin());
  const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  std::copy(sig, sig + 8, v73.begin() + 512);
  write_bytes(dir / "v73.mat", v73, false);
  expect_error([&] { mat5::Reader r(dir / "v73.mat"); }, kExitDataErr,
               {"v73.mat is a MATLAB v7.3 MAT-file (HDF5 inside)", "'-v7'", "scipy.io.savemat", "h5py"});
  std::fill(v73.begin(), v73.begin() + 128, 'x');  // the signature alone is enough
  write_bytes(dir / "v73b.mat", v73, false);
  expect_error([&] { mat5::Reader r(dir / "v73b.mat"); }, kExitDataErr, {"MATLAB v7.3 MAT-file"});

  write_bytes(dir / "text.mat", std::vector<unsigned char>(200, 'a'), false);
  expect_error([&] { mat5::Reader r(dir / "text.mat"); }, kExitDataErr,
               {"not a level 5 MAT-file: expected the endian indicator 'IM' or 'MI' at bytes 126-127",
                "found bytes 97 97"});
  write_bytes(dir / "short.mat", {1, 2, 3}, false);
  expect_error([&] { mat5::Reader r(dir / "short.mat"); }, kExitDataErr, {"3 bytes, too short for a MAT-file"});
  expect_error([&] { mat5::Reader r(dir / "none.mat"); }, kExitNoInput, {"none.mat: no such file"});

  MatWriter w(false);
  w.add({"z", 6, 9, 8, {1, 1}, le_bytes(std::vector<double>{1}), /*complex=*/true});
  write_bytes(dir / "complex.mat", w.bytes(), false);
  mat5::Reader r(dir / "complex.mat");
  ASSERT_TRUE(r.next());
  expect_error([&] { r.read_doubles(); }, kExitDataErr,
               {"variable 'z': expected real numbers for its values, found a complex double array"});
}

TEST(Mat5, TruncatedAndCorruptFiles) {
  TempDir dir;
  // Plain: the variable claims more bytes than the file holds.
  fs::copy_file(kPlain + "/train_32x32.mat", dir / "cut.mat");
  testing::truncate_file(dir / "cut.mat", 0.5);
  mat5::Reader a(dir / "cut.mat");
  expect_error([&] { a.next(); }, kExitDataErr,
               {"cut.mat: the variable at offset 128 claims", "bytes, but the file ends", "truncated file?"});
  // Compressed, cut inside the zlib stream: the reader stops where the data does.
  MatWriter w(false);
  w.add(x_var(4, 0, true)).add(y_var({1, 2, 3, 4}, true));
  std::vector<unsigned char> bytes = w.bytes();
  // Random-looking pixels would not compress; these do, so flip bytes in the middle of X's stream.
  std::vector<unsigned char> bad = bytes;
  for (size_t i = 160; i < 200; ++i) bad[i] ^= 0x5a;
  write_bytes(dir / "bad.mat", bad, false);
  mat5::Reader b(dir / "bad.mat");
  std::vector<uint8_t> x(32 * 32 * 3 * 4);
  expect_error(
      [&] {
        b.next();
        b.read_uint8(int64_t(x.size()), x.data());
        b.next();  // the zlib checksum is checked at the end of the variable
      },
      kExitDataErr, {"bad.mat", "compressed"});
}

// Damage at random places (a few flipped bytes, or a cut) is a rampart error or a clean read,
// never a crash, a hang or another exception: a small deterministic fuzz of the reader.
TEST(Mat5, RandomDamageIsADataErrorNeverACrash) {
  TempDir dir;
  MatWriter be(true);
  be.add(x_var(1, 0, true)).add({"s", 10, 3, 2, {1, 3}, le_bytes(std::vector<int16_t>{1, -2, 3})}).add(y_var({4}));
  write_bytes(dir / "be.mat", be.bytes(), false);
  std::vector<std::vector<unsigned char>> originals;
  for (const std::string& f : {kZlib + "/train_32x32.mat", kPlain + "/test_32x32.mat", dir / "be.mat"}) {
    std::ifstream in(f, std::ios::binary);
    originals.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  uint32_t rng = 12345;
  auto next = [&] { rng = rng * 1664525u + 1013904223u; return rng >> 8; };
  int errors = 0, clean = 0;
  for (int trial = 0; trial < 600; ++trial) {
    std::vector<unsigned char> b = originals[size_t(trial) % originals.size()];
    if (trial % 5 == 4) {
      b.resize(next() % b.size());
    } else {
      for (int k = 0, flips = 1 + int(next() % 4); k < flips; ++k) b[next() % b.size()] ^= uint8_t(1 + next() % 255);
    }
    write_bytes(dir / "d.mat", b, false);
    try {
      mat5::Reader r(dir / "d.mat");
      while (r.next()) {
        const auto& v = r.var();
        if (v.mx_class < 6 || v.mx_class > 15 || v.complex) continue;
        if (v.mx_class == 9 && v.storage_type == 2) {
          std::vector<uint8_t> x(4096);
          for (int64_t left = v.numel; left > 0; left -= 4096) r.read_uint8(std::min<int64_t>(left, 4096), x.data());
        } else {
          r.read_doubles();
        }
      }
      ++clean;
    } catch (const Error& e) {
      ++errors;
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }  // anything else escapes and fails the test
  }
  EXPECT_GT(errors, 100);
  EXPECT_GT(clean, 0);  // flips in the header's text or a name change nothing that matters
}

}  // namespace
}  // namespace rampart
