// Training-set augmentation on uint8 images [C, H, W], decided by (seed, epoch, example):
// an example looks the same in an epoch whichever rank reads it and however many ranks
// there are, and a resumed run re-draws exactly what the interrupted one drew.
//   flip          horizontal flip with probability 1/2
//   crop-flip     the CIFAR standard: zero-pad `padding` pixels on each side, crop back to
//                 H x W at a uniformly drawn offset (torchvision RandomCrop(padding=4)), then flip
//   resized-crop  ImageNet's: a crop of 8-100% of the area (min_scale) with aspect ratio in
//                 [3/4, 4/3] (log-uniform), drawn up to 10 times as torchvision's
//                 RandomResizedCrop does (else the largest centred crop of a ratio in range),
//                 resized bilinearly to H x W, then flip
// The output keeps the stored size: store the training images at the size the model takes
// (rampart data import --size).
#pragma once
#include <cstdint>
#include <string>

namespace rampart {

enum class AugmentKind { kNone, kFlip, kCropFlip, kResizedCrop };

struct AugmentConfig {
  AugmentKind kind = AugmentKind::kNone;
  int padding = 4;         // crop-flip
  float min_scale = 0.08f;  // resized-crop: the smallest crop, as a fraction of the area
};

// "none", "flip", "crop-flip", "resized-crop"; ConfigError otherwise.
AugmentKind parse_augment(const std::string& name);
const char* augment_name(AugmentKind k);

// What one example's augmentation is: the crop window [top, top + h) x [left, left + w) in
// the padded (crop-flip) or stored (resized-crop) image, and whether it is flipped.
struct AugmentDraw {
  int64_t top = 0, left = 0, h = 0, w = 0;
  bool flip = false;
};
AugmentDraw draw_augment(const AugmentConfig& cfg, int64_t H, int64_t W, uint64_t seed, int64_t epoch,
                         int64_t example);

// ConfigError for settings the images cannot take (a padding above the image's side, a
// minimum scale outside (0, 1]).
void check_augment(const AugmentConfig& cfg, int64_t H, int64_t W);

// Augments n images in place (NCHW uint8, each [C, H, W]); examples[i] is image i's row in
// the dataset. Parallel over images (OpenMP); the result does not depend on the threads.
void augment_images(const AugmentConfig& cfg, uint8_t* images, const int64_t* examples, int64_t n, int64_t C,
                    int64_t H, int64_t W, uint64_t seed, int64_t epoch);

}  // namespace rampart
