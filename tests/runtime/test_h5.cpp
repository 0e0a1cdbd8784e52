// The HDF5 wrapper: reading the h5py-made golden file, round trips of every
// dtype, row reads, attributes of both string kinds, and errors that say what they should.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <sys/stat.h>

#include "runtime/io/h5.h"
#include "tests/runtime/test_data_util.h"

namespace rampart {
namespace {

using testing::expect_error;
using testing::TempDir;
const std::string kGolden = std::string(RAMPART_TESTDATA) + "/small_cnn_golden.h5";

TEST(H5, ReadsGoldenFileMadeByH5py) {
  h5::File f = h5::File::open(kGolden);
  const h5::Group& root = f.root();
  // Variable-length UTF-8 strings, as h5py writes them.
  std::string arch = root.attr_string("arch_json");
  EXPECT_EQ(arch.rfind("[{\"type\": \"conv2d\"", 0), 0u) << arch;
  EXPECT_EQ(root.attr_string("format"), "rampart-checkpoint");
  EXPECT_EQ(root.attr_int("version"), 1);

  h5::Dataset w = root.dataset("model/0.weight");
  EXPECT_EQ(w.shape(), (Shape{32, 1, 3, 3}));
  EXPECT_EQ(w.dtype(), h5::DType::kFloat32);
  std::vector<float> wv = w.read<float>();
  EXPECT_EQ(wv.size(), 288u);
  float max_abs = 0;
  for (float v : wv) max_abs = std::max(max_abs, std::abs(v));
  EXPECT_GT(max_abs, 0.01f);  // PyTorch's default init: |w| <= 1/3 for fan-in 9
  EXPECT_LE(max_abs, 1.0f / 3.0f + 1e-6f);

  h5::Dataset imgs = root.dataset("/batch/images_u8");
  EXPECT_EQ(imgs.shape(), (Shape{16, 1, 28, 28}));
  std::vector<uint8_t> px = imgs.read<uint8_t>();
  int nonzero = 0;
  for (uint8_t p : px) nonzero += p != 0;
  EXPECT_GT(nonzero, 1000);

  h5::Dataset loss = root.group("expected").dataset("loss");
  EXPECT_TRUE(loss.shape().empty());
  double l = loss.read<double>()[0];
  EXPECT_GT(l, 1.0);  // an untrained 10-class model: about ln 10
  EXPECT_LT(l, 4.0);
  EXPECT_EQ(root.dataset("expected/logits").shape(), (Shape{16, 10}));

  h5::Group pgd = root.group("pgd");
  EXPECT_DOUBLE_EQ(pgd.attr_double("eps"), 0.1);
  EXPECT_DOUBLE_EQ(pgd.attr_double("alpha"), 0.025);
  EXPECT_EQ(pgd.attr_int("steps"), 3);

  // h5py does not track creation order: names come sorted, numbers by value.
  EXPECT_EQ(root.group("model").members(),
            (std::vector<std::string>{"0.bias", "0.weight", "3.bias", "3.weight", "7.bias", "7.weight", "9.bias",
                                      "9.weight"}));
  EXPECT_TRUE(root.is_group("expected/grads"));
  EXPECT_TRUE(root.is_dataset("expected/grads/7.weight"));
  EXPECT_FALSE(root.exists("expected/nothing/here"));
}

TEST(H5, WrongDtypeAndMissingObjectsSayWhatWasExpected) {
  h5::File f = h5::File::open(kGolden);
  expect_error([&] { f.root().dataset("expected/logits").read<float>(); }, kExitDataErr,
               {"small_cnn_golden.h5:/expected/logits", "expected float32", "found float64 [16, 10]"});
  expect_error([&] { f.root().dataset("batch/images_u8").require(h5::DType::kUInt8, 3); }, kExitDataErr,
               {"expected uint8 with 3 dims", "found uint8 [16, 1, 28, 28]"});
  expect_error([&] { f.root().dataset("model/1.weight"); }, kExitDataErr, {"small_cnn_golden.h5", "missing dataset /model/1.weight"});
  expect_error([&] { f.root().dataset("model"); }, kExitDataErr, {"/model", "expected a dataset, found a group"});
  expect_error([&] { f.root().attr_int("arch_json"); }, kExitDataErr, {"arch_json", "expected an integer, found string"});
  expect_error([&] { f.root().group("pgd").attr_string("eps"); }, kExitDataErr, {"eps", "expected a string, found float64"});
  expect_error([&] { f.root().attr_string("nope"); }, kExitDataErr, {"missing attribute 'nope'"});
  // read_as converts numbers.
  std::vector<float> logits = f.root().dataset("expected/logits").read_as<float>();
  std::vector<double> logits64 = f.root().dataset("expected/logits").read<double>();
  for (size_t i = 0; i < logits.size(); ++i) EXPECT_EQ(logits[i], float(logits64[i]));
}

template <class T> void round_trip(h5::Group& g, const std::string& name, const Shape& shape) {
  std::vector<T> v(size_t(numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = T(i * 7 % 251) - (std::is_signed_v<T> ? T(100) : T(0));
  g.write<T>(name, shape, v);
  h5::Dataset d = g.dataset(name);
  EXPECT_EQ(d.shape(), shape);
  EXPECT_EQ(d.dtype(), h5::dtype_of<T>());
  EXPECT_EQ(d.read<T>(), v) << name;
}

TEST(H5, RoundTripsEveryDtypeAndRank) {
  TempDir dir;
  {
    h5::File f = h5::File::create(dir / "a.h5");
    h5::Group g = f.root().create_group("arrays");
    round_trip<float>(g, "f32", {3, 4, 5});
    round_trip<double>(g, "f64", {7});
    round_trip<uint8_t>(g, "u8", {2, 3, 4, 5, 6});
    round_trip<int64_t>(g, "i64", {});  // scalar
    round_trip<float>(g, "empty", {0, 4});
    f.root().set_attr("text", std::string("héllo\nworld"));
    f.root().set_attr("n", int64_t(-42));
    f.root().set_attr("x", 0.1);
    f.root().set_attr("n", int64_t(43));  // replaces
    f.close();
  }
  h5::File f = h5::File::open(dir / "a.h5");
  EXPECT_EQ(f.root().attr_string("text"), "héllo\nworld");
  EXPECT_EQ(f.root().attr_int("n"), 43);
  EXPECT_EQ(f.root().attr_double("x"), 0.1);
  EXPECT_EQ(f.root().attr_double("n"), 43.0);
  // Groups made here track creation order.
  EXPECT_EQ(f.root().group("arrays").members(), (std::vector<std::string>{"f32", "f64", "u8", "i64", "empty"}));
}

TEST(H5, ReadsFixedLengthStrings) {
  TempDir dir;
  {
    h5::File f = h5::File::create(dir / "s.h5");
    for (auto pad : {H5T_STR_NULLTERM, H5T_STR_NULLPAD, H5T_STR_SPACEPAD}) {
      h5::Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(type.get(), 16);
      H5Tset_strpad(type.get(), pad);
      h5::Handle space(H5Screate(H5S_SCALAR), H5Sclose);
      std::string name = "s" + std::to_string(int(pad));
      h5::Handle a(H5Acreate2(f.root().id(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                   H5Aclose);
      char buf[16];
      std::memset(buf, pad == H5T_STR_SPACEPAD ? ' ' : '\0', sizeof buf);
      std::memcpy(buf, "fixed", 5);
      ASSERT_GE(H5Awrite(a.get(), type.get(), buf), 0);
    }
  }
  h5::File f = h5::File::open(dir / "s.h5");
  for (auto pad : {H5T_STR_NULLTERM, H5T_STR_NULLPAD, H5T_STR_SPACEPAD})
    EXPECT_EQ(f.root().attr_string("s" + std::to_string(int(pad))), "fixed");
}

TEST(H5, RowReadsByRangeAndByIndexList) {
  TempDir dir;
  Shape shape{10, 2, 3};
  std::vector<float> v(60);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  {
    h5::File f = h5::File::create(dir / "r.h5");
    f.root().write<float>("x", shape, v);
  }
  h5::File f = h5::File::open(dir / "r.h5");
  h5::Dataset d = f.root().dataset("x");
  EXPECT_EQ(d.row_elems(), 6);
  std::vector<float> out(6 * 4, -1);
  d.read_rows<float>(3, 7, out.data());
  for (int i = 0; i < 24; ++i) EXPECT_EQ(out[i], float(18 + i));

  std::vector<int64_t> rows{7, 8, 9, 0, 1, 5, 5, 2};  // runs, a repeat, any order
  out.assign(6 * rows.size(), -1);
  d.read_rows<float>(rows, out.data());
  for (size_t r = 0; r < rows.size(); ++r)
    for (int k = 0; k < 6; ++k) EXPECT_EQ(out[r * 6 + k], float(rows[r] * 6 + k)) << "row " << r;

  d.read_rows<float>(4, 4, out.data());  // empty range: nothing to do
  EXPECT_THROW(d.read_rows<float>(8, 11, out.data()), std::out_of_range);
  EXPECT_THROW(d.read_rows<float>(std::vector<int64_t>{3, 10}, out.data()), std::out_of_range);
  expect_error([&] { d.read_rows<uint8_t>(0, 1, reinterpret_cast<uint8_t*>(out.data())); }, kExitDataErr,
               {"r.h5:/x", "expected uint8", "found float32 [10, 2, 3]"});
}

TEST(H5, MissingTruncatedAndForeignFiles) {
  TempDir dir;
  expect_error([&] { h5::File::open(dir / "absent.h5"); }, kExitNoInput, {"absent.h5", "no such file"});

  testing::write_bytes(dir / "noise.h5", std::vector<unsigned char>(4096, 0x5a), false);
  expect_error([&] { h5::File::open(dir / "noise.h5"); }, kExitDataErr,
               {"noise.h5 is not a valid HDF5 file (truncated or corrupt?)"});

  {
    h5::File f = h5::File::create(dir / "cut.h5");
    f.root().write<float>("x", {1000}, std::vector<float>(1000, 1.f));
  }
  testing::truncate_file(dir / "cut.h5", 0.5);
  expect_error([&] { h5::File::open(dir / "cut.h5"); }, kExitDataErr,
               {"cut.h5 is not a valid HDF5 file (truncated or corrupt?)"});
}

TEST(H5, WriteFailuresAreIoErrors) {
  TempDir dir;
  expect_error([&] { h5::File::create(dir / "no/such/dir/x.h5"); }, kExitIoErr,
               {"cannot create", "no/such/dir/x.h5", "No such file or directory"});
  h5::File f = h5::File::create(dir / "w.h5");
  f.root().write<float>("x", {2}, std::vector<float>{1, 2});
  expect_error([&] { f.root().write<float>("x", {2}, std::vector<float>{1, 2}); }, kExitIoErr,
               {"w.h5", "cannot create dataset /x"});
  expect_error([&] { f.root().write<float>("y", {2, 2}, std::vector<float>{1, 2}); }, kExitIoErr,
               {"shape [2, 2] needs 4 values, found 2"});
}

TEST(H5, AtomicWriteLeavesOnlyTheFinalFile) {
  TempDir dir;
  h5::write_atomically(dir / "a.h5", [](h5::File& f) { f.root().set_attr("v", int64_t(1)); });
  EXPECT_EQ(dir.files(), std::vector<std::string>{"a.h5"});
  EXPECT_THROW(h5::write_atomically(dir / "a.h5",
                                    [](h5::File& f) {
                                      f.root().set_attr("v", int64_t(2));
                                      throw std::runtime_error("disk on fire");
                                    }),
               IoError);
  EXPECT_EQ(dir.files(), std::vector<std::string>{"a.h5"});
  EXPECT_EQ(h5::File::open(dir / "a.h5").root().attr_int("v"), 1);
}

TEST(H5, AtomicWriteReplacesOnlyARegularFile) {
  TempDir dir;
  const std::string fifo = dir / "p";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  bool filled = false;
  expect_error([&] { h5::write_atomically(fifo, [&](h5::File&) { filled = true; }); }, kExitIoErr,
               {fifo, "expected a regular file", "found a FIFO"});
  EXPECT_FALSE(filled) << "refused before the work of filling the file";
  struct stat st {};
  ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced";
  expect_error([&] { h5::write_atomically(dir.path(), [](h5::File&) {}); }, kExitIoErr,
               {"expected a regular file", "found a directory"});
  EXPECT_EQ(dir.files(), std::vector<std::string>{"p"});
}

}  // namespace
}  // namespace rampart

namespace rampart {
namespace {

// h5::read_isolated: what happens in the child stays there, except its outcome.
TEST(H5Isolated, ChildOutcomesBecomeErrorsHere) {
  int touched = 0;
  h5::read_isolated("ok.h5", [&] { touched = 1; });
  EXPECT_EQ(touched, 0) << "the read ran in this process, not in a child";

  // A crash inside the library (abort stands for HDF5 1.10's SEGVs on corrupt metadata).
  testing::expect_error([] { h5::read_isolated("crash.h5", [] { std::abort(); }); }, kExitDataErr,
                        {"crash.h5", "crashed", "corrupt"});
  // A rampart error in the child comes back with its class, code and message.
  EXPECT_THROW(h5::read_isolated("bad.h5", [] { throw ConfigError("bad.h5: no"); }), ConfigError);
  testing::expect_error([] { h5::read_isolated("missing.h5", [] { throw MissingInput("missing.h5: gone"); }); },
                        kExitNoInput, {"missing.h5: gone"});
  // Anything else is still a 65 naming the file, with what the child said.
  testing::expect_error([] { h5::read_isolated("odd.h5", [] { throw std::runtime_error("odd thing"); }); },
                        kExitDataErr, {"odd.h5", "odd thing"});
}

TEST(H5Isolated, AHangIsStoppedAtTheDeadline) {
  setenv("RAMPART_H5_ISOLATE_TIMEOUT", "1", 1);
  testing::expect_error([] { h5::read_isolated("loop.h5", [] { for (volatile unsigned i = 0;; i = i + 1u) {} }); },
                        kExitDataErr, {"loop.h5", "did not finish in 1 s"});
  unsetenv("RAMPART_H5_ISOLATE_TIMEOUT");
}

TEST(H5Isolated, CanBeTurnedOff) {
  setenv("RAMPART_H5_ISOLATE", "0", 1);
  bool ran = false;
  EXPECT_NO_THROW(h5::read_isolated("f.h5", [&] { ran = true; std::abort(); }));
  unsetenv("RAMPART_H5_ISOLATE");
  EXPECT_FALSE(ran) << "turned off, the caller's own read is the only one";
}

}  // namespace
}  // namespace rampart
