#include "image/png.h"

#include <png.h>

#include <csetjmp>
#include <cstring>

namespace basalt::image {

namespace {

// libpng reports errors through a callback that must not return: it records the message and
// jumps back to the setjmp in EncodePng/DecodePng. Only trivially destructible state lives
// between the setjmp and the jump (the containers are built before it).
struct PngIo {
  std::string* out = nullptr;  // encode
  std::string_view in;         // decode
  size_t pos = 0;              // decode
  char error[200] = "unknown error";
};

void PngOnError(png_structp png, png_const_charp msg) {
  auto* io = static_cast<PngIo*>(png_get_error_ptr(png));
  std::snprintf(io->error, sizeof(io->error), "%s", msg ? msg : "unknown error");
  png_longjmp(png, 1);
}

void PngOnWarning(png_structp, png_const_charp) {}

void PngWrite(png_structp png, png_bytep data, size_t length) {
  auto* io = static_cast<PngIo*>(png_get_io_ptr(png));
  io->out->append(reinterpret_cast<const char*>(data), length);
}

void PngFlush(png_structp) {}

void PngRead(png_structp png, png_bytep data, size_t length) {
  auto* io = static_cast<PngIo*>(png_get_io_ptr(png));
  if (length > io->in.size() - io->pos) png_error(png, "truncated PNG data");
  std::memcpy(data, io->in.data() + io->pos, length);
  io->pos += length;
}

}  // namespace

StatusOr<std::string> EncodePng(const RgbImage& image) {
  if (image.width <= 0 || image.height <= 0 || image.width > 65535 || image.height > 65535) {
    return Status::InvalidArgument("PNG: bad image size " + std::to_string(image.width) + "x" +
                                   std::to_string(image.height));
  }
  if (image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3) {
    return Status::InvalidArgument("PNG: pixel buffer does not match the image size");
  }
  std::string out;
  PngIo io;
  io.out = &out;
  std::vector<png_bytep> rows(static_cast<size_t>(image.height));
  for (int y = 0; y < image.height; ++y) {
    rows[y] = const_cast<png_bytep>(image.rgb.data() + static_cast<size_t>(y) * image.width * 3);
  }
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &io, PngOnError, PngOnWarning);
  if (png == nullptr) return Status::Internal("PNG: cannot create the encoder");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return Status::Internal(std::string("PNG encode failed: ") + io.error);
  }
  png_set_write_fn(png, &io, PngWrite, PngFlush);
  // Fixed settings: the same pixels give the same bytes (no time chunk, fixed filter/level).
  png_set_compression_level(png, 6);
  png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_PAETH);
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width),
               static_cast<png_uint_32>(image.height), 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

// Everything after the setjmp runs here (not inlined into the function holding the setjmp, so
// no local there can be clobbered by the jump). A libpng error jumps out of this frame, which
// holds no object with a destructor.
[[gnu::noinline]] void PngDecodeSteps(png_structp png, png_infop info, int64_t max_pixels,
                                      RgbImage* image, std::vector<png_bytep>* rows,
                                      bool* too_large) {
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  png_set_chunk_malloc_max(png, 64u << 20);
  png_read_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info);
  const png_uint_32 height = png_get_image_height(png, info);
  if (static_cast<int64_t>(width) * height > max_pixels) {
    *too_large = true;
    png_error(png, "too large");
  }
  const int color = png_get_color_type(png, info);
  png_set_expand(png);  // palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha
  png_set_strip_16(png);
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) {
    png_set_gray_to_rgb(png);
  }
  png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_rowbytes(png, info) != static_cast<size_t>(width) * 3) {
    png_error(png, "unexpected pixel layout after conversion");
  }
  image->width = static_cast<int>(width);
  image->height = static_cast<int>(height);
  image->rgb.resize(static_cast<size_t>(width) * height * 3);
  rows->resize(height);
  for (png_uint_32 y = 0; y < height; ++y) {
    (*rows)[y] = image->rgb.data() + static_cast<size_t>(y) * width * 3;
  }
  png_read_image(png, rows->data());
  png_read_end(png, nullptr);
}

StatusOr<RgbImage> DecodePng(std::string_view bytes, int64_t max_pixels) {
  static const uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kSignature, 8) != 0) {
    return Status::InvalidArgument("The provided image is not a valid PNG (bad signature)");
  }
  RgbImage image;
  std::vector<png_bytep> rows;
  PngIo io;
  io.in = bytes;
  bool too_large = false;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &io, PngOnError, PngOnWarning);
  if (png == nullptr) return Status::Internal("PNG: cannot create the decoder");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    if (too_large) {
      return Status::InvalidArgument("The provided image is too large (over " +
                                     std::to_string(max_pixels) + " pixels)");
    }
    return Status::InvalidArgument(std::string("The provided image is not a valid PNG: ") +
                                   io.error);
  }
  png_set_read_fn(png, &io, PngRead);
  PngDecodeSteps(png, info, max_pixels, &image, &rows, &too_large);
  png_destroy_read_struct(&png, &info, nullptr);
  return image;
}

}  // namespace basalt::image
