// PNG files with libpng: 8-bit RGB(A) encode for generated images, and decode (any PNG the
// library reads, converted to 8-bit RGB) for image inputs and tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace basalt::image {

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3, row-major
};

// Deterministic bytes for the same pixels (no timestamps, fixed compression settings).
StatusOr<std::string> EncodePng(const RgbImage& image);
// kInvalidArgument "The provided image is not a valid PNG" style messages for bad input; caps
// the pixel count at `max_pixels`.
StatusOr<RgbImage> DecodePng(std::string_view bytes, int64_t max_pixels = 64LL << 20);

}  // namespace basalt::image
