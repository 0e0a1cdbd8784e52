// Training-set augmentation (see augment.h).
#include "runtime/data/augment.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/errors.h"
#include "runtime/rng.h"

namespace rampart {

AugmentKind parse_augment(const std::string& name) {
  if (name == "none") return AugmentKind::kNone;
  if (name == "flip") return AugmentKind::kFlip;
  if (name == "crop-flip") return AugmentKind::kCropFlip;
  if (name == "resized-crop") return AugmentKind::kResizedCrop;
  throw ConfigError("augment: expected none, flip, crop-flip (CIFAR: pad, random crop, flip) or resized-crop "
                    "(ImageNet: random resized crop, flip), found \"" + name + "\"");
}

const char* augment_name(AugmentKind k) {
  switch (k) {
    case AugmentKind::kNone: return "none";
    case AugmentKind::kFlip: return "flip";
    case AugmentKind::kCropFlip: return "crop-flip";
    case AugmentKind::kResizedCrop: return "resized-crop";
  }
  return "?";
}

AugmentDraw draw_augment(const AugmentConfig& cfg, int64_t H, int64_t W, uint64_t seed, int64_t epoch,
                         int64_t example) {
  // One stream per (epoch, example): examples are below 2^40 (the importer's limit), epochs below 2^24.
  Rng rng(seed, Stream::kAugment, (uint64_t(epoch) << 40) | uint64_t(example));
  AugmentDraw d{0, 0, H, W, false};
  if (cfg.kind == AugmentKind::kCropFlip) {
    d.top = int64_t(rng.below(uint64_t(2 * cfg.padding + 1)));
    d.left = int64_t(rng.below(uint64_t(2 * cfg.padding + 1)));
  } else if (cfg.kind == AugmentKind::kResizedCrop) {
    // torchvision's RandomResizedCrop.get_params, scale (min_scale, 1), ratio (3/4, 4/3).
    const double area = double(H) * double(W), lo = std::log(3.0 / 4.0), hi = std::log(4.0 / 3.0);
    bool found = false;
    for (int attempt = 0; attempt < 10 && !found; ++attempt) {
      const double target = area * (cfg.min_scale + (1.0 - cfg.min_scale) * double(rng.uniform()));
      const double ratio = std::exp(lo + (hi - lo) * double(rng.uniform()));
      const int64_t w = std::llround(std::sqrt(target * ratio)), h = std::llround(std::sqrt(target / ratio));
      if (w > 0 && w <= W && h > 0 && h <= H) {
        d.h = h;
        d.w = w;
        d.top = int64_t(rng.below(uint64_t(H - h + 1)));
        d.left = int64_t(rng.below(uint64_t(W - w + 1)));
        found = true;
      }
    }
    if (!found) {  // the centred crop of the nearest allowed ratio
      const double in_ratio = double(W) / double(H);
      if (in_ratio < 3.0 / 4.0) d.h = std::llround(double(W) / (3.0 / 4.0));
      else if (in_ratio > 4.0 / 3.0) d.w = std::llround(double(H) * (4.0 / 3.0));
      d.top = (H - d.h) / 2;
      d.left = (W - d.w) / 2;
    }
  }
  if (cfg.kind != AugmentKind::kNone) d.flip = (rng.next_u32() >> 31) != 0;
  return d;
}

namespace {

// out[y][x] = in[y + top - pad][x + left - pad] (0 outside), mirrored when flipped.
void crop_plane(const uint8_t* in, uint8_t* out, int64_t H, int64_t W, const AugmentDraw& d, int pad) {
  for (int64_t y = 0; y < H; ++y) {
    const int64_t sy = y + d.top - pad;
    for (int64_t x = 0; x < W; ++x) {
      const int64_t sx = (d.flip ? W - 1 - x : x) + d.left - pad;
      out[y * W + x] = (sy >= 0 && sy < H && sx >= 0 && sx < W) ? in[sy * W + sx] : 0;
    }
  }
}

// The crop [top, top + h) x [left, left + w) resized to H x W: bilinear with half-pixel
// centres (align_corners=False). The crop is never larger than H x W, so this only enlarges
// and needs no antialiasing.
void resize_plane(const uint8_t* in, uint8_t* out, int64_t H, int64_t W, const AugmentDraw& d) {
  const double sy_scale = double(d.h) / double(H), sx_scale = double(d.w) / double(W);
  for (int64_t y = 0; y < H; ++y) {
    const double fy = std::clamp((double(y) + 0.5) * sy_scale - 0.5, 0.0, double(d.h - 1));
    const int64_t y0 = int64_t(fy), y1 = std::min(y0 + 1, d.h - 1);
    const double wy = fy - double(y0);
    for (int64_t x = 0; x < W; ++x) {
      const int64_t ox = d.flip ? W - 1 - x : x;
      const double fx = std::clamp((double(ox) + 0.5) * sx_scale - 0.5, 0.0, double(d.w - 1));
      const int64_t x0 = int64_t(fx), x1 = std::min(x0 + 1, d.w - 1);
      const double wx = fx - double(x0);
      auto at = [&](int64_t yy, int64_t xx) { return double(in[(d.top + yy) * W + d.left + xx]); };
      const double v = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) + wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1));
      out[y * W + x] = uint8_t(std::clamp(std::lround(v), 0L, 255L));
    }
  }
}

}  // namespace

void check_augment(const AugmentConfig& cfg, int64_t H, int64_t W) {
  if (cfg.kind == AugmentKind::kCropFlip && (cfg.padding < 0 || cfg.padding > std::min(H, W)))
    throw ConfigError("augment crop-flip: expected a padding in [0, " + std::to_string(std::min(H, W)) +
                      "] for " + std::to_string(H) + "x" + std::to_string(W) + " images, found " +
                      std::to_string(cfg.padding));
  if (cfg.kind == AugmentKind::kResizedCrop && !(cfg.min_scale > 0 && cfg.min_scale <= 1))
    throw ConfigError("augment resized-crop: expected a minimum scale in (0, 1], found " +
                      std::to_string(cfg.min_scale));
}

void augment_images(const AugmentConfig& cfg, uint8_t* images, const int64_t* examples, int64_t n, int64_t C,
                    int64_t H, int64_t W, uint64_t seed, int64_t epoch) {
  check_augment(cfg, H, W);
  if (cfg.kind == AugmentKind::kNone || n == 0) return;
  const int64_t plane = H * W;
#pragma omp parallel
  {
    std::vector<uint8_t> src(size_t(plane * C));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      uint8_t* img = images + i * C * plane;
      const AugmentDraw d = draw_augment(cfg, H, W, seed, epoch, examples[i]);
      std::copy(img, img + C * plane, src.begin());
      for (int64_t c = 0; c < C; ++c) {
        if (cfg.kind == AugmentKind::kResizedCrop) resize_plane(src.data() + c * plane, img + c * plane, H, W, d);
        else crop_plane(src.data() + c * plane, img + c * plane, H, W, d,
                        cfg.kind == AugmentKind::kCropFlip ? cfg.padding : 0);
      }
    }
  }
}

}  // namespace rampart
