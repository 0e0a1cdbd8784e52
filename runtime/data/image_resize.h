// The resize of `rampart data import --size S`: the shorter side to S, the longer one to
// int(S * long / short) (torchvision's Resize(S)), then the centre S x S crop (torchvision's
// CenterCrop offsets: round((len - S) / 2), halves to even). Each axis is resampled on its own:
// by area averaging when it shrinks (each output pixel the mean of the input area it covers,
// partly covered pixels weighted by the part, as OpenCV's INTER_AREA; PIL's BOX filter counts
// whole pixels instead and differs by a few levels where the factor is not an integer), and
// bilinearly with pixel centres at half-integers when it grows (align_corners=False, as PIL's
// BILINEAR upscaling). Pure functions: same input, same bytes, on every machine.
// Checked against PIL 9.4 and torchvision 0.14 by hand (decoding: identical pixels; order,
// labels and class names: ImageFolder's; enlarging within 1 level), not in the test suite.
#pragma once
#include <cstdint>

namespace rampart {

struct ResizePlan {
  int64_t resized_h = 0, resized_w = 0;  // after the resize
  int64_t top = 0, left = 0;             // of the crop, in the resized image
};
ResizePlan plan_resize(int64_t h, int64_t w, int64_t size);

// rgb: [h, w, 3] interleaved -> out: [3, size, size] (planes).
void resize_crop(const uint8_t* rgb, int64_t h, int64_t w, int64_t size, uint8_t* out);
// No resize: [h, w, c] interleaved -> [c, h, w].
void hwc_to_chw(const uint8_t* in, int64_t h, int64_t w, int64_t c, uint8_t* out);

}  // namespace rampart
