// JPEG and PNG decoding (see image_decode.h). Both libraries report errors by longjmp: each
// setjmp sits in a small function that holds no C++ object, and returns 0 when the library
// jumped back to it; the caller, where the buffers live, turns that into a DataError.
#include "runtime/data/image_decode.h"

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <jpeglib.h>  // after <cstdio>: it needs FILE
#include <jerror.h>
#include <png.h>

#include "runtime/errors.h"

namespace rampart {
namespace {

// ---- PNG ---------------------------------------------------------------------

struct PngJob {
  png_structp png = nullptr;
  png_infop info = nullptr;
  const uint8_t* data = nullptr;
  size_t size = 0, at = 0;
  png_uint_32 width = 0, height = 0;
  size_t rowbytes = 0;
  char msg[256] = {0};
};

void png_error_fn(png_structp png, png_const_charp msg) {
  auto* job = static_cast<PngJob*>(png_get_error_ptr(png));
  std::snprintf(job->msg, sizeof job->msg, "%s", msg ? msg : "error");
  png_longjmp(png, 1);
}
void png_warning_fn(png_structp, png_const_charp) {}  // warnings (bad CRC in an ancillary chunk...) are not errors

void png_read_fn(png_structp png, png_bytep out, png_size_t n) {
  auto* job = static_cast<PngJob*>(png_get_io_ptr(png));
  if (n > job->size - job->at) png_error(png, "the file ends early (truncated?)");
  std::memcpy(out, job->data + job->at, n);
  job->at += n;
}

// Header and transforms to 8-bit RGB; 0 after a libpng error.
int png_header(PngJob* j) {
  if (setjmp(png_jmpbuf(j->png))) return 0;
  png_set_read_fn(j->png, j, png_read_fn);
  png_set_user_limits(j->png, 1 << 20, 1 << 20);
  png_read_info(j->png, j->info);
  const int color = png_get_color_type(j->png, j->info);
  const int depth = png_get_bit_depth(j->png, j->info);
  if (depth == 16) png_set_strip_16(j->png);  // the high byte, as PIL
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(j->png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(j->png);
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(j->png);
  png_set_strip_alpha(j->png);  // also the alpha that expanding a palette's tRNS would make
  png_set_interlace_handling(j->png);
  png_read_update_info(j->png, j->info);
  j->width = png_get_image_width(j->png, j->info);
  j->height = png_get_image_height(j->png, j->info);
  j->rowbytes = png_get_rowbytes(j->png, j->info);
  if (png_get_channels(j->png, j->info) != 3 || png_get_bit_depth(j->png, j->info) != 8)
    png_error(j->png, "could not convert the image to 8-bit RGB");
  return 1;
}

int png_pixels(PngJob* j, png_bytep* rows) {
  if (setjmp(png_jmpbuf(j->png))) return 0;
  png_read_image(j->png, rows);
  png_read_end(j->png, nullptr);
  return 1;
}

RgbImage decode_png(const std::string& name, const uint8_t* data, size_t size) {
  PngJob job;
  job.data = data;
  job.size = size;
  job.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, png_error_fn, png_warning_fn);
  if (job.png) job.info = png_create_info_struct(job.png);
  struct Cleanup {
    PngJob& j;
    ~Cleanup() { png_destroy_read_struct(&j.png, j.info ? &j.info : nullptr, nullptr); }
  } cleanup{job};
  if (!job.png || !job.info) throw std::bad_alloc();
  auto fail = [&] { return DataError(name + ": corrupt or truncated PNG (libpng: " + job.msg + ")"); };
  if (!png_header(&job)) throw fail();
  if (int64_t(job.width) * int64_t(job.height) > kMaxImagePixels)
    throw DataError(name + ": a PNG of " + std::to_string(job.width) + "x" + std::to_string(job.height) +
                    " pixels, more than the " + std::to_string(kMaxImagePixels) + " an image may have");
  RgbImage img;
  img.height = job.height;
  img.width = job.width;
  img.pixels.resize(size_t(img.height * img.width * 3));
  if (job.rowbytes != size_t(img.width * 3)) throw std::logic_error("png: unexpected row size");
  std::vector<png_bytep> rows(size_t(img.height));
  for (int64_t y = 0; y < img.height; ++y) rows[size_t(y)] = img.pixels.data() + y * img.width * 3;
  if (!png_pixels(&job, rows.data())) throw fail();
  return img;
}

// ---- JPEG --------------------------------------------------------------------

struct JpegJob {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  std::jmp_buf jmp;
  char msg[JMSG_LENGTH_MAX + 1] = {0};
  bool cmyk = false, adobe = false;
};

void jpeg_error_exit(j_common_ptr c) {
  auto* job = reinterpret_cast<JpegJob*>(c->client_data);
  (*c->err->format_message)(c, job->msg);
  std::longjmp(job->jmp, 1);
}
// Warnings are let pass (real collections have files with stray bytes before a marker, which
// every decoder reads), except a file that ends early: its missing rows would be grey.
void jpeg_emit_message(j_common_ptr c, int level) {
  if (level == -1 && c->err->msg_code == JWRN_JPEG_EOF) jpeg_error_exit(c);
}

int jpeg_header(JpegJob* j, const uint8_t* data, size_t size) {
  if (setjmp(j->jmp)) return 0;
  jpeg_mem_src(&j->cinfo, data, (unsigned long)size);
  jpeg_read_header(&j->cinfo, TRUE);
  j->cmyk = j->cinfo.jpeg_color_space == JCS_CMYK || j->cinfo.jpeg_color_space == JCS_YCCK;
  j->adobe = j->cinfo.saw_Adobe_marker;
  j->cinfo.out_color_space = j->cmyk ? JCS_CMYK : JCS_RGB;  // libjpeg-turbo turns grey into RGB itself
  j->cinfo.dct_method = JDCT_ISLOW;  // the accurate one: the same pixels on every machine
  jpeg_start_decompress(&j->cinfo);
  return 1;
}

int jpeg_pixels(JpegJob* j, uint8_t* out, size_t row_bytes) {
  if (setjmp(j->jmp)) return 0;
  while (j->cinfo.output_scanline < j->cinfo.output_height) {
    JSAMPROW row = out + size_t(j->cinfo.output_scanline) * row_bytes;
    jpeg_read_scanlines(&j->cinfo, &row, 1);
  }
  jpeg_finish_decompress(&j->cinfo);
  return 1;
}

RgbImage decode_jpeg(const std::string& name, const uint8_t* data, size_t size) {
  JpegJob job;
  job.cinfo.err = jpeg_std_error(&job.err);
  job.err.error_exit = jpeg_error_exit;
  job.err.emit_message = jpeg_emit_message;
  job.cinfo.client_data = &job;
  jpeg_create_decompress(&job.cinfo);
  struct Cleanup {
    JpegJob& j;
    ~Cleanup() { jpeg_destroy_decompress(&j.cinfo); }
  } cleanup{job};
  auto fail = [&] { return DataError(name + ": corrupt or truncated JPEG (libjpeg: " + job.msg + ")"); };
  if (!jpeg_header(&job, data, size)) throw fail();
  const int64_t w = job.cinfo.output_width, h = job.cinfo.output_height, comps = job.cinfo.output_components;
  if (w * h > kMaxImagePixels)
    throw DataError(name + ": a JPEG of " + std::to_string(w) + "x" + std::to_string(h) + " pixels, more than the " +
                    std::to_string(kMaxImagePixels) + " an image may have");
  if (comps != (job.cmyk ? 4 : 3)) throw std::logic_error("jpeg: unexpected component count");
  std::vector<uint8_t> raw(size_t(w * h * comps));
  if (!jpeg_pixels(&job, raw.data(), size_t(w * comps))) throw fail();
  RgbImage img;
  img.height = h;
  img.width = w;
  if (!job.cmyk) {
    img.pixels = std::move(raw);
    return img;
  }
  img.pixels.resize(size_t(w * h * 3));
  for (int64_t i = 0; i < w * h; ++i) {
    const uint8_t* p = raw.data() + 4 * i;
    // Adobe's files store inverted inks (255 = none), so the stored value is already 255 - ink.
    const unsigned k = job.adobe ? p[3] : 255u - p[3];
    for (int c = 0; c < 3; ++c) {
      const unsigned v = job.adobe ? p[c] : 255u - p[c];
      img.pixels[size_t(3 * i + c)] = uint8_t((v * k + 127) / 255);
    }
  }
  return img;
}

std::string first_bytes(const uint8_t* data, size_t size) {
  std::string s;
  char b[4];
  for (size_t i = 0; i < std::min<size_t>(size, 8); ++i) {
    std::snprintf(b, sizeof b, "%s%02x", i ? " " : "", data[i]);
    s += b;
  }
  return s.empty() ? "nothing: the file is empty" : s;
}

}  // namespace

RgbImage decode_image(const std::string& name, const uint8_t* data, size_t size) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 8 && std::memcmp(data, kPng, 8) == 0) return decode_png(name, data, size);
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return decode_jpeg(name, data, size);
  const char* kind = nullptr;
  if (size >= 4 && (std::memcmp(data, "GIF8", 4) == 0)) kind = "a GIF image";
  else if (size >= 12 && std::memcmp(data, "RIFF", 4) == 0 && std::memcmp(data + 8, "WEBP", 4) == 0) kind = "a WebP image";
  else if (size >= 2 && data[0] == 'B' && data[1] == 'M') kind = "a BMP image";
  else if (size >= 4 && (std::memcmp(data, "II*\0", 4) == 0 || std::memcmp(data, "MM\0*", 4) == 0)) kind = "a TIFF image";
  if (kind)
    throw DataError(name + ": " + kind + "; expected a JPEG or PNG file (convert it, e.g. with ImageMagick's "
                    "convert, or move it out of the class folder)");
  throw DataError(name + ": not a JPEG or PNG file: expected the bytes ff d8 ff (JPEG) or 89 50 4e 47 (PNG) first, "
                  "found " + first_bytes(data, size) + " (a damaged download, or not an image?)");
}

RgbImage decode_image_file(const std::string& path) {
  std::FILE* fp = std::fopen(path.c_str(), "rb");
  if (!fp) throw MissingInput(path + ": cannot open: " + std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  size_t r;
  while ((r = std::fread(buf, 1, sizeof buf, fp)) > 0) bytes.insert(bytes.end(), buf, buf + r);
  const bool err = std::ferror(fp);
  std::fclose(fp);
  if (err) throw IoError(path + ": read failed: " + std::strerror(errno));
  return decode_image(path, bytes.data(), bytes.size());
}

}  // namespace rampart
