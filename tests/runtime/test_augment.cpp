// Augmentation: what each example gets is a function of (seed, epoch, example) only; crop-flip
// against a pad-crop-mirror written out here; resized-crop's draws within torchvision's ranges
// and its bilinear resize exact on linear images; bad settings refused.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numeric>
#include <vector>

#include "runtime/data/augment.h"
#include "runtime/errors.h"

namespace rampart {
namespace {

std::vector<uint8_t> pattern_images(int64_t n, int64_t C, int64_t H, int64_t W) {
  std::vector<uint8_t> v(size_t(n * C * H * W));
  for (size_t i = 0; i < v.size(); ++i) v[i] = uint8_t((i * 37 + i / 7) % 251);
  return v;
}

TEST(Augment, DrawsDependOnlyOnSeedEpochAndExample) {
  const AugmentConfig cfg{AugmentKind::kCropFlip, 4};
  const int64_t n = 16, C = 3, H = 12, W = 10, img = C * H * W;
  std::vector<int64_t> ex(n);
  std::iota(ex.begin(), ex.end(), 100);
  auto all = pattern_images(n, C, H, W);
  auto batch = all;
  augment_images(cfg, batch.data(), ex.data(), n, C, H, W, 7, 3);
  // The same examples one at a time, in reverse order (another rank, another batch split).
  for (int64_t i = n - 1; i >= 0; --i) {
    std::vector<uint8_t> one(all.begin() + i * img, all.begin() + (i + 1) * img);
    augment_images(cfg, one.data(), &ex[i], 1, C, H, W, 7, 3);
    EXPECT_TRUE(std::equal(one.begin(), one.end(), batch.begin() + i * img)) << "example " << ex[i];
  }
  // Another epoch or seed draws differently (for most of 16 examples).
  int same_epoch = 0, same_seed = 0;
  for (int64_t e : ex) {
    const AugmentDraw a = draw_augment(cfg, H, W, 7, 3, e), b = draw_augment(cfg, H, W, 7, 4, e),
                      c = draw_augment(cfg, H, W, 8, 3, e);
    same_epoch += a.top == b.top && a.left == b.left && a.flip == b.flip;
    same_seed += a.top == c.top && a.left == c.left && a.flip == c.flip;
  }
  EXPECT_LT(same_epoch, 4);
  EXPECT_LT(same_seed, 4);
}

TEST(Augment, NoneLeavesImagesAlone) {
  const int64_t n = 3, C = 2, H = 5, W = 4;
  auto im = pattern_images(n, C, H, W), orig = im;
  std::vector<int64_t> ex{0, 1, 2};
  augment_images({AugmentKind::kNone}, im.data(), ex.data(), n, C, H, W, 1, 0);
  EXPECT_EQ(im, orig);
}

// torchvision's RandomCrop(padding=p) then RandomHorizontalFlip, written the long way:
// pad with zeros, take the window, mirror the columns.
TEST(Augment, CropFlipIsPadCropMirror) {
  const int p = 3;
  const AugmentConfig cfg{AugmentKind::kCropFlip, p};
  const int64_t n = 40, C = 2, H = 7, W = 9;
  auto im = pattern_images(n, C, H, W), orig = im;
  std::vector<int64_t> ex(n);
  std::iota(ex.begin(), ex.end(), 0);
  augment_images(cfg, im.data(), ex.data(), n, C, H, W, 11, 2);
  int flips = 0;
  for (int64_t i = 0; i < n; ++i) {
    const AugmentDraw d = draw_augment(cfg, H, W, 11, 2, i);
    ASSERT_LE(d.top, 2 * p);
    ASSERT_LE(d.left, 2 * p);
    flips += d.flip;
    for (int64_t c = 0; c < C; ++c) {
      std::vector<uint8_t> padded(size_t((H + 2 * p) * (W + 2 * p)), 0);
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x)
          padded[size_t((y + p) * (W + 2 * p) + x + p)] = orig[size_t(((i * C + c) * H + y) * W + x)];
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const int64_t cx = d.flip ? W - 1 - x : x;
          const uint8_t want = padded[size_t((y + d.top) * (W + 2 * p) + cx + d.left)];
          ASSERT_EQ(im[size_t(((i * C + c) * H + y) * W + x)], want) << "image " << i << " c " << c << " y " << y
                                                                     << " x " << x;
        }
    }
  }
  EXPECT_GT(flips, 5);
  EXPECT_LT(flips, 35);
}

TEST(Augment, CropOffsetsAndFlipsAreUniform) {
  const AugmentConfig cfg{AugmentKind::kCropFlip, 4};
  std::map<int64_t, int> tops;
  int flips = 0;
  const int n = 9000;
  for (int i = 0; i < n; ++i) {
    const AugmentDraw d = draw_augment(cfg, 32, 32, 0, 1, i);
    ++tops[d.top];
    flips += d.flip;
  }
  ASSERT_EQ(tops.size(), 9u);  // 0..8
  for (auto& [t, count] : tops) EXPECT_NEAR(count, n / 9, 150) << "offset " << t;  // ~5 sigma
  EXPECT_NEAR(flips, n / 2, 250);
}

TEST(Augment, ResizedCropDrawsStayInTorchvisionsRanges) {
  const AugmentConfig cfg{AugmentKind::kResizedCrop, 4, 0.08f};
  const int64_t H = 64, W = 48;
  double min_frac = 1, max_frac = 0;
  for (int i = 0; i < 3000; ++i) {
    const AugmentDraw d = draw_augment(cfg, H, W, 5, 0, i);
    ASSERT_GT(d.h, 0);
    ASSERT_GT(d.w, 0);
    ASSERT_LE(d.top + d.h, H);
    ASSERT_LE(d.left + d.w, W);
    const double frac = double(d.h * d.w) / double(H * W), ratio = double(d.w) / double(d.h);
    min_frac = std::min(min_frac, frac);
    max_frac = std::max(max_frac, frac);
    // Rounding w and h to integers moves the ratio a little past [3/4, 4/3] for small crops.
    EXPECT_GT(ratio, 0.75 * (1 - 2.0 / double(d.h)));
    EXPECT_LT(ratio, 4.0 / 3.0 * (1 + 2.0 / double(d.h)));
  }
  EXPECT_LT(min_frac, 0.12);  // the whole range is drawn
  EXPECT_GT(max_frac, 0.85);
  EXPECT_GT(min_frac, 0.06);
}

// Bilinear interpolation reproduces a linear image exactly: an image v = 2x + 3y (values up to
// 253) resized from any crop is 2x' + 3y' at the source coordinates of each output pixel.
TEST(Augment, ResizedCropIsBilinearWithHalfPixelCentres) {
  const AugmentConfig cfg{AugmentKind::kResizedCrop, 4, 0.3f};
  const int64_t H = 40, W = 50;
  std::vector<uint8_t> base(size_t(H * W));
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) base[size_t(y * W + x)] = uint8_t(2 * x + 3 * y);
  for (int64_t e = 0; e < 30; ++e) {
    auto im = base;
    augment_images(cfg, im.data(), &e, 1, 1, H, W, 3, 9);
    const AugmentDraw d = draw_augment(cfg, H, W, 3, 9, e);
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        const int64_t ox = d.flip ? W - 1 - x : x;
        const double fy = std::clamp((y + 0.5) * double(d.h) / double(H) - 0.5, 0.0, double(d.h - 1));
        const double fx = std::clamp((ox + 0.5) * double(d.w) / double(W) - 0.5, 0.0, double(d.w - 1));
        const double want = 2 * (fx + double(d.left)) + 3 * (fy + double(d.top));
        ASSERT_NEAR(im[size_t(y * W + x)], want, 0.5 + 1e-9) << "example " << e << " y " << y << " x " << x;
      }
  }
}

TEST(Augment, BadSettingsAreRefused) {
  EXPECT_THROW(parse_augment("autoaugment"), ConfigError);
  EXPECT_EQ(parse_augment("crop-flip"), AugmentKind::kCropFlip);
  EXPECT_STREQ(augment_name(AugmentKind::kResizedCrop), "resized-crop");
  EXPECT_THROW(check_augment({AugmentKind::kCropFlip, 40}, 32, 32), ConfigError);
  EXPECT_NO_THROW(check_augment({AugmentKind::kCropFlip, 4}, 28, 28));
  EXPECT_THROW(check_augment({AugmentKind::kResizedCrop, 4, 0.f}, 32, 32), ConfigError);
}

}  // namespace
}  // namespace rampart
