#include "image/png.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace basalt::image {
namespace {

namespace fs = std::filesystem;

std::string PngTempDir() {
  static int n = 0;
  fs::path dir = fs::path(testing::TempDir()) /
                 ("png_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
  fs::create_directories(dir);
  return dir.string();
}

std::string PngReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RgbImage Gradient(int w, int h) {
  RgbImage img;
  img.width = w;
  img.height = h;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      img.rgb.push_back(static_cast<uint8_t>(x * 255 / std::max(1, w - 1)));
      img.rgb.push_back(static_cast<uint8_t>(y * 255 / std::max(1, h - 1)));
      img.rgb.push_back(static_cast<uint8_t>((x * 7 + y * 13) & 0xff));
    }
  }
  return img;
}

TEST(PngTest, RoundTripAndDeterministic) {
  RgbImage img = Gradient(67, 31);
  auto a = EncodePng(img);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = EncodePng(img);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  auto back = DecodePng(*a);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->width, 67);
  EXPECT_EQ(back->height, 31);
  EXPECT_EQ(back->rgb, img.rgb);
  img.rgb[5] ^= 1;
  EXPECT_NE(*EncodePng(img), *a);
}

TEST(PngTest, EncodeRefusesBadImages) {
  RgbImage img;
  EXPECT_EQ(EncodePng(img).status().code(), StatusCode::kInvalidArgument);
  img.width = 2;
  img.height = 2;
  img.rgb.resize(11);
  EXPECT_EQ(EncodePng(img).status().code(), StatusCode::kInvalidArgument);
}

TEST(PngTest, CorruptInputIsInvalidArgument) {
  const std::string good = *EncodePng(Gradient(16, 16));
  for (const std::string& bad :
       {std::string(), std::string("not a png at all"), good.substr(0, 8), good.substr(0, 30),
        good.substr(0, good.size() / 2), good.substr(0, good.size() - 13)}) {
    auto r = DecodePng(bad);
    ASSERT_FALSE(r.ok()) << bad.size();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("not a valid PNG"), std::string::npos)
        << r.status().message();
  }
  // Every truncation fails cleanly; a flipped byte in the header chunk breaks its CRC.
  for (size_t n = 0; n + 12 < good.size(); n += 7) EXPECT_FALSE(DecodePng(good.substr(0, n)).ok());
  std::string flipped = good;
  flipped[20] ^= 0x40;
  EXPECT_EQ(DecodePng(flipped).status().code(), StatusCode::kInvalidArgument);
  // The pixel cap.
  auto big = DecodePng(good, 255);
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("too large"), std::string::npos);
  EXPECT_TRUE(DecodePng(good, 256).ok());
}

// PIL (python3-pil) writes PNGs in the other color types and bit depths; we must decode each
// to the same 8-bit RGB that PIL gives; PIL must also read what we write.
TEST(PngTest, AgreesWithPil) {
  if (std::system("python3 -c 'import PIL, numpy' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3-pil not importable";
  }
  const std::string dir = PngTempDir();
  {
    std::ofstream(dir + "/ours.png", std::ios::binary) << *EncodePng(Gradient(40, 24));
  }
  std::ofstream(dir + "/make.py") << R"PY(
import sys, numpy as np
from PIL import Image
d = sys.argv[1]
ours = np.asarray(Image.open(d + '/ours.png'))
assert ours.shape == (24, 40, 3), ours.shape
x, y = np.meshgrid(np.arange(40), np.arange(24))
exp = np.stack([x * 255 // 39, y * 255 // 23, (x * 7 + y * 13) & 255], -1).astype(np.uint8)
assert (ours == exp).all()
rng = np.random.default_rng(1)
rgba = rng.integers(0, 256, (13, 21, 4), dtype=np.uint8)
cases = {
  'rgba': Image.fromarray(rgba, 'RGBA'),
  'gray': Image.fromarray(rgba[..., 0], 'L'),
  'gray_alpha': Image.fromarray(rgba[..., :2], 'LA'),
  'palette': Image.fromarray(rgba[..., :3], 'RGB').quantize(37),
  'bilevel': Image.fromarray(rgba[..., 0] > 127),
  'interlaced': Image.fromarray(rgba[..., :3], 'RGB'),
}
for name, im in cases.items():
  im.save(f'{d}/{name}.png', interlace=(name == 'interlaced'))
  open(f'{d}/{name}.rgb', 'wb').write(np.asarray(im.convert('RGB')).tobytes())
g16 = rng.integers(0, 65536, (9, 11), dtype=np.uint16)
Image.fromarray(g16).save(f'{d}/gray16.png')
assert Image.open(f'{d}/gray16.png').mode.startswith('I')
open(f'{d}/gray16.rgb', 'wb').write(np.repeat((g16 >> 8).astype(np.uint8)[..., None], 3, -1).tobytes())
)PY";
  ASSERT_EQ(std::system(("python3 " + dir + "/make.py " + dir).c_str()), 0);
  for (const char* name :
       {"rgba", "gray", "gray_alpha", "palette", "bilevel", "interlaced", "gray16"}) {
    auto img = DecodePng(PngReadFile(dir + "/" + name + ".png"));
    ASSERT_TRUE(img.ok()) << name << ": " << img.status().ToString();
    const std::string expected = PngReadFile(dir + "/" + name + ".rgb");
    EXPECT_EQ(std::string(img->rgb.begin(), img->rgb.end()), expected) << name;
  }
}

// A real PNG shipped by a Debian package (matplotlib's sample logo, RGBA 542x130).
TEST(PngTest, DecodesDebianPackagePng) {
  const std::string path = "/usr/share/matplotlib/mpl-data/sample_data/logo2.png";
  if (!fs::exists(path)) GTEST_SKIP() << path << " not installed";
  auto img = DecodePng(PngReadFile(path));
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->width, 542);
  EXPECT_EQ(img->height, 130);
  ASSERT_EQ(img->rgb.size(), 542u * 130 * 3);
  // A real picture: many distinct colours, not one flat value.
  std::vector<bool> seen(1 << 12);
  int distinct = 0;
  for (size_t i = 0; i < img->rgb.size(); i += 3) {
    int key = (img->rgb[i] >> 4) << 8 | (img->rgb[i + 1] >> 4) << 4 | (img->rgb[i + 2] >> 4);
    if (!seen[key]) ++distinct, seen[key] = true;
  }
  EXPECT_GT(distinct, 20);
  // PIL agrees pixel for pixel.
  if (std::system("python3 -c 'import PIL, numpy' >/dev/null 2>&1") != 0) return;
  const std::string dir = PngTempDir();
  const std::string cmd = "python3 -c \"import numpy as np; from PIL import Image; open('" + dir +
                          "/e.rgb','wb').write(np.asarray(Image.open('" + path +
                          "').convert('RGB')).tobytes())\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(std::string(img->rgb.begin(), img->rgb.end()), PngReadFile(dir + "/e.rgb"));
}

}  // namespace
}  // namespace basalt::image
