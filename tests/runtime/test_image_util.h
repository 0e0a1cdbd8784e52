// Writers of small PNG (libpng) and JPEG (libjpeg) files for the image import tests, and a
// pixel pattern that says where each byte belongs.
#pragma once
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdint>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>

namespace rampart::testing {

// An RGB pattern [h, w, 3]: pixel (y, x) channel c = (37 y + 11 x + 80 c + seed) mod 256.
inline std::vector<uint8_t> rgb_pattern(int h, int w, int seed) {
  std::vector<uint8_t> v(size_t(h * w * 3));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) v[size_t((y * w + x) * 3 + c)] = uint8_t((37 * y + 11 * x + 80 * c + seed) % 256);
  return v;
}

// color_type: PNG_COLOR_TYPE_RGB, _RGB_ALPHA, _GRAY, _GRAY_ALPHA or _PALETTE; `samples` holds
// [h, w, channels] values of `bit_depth` bits (16-bit ones big-endian, two bytes each), or palette
// indices; `palette` the RGB entries of a palette image.
inline void write_png(const std::string& path, int w, int h, int color_type, int bit_depth,
                      const std::vector<uint8_t>& samples, const std::vector<png_color>& palette = {}) {
  std::FILE* fp = std::fopen(path.c_str(), "wb");
  ASSERT_TRUE(fp) << path;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(fp);
    FAIL() << "libpng failed writing " << path;
  }
  png_init_io(png, fp);
  png_set_IHDR(png, info, png_uint_32(w), png_uint_32(h), bit_depth, color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_PLTE(png, info, palette.data(), int(palette.size()));
  png_write_info(png, info);
  const size_t row = samples.size() / size_t(h);
  for (int y = 0; y < h; ++y) png_write_row(png, const_cast<png_bytep>(samples.data() + size_t(y) * row));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(fp);
}

inline void write_png_rgb(const std::string& path, int w, int h, const std::vector<uint8_t>& rgb) {
  write_png(path, w, h, PNG_COLOR_TYPE_RGB, 8, rgb);
}

// Quality 100, no chroma subsampling: decoded pixels within a few levels of these.
// components 3 (RGB), 1 (grey) or 4 (CMYK, written with Adobe's marker, as Photoshop does).
inline void write_jpeg(const std::string& path, int w, int h, int components, const std::vector<uint8_t>& samples) {
  std::FILE* fp = std::fopen(path.c_str(), "wb");
  ASSERT_TRUE(fp) << path;
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, fp);
  c.image_width = JDIMENSION(w);
  c.image_height = JDIMENSION(h);
  c.input_components = components;
  c.in_color_space = components == 3 ? JCS_RGB : components == 1 ? JCS_GRAYSCALE : JCS_CMYK;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 100, TRUE);
  for (int i = 0; i < c.num_components; ++i) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(samples.data() + size_t(c.next_scanline) * size_t(w * components));
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::fclose(fp);
}

}  // namespace rampart::testing
