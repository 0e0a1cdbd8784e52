// Image folders (ImageFolder layout): decoding PNG and JPEG to RGB (grey, palette, alpha, 16-bit,
// CMYK), the resize and centre crop of --size against hand-computed pixels and torchvision's
// sizes and offsets, class order and labels, splits, determinism, and bad inputs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "runtime/data/dataset.h"
#include "runtime/data/image_decode.h"
#include "runtime/data/image_resize.h"
#include "runtime/data/import.h"
#include "runtime/io/h5.h"
#include "tests/runtime/test_data_util.h"
#include "tests/runtime/test_image_util.h"

namespace rampart {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::rgb_pattern;
using testing::TempDir;
using testing::write_bytes;
using testing::write_jpeg;
using testing::write_png;
using testing::write_png_rgb;

int max_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  int d = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, std::abs(int(a[i]) - int(b[i])));
  return a.size() == b.size() ? d : 1000;
}

// ---- decoding ----

TEST(ImageDecode, PngKindsToRgb) {
  TempDir dir;
  const auto rgb = rgb_pattern(5, 7, 0);
  write_png_rgb(dir / "rgb.png", 7, 5, rgb);
  RgbImage a = decode_image_file(dir / "rgb.png");
  EXPECT_EQ(a.height, 5);
  EXPECT_EQ(a.width, 7);
  EXPECT_EQ(a.pixels, rgb);

  std::vector<uint8_t> grey(6 * 4);
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = uint8_t(i * 10);
  write_png(dir / "grey.png", 4, 6, PNG_COLOR_TYPE_GRAY, 8, grey);
  RgbImage g = decode_image_file(dir / "grey.png");
  ASSERT_EQ(g.pixels.size(), grey.size() * 3);
  for (size_t i = 0; i < grey.size(); ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(g.pixels[3 * i + size_t(c)], grey[i]) << i;

  // Alpha is dropped, not composited (PIL's convert("RGB")).
  std::vector<uint8_t> rgba;
  for (size_t i = 0; i < rgb.size(); i += 3) rgba.insert(rgba.end(), {rgb[i], rgb[i + 1], rgb[i + 2], uint8_t(i)});
  write_png(dir / "rgba.png", 7, 5, PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba);
  EXPECT_EQ(decode_image_file(dir / "rgba.png").pixels, rgb);
  std::vector<uint8_t> ga;
  for (uint8_t v : grey) ga.insert(ga.end(), {v, uint8_t(255 - v)});
  write_png(dir / "ga.png", 4, 6, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga);
  EXPECT_EQ(decode_image_file(dir / "ga.png").pixels, g.pixels);

  // Palette: indices to their colours.
  std::vector<png_color> pal{{255, 0, 0}, {0, 128, 255}, {9, 8, 7}};
  write_png(dir / "pal.png", 3, 2, PNG_COLOR_TYPE_PALETTE, 8, {0, 1, 2, 2, 1, 0}, pal);
  EXPECT_EQ(decode_image_file(dir / "pal.png").pixels,
            (std::vector<uint8_t>{255, 0, 0, 0, 128, 255, 9, 8, 7, 9, 8, 7, 0, 128, 255, 255, 0, 0}));

  // 16 bits: the high byte.
  std::vector<uint8_t> deep;
  for (int i = 0; i < 2 * 2 * 3; ++i) deep.insert(deep.end(), {uint8_t(20 * i), uint8_t(255 - i)});
  write_png(dir / "deep.png", 2, 2, PNG_COLOR_TYPE_RGB, 16, deep);
  RgbImage d = decode_image_file(dir / "deep.png");
  for (int i = 0; i < 12; ++i) EXPECT_EQ(d.pixels[size_t(i)], 20 * i);
}

TEST(ImageDecode, JpegKindsToRgb) {
  TempDir dir;
  // Smooth pictures: JPEG at quality 100 without subsampling keeps them within a few levels.
  std::vector<uint8_t> rgb(16 * 24 * 3);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 24; ++x)
      for (int c = 0; c < 3; ++c) rgb[size_t((y * 24 + x) * 3 + c)] = uint8_t(40 + 4 * y + 3 * x + 30 * c);
  write_jpeg(dir / "rgb.jpg", 24, 16, 3, rgb);
  RgbImage a = decode_image_file(dir / "rgb.jpg");
  EXPECT_EQ(a.height, 16);
  EXPECT_EQ(a.width, 24);
  EXPECT_LE(max_diff(a.pixels, rgb), 3);

  std::vector<uint8_t> grey(16 * 24);
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = uint8_t(50 + i % 24 * 5);
  write_jpeg(dir / "grey.jpeg", 24, 16, 1, grey);
  RgbImage g = decode_image_file(dir / "grey.jpeg");
  std::vector<uint8_t> grey3;
  for (uint8_t v : grey) grey3.insert(grey3.end(), {v, v, v});
  EXPECT_LE(max_diff(g.pixels, grey3), 2);

  // CMYK with Adobe's marker stores inverted inks: stored (C', M', Y', K') = (255 - C, ...).
  // R = C' K' / 255: (200, 100, 50) with K' = 255 is (200, 100, 50); K' = 128 halves it.
  std::vector<uint8_t> cmyk;
  for (int i = 0; i < 8 * 8; ++i) cmyk.insert(cmyk.end(), {200, 100, 50, uint8_t(i < 32 ? 255 : 128)});
  write_jpeg(dir / "cmyk.jpg", 8, 8, 4, cmyk);
  RgbImage k = decode_image_file(dir / "cmyk.jpg");
  std::vector<uint8_t> want;
  for (int i = 0; i < 64; ++i)
    if (i < 32) want.insert(want.end(), {200, 100, 50});
    else want.insert(want.end(), {100, 50, 25});
  EXPECT_LE(max_diff(k.pixels, want), 3);
}

TEST(ImageDecode, BadFilesSayWhatTheyAre) {
  TempDir dir;
  write_bytes(dir / "a.jpg", {'<', 'h', 't', 'm', 'l', '>'}, false);
  expect_error([&] { decode_image_file(dir / "a.jpg"); }, kExitDataErr,
               {"a.jpg: not a JPEG or PNG file", "ff d8 ff (JPEG) or 89 50 4e 47 (PNG)", "found 3c 68 74 6d 6c 3e"});
  write_bytes(dir / "e.png", {}, false);
  expect_error([&] { decode_image_file(dir / "e.png"); }, kExitDataErr, {"found nothing: the file is empty"});
  write_bytes(dir / "g.png", {'G', 'I', 'F', '8', '9', 'a'}, false);
  expect_error([&] { decode_image_file(dir / "g.png"); }, kExitDataErr, {"g.png: a GIF image; expected a JPEG or PNG"});

  write_png_rgb(dir / "cut.png", 30, 20, rgb_pattern(20, 30, 1));
  testing::truncate_file(dir / "cut.png", 0.6);
  expect_error([&] { decode_image_file(dir / "cut.png"); }, kExitDataErr, {"cut.png: corrupt or truncated PNG (libpng:"});
  std::vector<uint8_t> rgb = rgb_pattern(32, 32, 2);
  write_jpeg(dir / "cut.jpg", 32, 32, 3, rgb);
  testing::truncate_file(dir / "cut.jpg", 0.5);
  expect_error([&] { decode_image_file(dir / "cut.jpg"); }, kExitDataErr,
               {"cut.jpg: corrupt or truncated JPEG (libjpeg: Premature end of JPEG file)"});
  expect_error([&] { decode_image_file(dir / "none.png"); }, kExitNoInput, {"none.png: cannot open"});
}

// ---- resizing ----

TEST(ImageResize, SizesAndOffsetsFollowTorchvision) {
  // Resize(224) of 500x375 (w x h): short side 224, long int(224 * 500 / 375) = 298;
  // CenterCrop(224): left round(74 / 2) = 37, top 0.
  ResizePlan p = plan_resize(375, 500, 224);
  EXPECT_EQ(p.resized_h, 224);
  EXPECT_EQ(p.resized_w, 298);
  EXPECT_EQ(p.left, 37);
  EXPECT_EQ(p.top, 0);
  // Odd margins round half to even, as Python's round(): 1 -> 0, 3 -> 2 (1.5), 5 -> 2 (2.5).
  EXPECT_EQ(plan_resize(10, 11, 10).left, 0);
  EXPECT_EQ(plan_resize(10, 13, 10).left, 2);
  EXPECT_EQ(plan_resize(10, 15, 10).left, 2);
  EXPECT_EQ(plan_resize(17, 12, 12).top, 2);
  p = plan_resize(40, 30, 15);  // portrait: width is the short side
  EXPECT_EQ(p.resized_w, 15);
  EXPECT_EQ(p.resized_h, 20);
  EXPECT_EQ(p.top, 2);
}

TEST(ImageResize, AreaAveragingWhenShrinking) {
  // 4x8 (h x w) of 2x2 blocks -> shorter side 2: 2x4, each pixel its block's mean; crop left 1.
  std::vector<uint8_t> rgb(4 * 8 * 3);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 8; ++x)
      for (int c = 0; c < 3; ++c) rgb[size_t((y * 8 + x) * 3 + c)] = uint8_t(10 * (y / 2) + 40 * (x / 2) + c + (x % 2) * 2);
  std::vector<uint8_t> out(3 * 2 * 2);
  resize_crop(rgb.data(), 4, 8, 2, out.data());
  // Block (by, bx) mean: 10 by + 40 bx + c + 1 (the x % 2 term averages to 1); columns bx = 1, 2.
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 2; ++x) EXPECT_EQ(out[size_t((c * 2 + y) * 2 + x)], 10 * y + 40 * (x + 1) + c + 1);
  // A non-integer factor: 3 pixels 0, 90, 180 to 2: means over [0, 1.5) and [1.5, 3) = 30 and 150.
  std::vector<uint8_t> row{0, 0, 0, 90, 90, 90, 180, 180, 180}, o2(3 * 2 * 2);
  std::vector<uint8_t> img3;
  for (int y = 0; y < 3; ++y) img3.insert(img3.end(), row.begin(), row.end());
  resize_crop(img3.data(), 3, 3, 2, o2.data());
  EXPECT_EQ(o2[0], 30);
  EXPECT_EQ(o2[1], 150);
  EXPECT_EQ(o2[2], 30);
}

TEST(ImageResize, BilinearWhenEnlargingAndIdentityAtTheSameSize) {
  // 2x2 grey values 0, 100 / 100, 200 -> 4x4: sample points at -0.25, 0.25, 0.75, 1.25 (clamped).
  std::vector<uint8_t> rgb;
  for (int v : {0, 100, 100, 200}) rgb.insert(rgb.end(), {uint8_t(v), uint8_t(v), uint8_t(v)});
  std::vector<uint8_t> out(3 * 4 * 4);
  resize_crop(rgb.data(), 2, 2, 4, out.data());
  const int want[4][4] = {{0, 25, 75, 100}, {25, 50, 100, 125}, {75, 100, 150, 175}, {100, 125, 175, 200}};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) EXPECT_EQ(out[size_t(y * 4 + x)], want[y][x]) << y << "," << x;
  const auto pat = rgb_pattern(6, 6, 3);
  std::vector<uint8_t> same(3 * 36), chw(3 * 36);
  resize_crop(pat.data(), 6, 6, 6, same.data());
  hwc_to_chw(pat.data(), 6, 6, 3, chw.data());
  EXPECT_EQ(same, chw);
}

// ---- folders ----

// ROOT/{train,val}/{cat,dog}: PNG patterns, one JPEG, a note that is not an image.
std::string make_tree(const TempDir& dir, int size_w = 8, int size_h = 6) {
  const std::string root = dir / "root";
  for (const char* s : {"train", "val"})
    for (const char* c : {"dog", "cat"}) fs::create_directories(root + "/" + s + "/" + c);
  // Names out of order on disk; the import sorts them. Seeds say which file each image is.
  write_png_rgb(root + "/train/dog/b.png", size_w, size_h, rgb_pattern(size_h, size_w, 3));
  write_png_rgb(root + "/train/dog/a.png", size_w, size_h, rgb_pattern(size_h, size_w, 2));
  write_png_rgb(root + "/train/cat/z.PNG", size_w, size_h, rgb_pattern(size_h, size_w, 1));
  fs::create_directories(root + "/train/cat/more");
  write_png_rgb(root + "/train/cat/more/a.png", size_w, size_h, rgb_pattern(size_h, size_w, 4));
  std::ofstream(root + "/train/cat/notes.txt") << "not an image\n";
  write_png_rgb(root + "/val/cat/x.png", size_w, size_h, rgb_pattern(size_h, size_w, 5));
  write_png_rgb(root + "/val/dog/y.png", size_w, size_h, rgb_pattern(size_h, size_w, 6));
  return root;
}

std::vector<uint8_t> image_at(const Dataset& ds, int64_t i) {
  std::vector<uint8_t> img(size_t(ds.image_elems()));
  std::vector<int32_t> label(1);
  ds.read_range(i, i + 1, img.data(), label.data());
  return img;
}

std::vector<uint8_t> chw(const std::vector<uint8_t>& hwc, int h, int w) {
  std::vector<uint8_t> out(hwc.size());
  hwc_to_chw(hwc.data(), h, w, 3, out.data());
  return out;
}

TEST(FolderImport, SplitsClassesInSortedOrderExactPixels) {
  TempDir dir;
  const std::string root = make_tree(dir);
  const auto out = import_folder(root, dir / "out");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].split, "train");
  EXPECT_EQ(out[1].split, "val");
  EXPECT_EQ(out[0].skipped, 1);
  EXPECT_EQ(out[0].first_skipped, root + "/train/cat/notes.txt");
  Dataset train(dir / "out/train.h5");
  EXPECT_EQ(train.size(), 4);
  EXPECT_EQ(train.image_shape(), (Shape{3, 6, 8}));
  EXPECT_EQ(train.classes(), 2);
  // cat (0) before dog (1); in cat, its own files before the subfolder's; then sorted names.
  EXPECT_EQ(train.labels(), (std::vector<int32_t>{0, 0, 1, 1}));
  const int seeds[4] = {1, 4, 2, 3};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(image_at(train, i), chw(rgb_pattern(6, 8, seeds[i]), 6, 8)) << i;
  h5::File f = h5::File::open(dir / "out/train.h5");
  EXPECT_EQ(f.root().attr_string("class_names"), R"(["cat","dog"])");
  EXPECT_EQ(f.root().dataset("labels").dtype(), h5::DType::kUInt8);  // int64 only above 256 classes
  EXPECT_EQ(f.root().attr_string("source"), "folder train: " + root + "/train");
  Dataset val(dir / "out/val.h5");
  EXPECT_EQ(val.labels(), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(image_at(val, 1), chw(rgb_pattern(6, 8, 6), 6, 8));
}

TEST(FolderImport, OneSplitOfClassFoldersWithResizeAndGrey) {
  TempDir dir;
  const std::string root = dir / "flat";
  fs::create_directories(root + "/a");
  fs::create_directories(root + "/b");
  // Different sizes and kinds, made one size by --size 4.
  std::vector<uint8_t> block(8 * 12 * 3, 0);  // 8x12 (h x w): left half 60, right half 180
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 12; ++x)
      for (int c = 0; c < 3; ++c) block[size_t((y * 12 + x) * 3 + c)] = x < 6 ? 60 : 180;
  write_png_rgb(root + "/a/1.png", 12, 8, block);
  std::vector<uint8_t> grey(2 * 2, 90);
  write_png(root + "/b/g.png", 2, 2, PNG_COLOR_TYPE_GRAY, 8, grey);
  std::vector<uint8_t> smooth(20 * 20 * 3, 128);
  write_jpeg(root + "/b/j.JPEG", 20, 20, 3, smooth);
  FolderOptions o;
  o.size = 4;
  const auto out = import_folder(root, dir / "out", o);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].split, "data");
  Dataset ds(dir / "out/data.h5");
  EXPECT_EQ(ds.image_shape(), (Shape{3, 4, 4}));
  EXPECT_EQ(ds.labels(), (std::vector<int32_t>{0, 1, 1}));
  // 8x12 -> 4x6 (area: 2x2 blocks), crop left 1: columns of 60, 60, 180, 180.
  const auto a = image_at(ds, 0);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) EXPECT_EQ(a[size_t((c * 4 + y) * 4 + x)], x < 2 ? 60 : 180);
  EXPECT_EQ(image_at(ds, 1), std::vector<uint8_t>(48, 90));  // grey, enlarged: still 90 everywhere
  EXPECT_LE(max_diff(image_at(ds, 2), std::vector<uint8_t>(48, 128)), 1);
}

TEST(FolderImport, DeterministicWhateverTheThreads) {
  TempDir dir;
  const std::string root = dir / "r";
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 15; ++i) {
      fs::create_directories(root + "/c" + std::to_string(c));
      write_png_rgb(root + "/c" + std::to_string(c) + "/" + std::to_string(100 + i) + ".png", 9 + i, 7 + c,
                    rgb_pattern(7 + c, 9 + i, c * 100 + i));
    }
  FolderOptions one{5, 1}, two{5, 2};
  import_folder(root, dir / "one", one);
  import_folder(root, dir / "two", two);
  std::ifstream a(dir / "one/data.h5", std::ios::binary), b(dir / "two/data.h5", std::ios::binary);
  const std::string sa((std::istreambuf_iterator<char>(a)), {}), sb((std::istreambuf_iterator<char>(b)), {});
  EXPECT_FALSE(sa.empty());
  EXPECT_TRUE(sa == sb) << "two imports of the same folder differ";
  // Train also with --pad and --channels: 5x5 -> 9x9.
  ImportOptions io;
  io.reshape.pad = 2;
  EXPECT_EQ(import_folder(root, dir / "pad", one, io)[0].height, 9);
}

// More than 256 classes (ImageNet-1k has 1000): /labels is written as int64. Each class's image
// carries its number in its first two pixels, so labels are checked against the images.
TEST(FolderImport, MoreThan256ClassesGetInt64Labels) {
  TempDir dir;
  const std::string root = dir / "many";
  const int classes = 300;
  for (int c = 0; c < classes; ++c) {
    char name[8];
    std::snprintf(name, sizeof name, "c%03d", c);  // sorted by name = by number
    fs::create_directories(root + "/" + name);
    std::vector<uint8_t> rgb(2 * 2 * 3, 7);
    rgb[0] = uint8_t(c % 256);
    rgb[1] = uint8_t(c / 256);
    write_png_rgb(root + "/" + name + "/a.png", 2, 2, rgb);
  }
  const auto out = import_folder(root, dir / "out");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].classes, classes);
  h5::File f = h5::File::open(dir / "out/data.h5");
  EXPECT_EQ(f.root().dataset("labels").dtype(), h5::DType::kInt64);
  EXPECT_EQ(f.root().dataset("labels").read<int64_t>()[299], 299);
  Dataset ds(dir / "out/data.h5");
  EXPECT_EQ(ds.classes(), classes);
  ASSERT_EQ(ds.size(), classes);
  std::vector<uint8_t> img(size_t(ds.image_elems()));
  std::vector<int32_t> label(1);
  for (int64_t i = 0; i < ds.size(); ++i) {
    ds.read_range(i, i + 1, img.data(), label.data());
    EXPECT_EQ(label[0], i);
    EXPECT_EQ(img[0] + 256 * img[4], label[0]) << i;  // [C, H, W]: R then G of pixel (0, 0)
  }
}

TEST(FolderErrors, MissingEmptyAndMismatchedFolders) {
  TempDir dir;
  expect_error([&] { import_folder(dir / "nope", dir / "out"); }, kExitNoInput,
               {"nope: no such folder", "ROOT/train/<class>/<images>"});
  fs::create_directories(dir / "empty");
  expect_error([&] { import_folder(dir / "empty", dir / "out"); }, kExitDataErr,
               {"empty: no class folders: expected", "ImageFolder"});

  const std::string root = make_tree(dir);
  fs::create_directories(root + "/val/bird");
  std::ofstream(root + "/val/bird/readme.md") << "x";
  expect_error([&] { import_folder(root, dir / "out"); }, kExitDataErr,
               {root + "/val/bird: an empty class folder", "found none", "readme.md, are skipped"});
  write_png_rgb(root + "/val/bird/p.png", 8, 6, rgb_pattern(6, 8, 0));
  expect_error([&] { import_folder(root, dir / "out"); }, kExitDataErr,
               {"val has 3 class folders and " + root + "/train has 2", "'bird' is in " + root + "/val but not in"});
  fs::remove_all(root + "/val/bird");
  fs::create_directories(root + "/extras");
  expect_error([&] { import_folder(root, dir / "out"); }, kExitDataErr,
               {"a folder 'extras' beside the split folders", "expected only train, val and test"});
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST(FolderErrors, SizesMustAgreeWithoutResize) {
  TempDir dir;
  const std::string root = make_tree(dir);
  write_png_rgb(root + "/train/dog/c.png", 9, 6, rgb_pattern(6, 9, 0));
  expect_error([&] { import_folder(root, dir / "out"); }, kExitDataErr,
               {root + "/train/dog/c.png: 9x6 pixels (width x height), but the first image, " + root +
                    "/train/cat/z.PNG, is 8x6", "give --size S"});
  EXPECT_FALSE(fs::exists(dir / "out/train.h5"));
  // The val split must match train's size too.
  fs::remove(root + "/train/dog/c.png");
  write_png_rgb(root + "/val/dog/y.png", 8, 7, rgb_pattern(7, 8, 0));
  expect_error([&] { import_folder(root, dir / "out"); }, kExitDataErr, {"val/dog/y.png: 8x7 pixels"});
}

TEST(FolderErrors, NonImagesAndOtherImageKinds) {
  TempDir dir;
  const std::string root = make_tree(dir);
  write_bytes(root + "/train/dog/fake.jpg", {'n', 'o', 't', ' ', 'a', ' ', 'j', 'p', 'g'}, false);
  expect_error([&] { import_folder(root, dir / "out"); }, kExitDataErr,
               {root + "/train/dog/fake.jpg: not a JPEG or PNG file"});
  fs::remove(root + "/train/dog/fake.jpg");
  write_bytes(root + "/train/dog/w.webp", {'R', 'I', 'F', 'F'}, false);
  expect_error([&] { import_folder(root, dir / "out"); }, kExitDataErr,
               {"w.webp: a webp image; only JPEG and PNG files are read", "convert it to PNG"});
  fs::remove(root + "/train/dog/w.webp");
  expect_error([&] { import_folder(root, dir / "out", FolderOptions{-1, 0}); }, kExitConfig,
               {"--size must be an integer in [1, 4096] (0: no resize), found -1"});
}

}  // namespace
}  // namespace rampart
