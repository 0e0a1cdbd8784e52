// JPEG (libjpeg-turbo) and PNG (libpng) files to 8-bit RGB, the way torchvision's ImageFolder
// loads them (PIL's convert("RGB")): grey replicated to three channels, palettes expanded, alpha
// and transparency dropped (not composited), 16-bit samples cut to their high byte, gamma
// ignored. CMYK and YCCK JPEGs are converted, R = (255 - C)(255 - K) / 255 per channel, with the
// inks of files carrying Adobe's marker (Photoshop's, and most CMYK JPEGs) read as inverted, as
// PIL does. The kind is told by the first bytes, not the file name.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rampart {

struct RgbImage {
  int64_t height = 0, width = 0;
  std::vector<uint8_t> pixels;  // [height, width, 3], interleaved
};

// At most this many pixels an image (a decompression bomb is refused before its pixels are).
constexpr int64_t kMaxImagePixels = int64_t(1) << 28;

// DataError naming `name` (the file, for messages) for anything that is not a JPEG or PNG
// (other image kinds named as such), for corrupt or truncated data and for an image over
// kMaxImagePixels.
RgbImage decode_image(const std::string& name, const uint8_t* data, size_t size);
// Reads the file first (MissingInput if it cannot be opened).
RgbImage decode_image_file(const std::string& path);

}  // namespace rampart
