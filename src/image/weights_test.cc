#include "image/weights.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

namespace basalt::image {
namespace {

namespace fs = std::filesystem;

std::string WtTempDir() {
  static int n = 0;
  fs::path dir = fs::path(testing::TempDir()) /
                 ("wt_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
  fs::create_directories(dir);
  return dir.string();
}

template <typename T>
std::string WtBytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

std::shared_ptr<SafetensorsFile> WtOpen(const std::string& path) {
  auto f = SafetensorsFile::Open(path);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return std::shared_ptr<SafetensorsFile>(std::move(*f));
}

TEST(WeightMapTest, ConvertsAndViewsWithoutCopy) {
  const std::string path = WtTempDir() + "/w.safetensors";
  at::Tensor half = at::tensor({1.5f, -2.0f, 0.25f}).to(at::kHalf);
  at::Tensor bf = at::tensor({3.0f, 4.0f}).to(at::kBFloat16);
  ASSERT_TRUE(
      WriteSafetensors(
          path,
          {{"a.f32", DType::kF32, {2, 2}, WtBytes(std::vector<float>{1, 2, 3, 4})},
           {"b.f16", DType::kF16, {3}, std::string(static_cast<const char*>(half.data_ptr()), 6)},
           {"c.bf16", DType::kBF16, {2}, std::string(static_cast<const char*>(bf.data_ptr()), 4)},
           {"d.f64", DType::kF64, {1}, WtBytes(std::vector<double>{0.5})},
           {"e.ids", DType::kI64, {2}, WtBytes(std::vector<int64_t>{7, 9})}})
          .ok());
  auto file = WtOpen(path);
  const uint8_t* mapped = file->Find("a.f32")->data;
  WeightMap w;
  ASSERT_TRUE(w.Add(file, at::kFloat).ok());
  file.reset();  // the map keeps the file alive
  ASSERT_EQ(w.size(), 5u);
  at::Tensor a = *w.Get("a.f32", {2, 2});
  EXPECT_EQ(a.scalar_type(), at::kFloat);
  EXPECT_EQ(static_cast<const void*>(a.data_ptr()), static_cast<const void*>(mapped));
  EXPECT_EQ(a[1][0].item<float>(), 3.f);
  at::Tensor b = *w.Get("b.f16");
  EXPECT_EQ(b.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(b, at::tensor({1.5f, -2.0f, 0.25f})));
  EXPECT_TRUE(at::equal(*w.Get("c.bf16"), at::tensor({3.f, 4.f})));
  EXPECT_EQ((*w.Get("d.f64")).item<float>(), 0.5f);
  EXPECT_EQ((*w.Get("e.ids")).scalar_type(), at::kLong);

  WeightMap wb;
  ASSERT_TRUE(wb.Add(WtOpen(path), at::kBFloat16).ok());
  EXPECT_EQ((*wb.Get("a.f32")).scalar_type(), at::kBFloat16);
  EXPECT_EQ((*wb.Get("c.bf16")).scalar_type(), at::kBFloat16);
}

TEST(WeightMapTest, GetSubRenameAndErrors) {
  const std::string path = WtTempDir() + "/w.safetensors";
  ASSERT_TRUE(WriteSafetensors(
                  path, {{"x.conv.weight", DType::kF32, {2}, WtBytes(std::vector<float>{1, 2})},
                         {"x.conv.bias", DType::kF32, {1}, WtBytes(std::vector<float>{3})},
                         {"xy.other", DType::kF32, {1}, WtBytes(std::vector<float>{4})},
                         {"drop.me", DType::kF32, {1}, WtBytes(std::vector<float>{5})}})
                  .ok());
  WeightMap w;
  w.set_description("unet");
  ASSERT_TRUE(w.Add(WtOpen(path), at::kFloat, [](const std::string& n) {
                 return n.rfind("drop.", 0) == 0 ? std::string() : "m." + n;
               }).ok());
  EXPECT_EQ(w.Names(),
            (std::vector<std::string>{"m.x.conv.bias", "m.x.conv.weight", "m.xy.other"}));
  auto missing = w.Get("m.nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(missing.status().message(), "unet: missing tensor 'm.nope'");
  auto bad_shape = w.Get("m.x.conv.weight", {3, 1});
  EXPECT_EQ(bad_shape.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(bad_shape.status().message().find("has shape [2], expected [3, 1]"), std::string::npos)
      << bad_shape.status().message();
  WeightMap x = w.Sub("m.x");
  EXPECT_EQ(x.Names(), (std::vector<std::string>{"conv.bias", "conv.weight"}));
  EXPECT_EQ((*x.Get("conv.bias")).item<float>(), 3.f);
  EXPECT_EQ(w.Sub("m").Sub("x").size(), 2u);
  // A duplicate name (the same file added twice) is refused.
  auto dup = w.Add(WtOpen(path), at::kFloat, [](const std::string& n) { return "m." + n; });
  EXPECT_EQ(dup.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(dup.message().find("appears twice"), std::string::npos);
  w.Put("extra", at::ones({2}));
  EXPECT_TRUE(w.Has("extra"));
}

}  // namespace
}  // namespace basalt::image
