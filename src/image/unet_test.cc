// UNet numerics against the independent PyTorch reference (tests/image/ref/unet.py) on random
// weights of tiny SD 1.x / 2.x configs (the reference makes the weights; the project's tool's
// tiny checkpoints are checked too when it is built), plus load errors for broken weights.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "image/checkpoint.h"
#include "image/models.h"
#include "image/safetensors.h"
#include "image/weights.h"

namespace basalt::image {
namespace {

namespace fs = std::filesystem;

std::string SourceDir() {
  if (const char* d = std::getenv("BASALT_SOURCE_DIR")) return d;
  fs::path p = fs::current_path();
  while (!p.empty() && p != p.root_path()) {
    if (fs::exists(p / "tests/image/ref/unet.py")) return p.string();
    p = p.parent_path();
  }
  return ".";
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int RunCommand(const std::string& cmd, std::string* output) {
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (!f) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) output->append(buf, n);
  return pclose(f);
}

bool PythonHasTorch() {
  static const bool ok = [] {
    std::string out;
    return RunCommand("python3 -c 'import torch, safetensors'", &out) == 0;
  }();
  return ok;
}

bool RunRef(const std::string& args) {
  std::string out;
  const int rc =
      RunCommand("cd " + Quote(SourceDir()) + " && python3 tests/image/ref/run.py " + args, &out);
  EXPECT_EQ(rc, 0) << "run.py " << args << "\n" << out;
  return rc == 0;
}

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  fs::path p =
      fs::path(base ? base : "/tmp") / ("basalt_unet_" + name + "_" + std::to_string(getpid()));
  fs::create_directories(p);
  return p.string();
}

void WriteF32(const std::string& path, const std::map<std::string, at::Tensor>& m) {
  std::vector<TensorToWrite> list;
  for (const auto& [name, tensor] : m) {
    at::Tensor t = tensor.to(at::kFloat).contiguous();
    TensorToWrite w;
    w.name = name;
    w.dtype = DType::kF32;
    w.shape = t.sizes().vec();
    w.data.assign(static_cast<const char*>(t.data_ptr()), t.nbytes());
    list.push_back(std::move(w));
  }
  const Status st = WriteSafetensors(path, list);
  ASSERT_TRUE(st.ok()) << st.ToString();
}

at::Tensor ReadF32(const std::string& path, const std::string& name) {
  auto file = SafetensorsFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  if (!file.ok()) return {};
  const TensorView* v = (*file)->Find(name);
  EXPECT_TRUE(v != nullptr && v->dtype == DType::kF32) << name;
  if (v == nullptr || v->dtype != DType::kF32) return {};
  at::Tensor t = at::empty(v->shape, at::kFloat);
  std::memcpy(t.data_ptr(), v->data, v->size_bytes);
  return t;
}

double RelL2(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor ad = a.to(at::kDouble), bd = b.to(at::kDouble);
  return (ad - bd).norm().item<double>() / std::max(bd.norm().item<double>(), 1e-30);
}

// The tiny configs of the contract (basalt-image-tool make-random --shape tiny).
UNetConfig TinySd1() {
  UNetConfig c;
  c.sample_size = 8;
  c.block_out_channels = {32, 64};
  c.down_block_types = {"CrossAttnDownBlock2D", "DownBlock2D"};
  c.up_block_types = {"UpBlock2D", "CrossAttnUpBlock2D"};
  c.layers_per_block = 1;
  c.norm_num_groups = 8;
  c.cross_attention_dim = 32;
  c.attention_head_dim = {8};
  return c;
}

UNetConfig TinySd2() {
  UNetConfig c = TinySd1();
  c.attention_head_dim = {2, 4};
  c.use_linear_projection = true;
  return c;
}

nlohmann::json ConfigJson(const UNetConfig& c) {
  nlohmann::json j;
  j["in_channels"] = c.in_channels;
  j["out_channels"] = c.out_channels;
  j["sample_size"] = c.sample_size;
  j["block_out_channels"] = c.block_out_channels;
  j["down_block_types"] = c.down_block_types;
  j["up_block_types"] = c.up_block_types;
  j["layers_per_block"] = c.layers_per_block;
  if (c.attention_head_dim.size() == 1) {
    j["attention_head_dim"] = c.attention_head_dim[0];
  } else {
    j["attention_head_dim"] = c.attention_head_dim;
  }
  j["cross_attention_dim"] = c.cross_attention_dim;
  j["use_linear_projection"] = c.use_linear_projection;
  j["norm_num_groups"] = c.norm_num_groups;
  j["norm_eps"] = c.norm_eps;
  j["flip_sin_to_cos"] = c.flip_sin_to_cos;
  j["freq_shift"] = c.freq_shift;
  j["transformer_layers_per_block"] = c.transformer_layers_per_block;
  j["upcast_attention"] = c.upcast_attention;
  return j;
}

// Writes DIR/config.json and DIR/diffusion_pytorch_model.safetensors (the reference's random
// weights); returns DIR.
std::string MakeReferenceModel(const std::string& name, const UNetConfig& c, int seed) {
  const std::string dir = TempDir(name);
  std::ofstream(dir + "/config.json") << ConfigJson(c).dump(1);
  RunRef("unet-make-random --model " + Quote(dir + "/config.json") + " --out " +
         Quote(dir + "/diffusion_pytorch_model.safetensors") + " --seed " + std::to_string(seed));
  return dir;
}

StatusOr<WeightMap> LoadWeights(const std::string& path, at::ScalarType dtype) {
  BASALT_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(path));
  WeightMap w;
  w.set_description(path);
  BASALT_RETURN_IF_ERROR(w.Add(std::shared_ptr<SafetensorsFile>(std::move(file)), dtype));
  return w;
}

// Runs C++ and the reference on batch 2, a non-square latent and two timestep sets; returns
// the worst relative L2 error.
double CompareWithReference(const std::string& dir, const UNetConfig& config) {
  auto w = LoadWeights(dir + "/diffusion_pytorch_model.safetensors", at::kFloat);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  if (!w.ok()) return 1e9;
  auto unet = UNet::Create(config, std::move(*w));
  EXPECT_TRUE(unet.ok()) << unet.status().ToString();
  if (!unet.ok()) return 1e9;
  double worst = 0;
  const std::vector<std::vector<float>> timesteps{{999.f, 999.f}, {1.f, 500.5f}};
  for (size_t i = 0; i < timesteps.size(); ++i) {
    at::manual_seed(static_cast<uint64_t>(i) + 7);
    auto latents = at::randn({2, config.in_channels, 8, 16});
    auto t = at::tensor(timesteps[i]);
    auto context = at::randn({2, 77, config.cross_attention_dim});
    const std::string in = dir + "/in.safetensors", out = dir + "/out.safetensors";
    WriteF32(in, {{"latents", latents}, {"timesteps", t}, {"context", context}});
    if (!RunRef("unet --model " + Quote(dir) + " --inputs " + Quote(in) + " --out " + Quote(out))) {
      return 1e9;
    }
    at::Tensor expected = ReadF32(out, "out");
    at::Tensor got = (*unet)->Forward(latents, t, context);
    EXPECT_EQ(got.sizes(), expected.sizes());
    EXPECT_EQ(got.scalar_type(), at::kFloat);
    if (got.sizes() != expected.sizes()) return 1e9;
    EXPECT_TRUE(at::isfinite(got).all().item<bool>());
    const double err = RelL2(got, expected);
    std::printf("timesteps %.1f/%.1f: relative L2 error %.3g (|out| rms %.3f)\n", timesteps[i][0],
                timesteps[i][1], err, got.pow(2).mean().sqrt().item<double>());
    worst = std::max(worst, err);
  }
  return worst;
}

// f32 against f32: both sides do the same math in a different order (fused q/k/v, the folded
// attention scale, chunked attention, residuals added in the GEMM), so the outputs agree to
// float rounding: a few 1e-7 relative. 1e-4 leaves room for BLAS differences and still catches
// any real mistake (a wrong head split or norm is O(1)).
constexpr double kF32Tolerance = 1e-4;

TEST(UNetTest, MatchesReferenceTinySd1) {
  if (!PythonHasTorch()) GTEST_SKIP() << "python3 cannot import torch";
  const UNetConfig c = TinySd1();
  EXPECT_LT(CompareWithReference(MakeReferenceModel("sd1", c, 3), c), kF32Tolerance);
}

TEST(UNetTest, MatchesReferenceTinySd2) {
  if (!PythonHasTorch()) GTEST_SKIP() << "python3 cannot import torch";
  const UNetConfig c = TinySd2();
  EXPECT_LT(CompareWithReference(MakeReferenceModel("sd2", c, 4), c), kF32Tolerance);
}

TEST(UNetTest, MatchesReferenceThreeLevelsUpcastTwoLayers) {
  // Three levels (two downsamplers, odd skip sizes on the way up are not needed at 8x16),
  // num_attention_heads given explicitly, upcast attention, two transformer layers.
  if (!PythonHasTorch()) GTEST_SKIP() << "python3 cannot import torch";
  UNetConfig c = TinySd1();
  c.block_out_channels = {16, 32, 32};
  c.down_block_types = {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"};
  c.up_block_types = {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"};
  c.layers_per_block = 2;
  c.attention_head_dim = {8};
  c.transformer_layers_per_block = 2;
  c.upcast_attention = true;
  c.cross_attention_dim = 24;
  EXPECT_LT(CompareWithReference(MakeReferenceModel("three", c, 5), c), kF32Tolerance);
}

TEST(UNetTest, Bf16IsCloseToF32) {
  if (!PythonHasTorch()) GTEST_SKIP() << "python3 cannot import torch";
  const UNetConfig c = TinySd1();
  const std::string dir = MakeReferenceModel("bf16", c, 6);
  auto w32 = LoadWeights(dir + "/diffusion_pytorch_model.safetensors", at::kFloat);
  auto w16 = LoadWeights(dir + "/diffusion_pytorch_model.safetensors", at::kBFloat16);
  ASSERT_TRUE(w32.ok() && w16.ok());
  auto u32 = UNet::Create(c, std::move(*w32));
  auto u16 = UNet::Create(c, std::move(*w16));
  ASSERT_TRUE(u32.ok() && u16.ok()) << u16.status().ToString();
  at::manual_seed(11);
  auto latents = at::randn({2, 4, 16, 8});
  auto t = at::tensor(std::vector<float>{250.f, 250.f});
  auto ctx = at::randn({2, 77, 32});
  auto a = (*u32)->Forward(latents, t, ctx);
  auto b = (*u16)->Forward(latents, t, ctx);
  EXPECT_EQ(b.scalar_type(), at::kFloat);
  const double err = RelL2(b, a);
  std::printf("bf16 vs f32: relative L2 %.3g\n", err);
  // bf16 keeps 8 bits of mantissa (relative rounding ~4e-3 per op); a few percent overall.
  EXPECT_LT(err, 5e-2);
}

// Weights written by the project's tool load strictly into the reference and match it.
TEST(UNetTest, ToolCheckpointsMatchReference) {
  if (!PythonHasTorch()) GTEST_SKIP() << "python3 cannot import torch";
  const char* tool = std::getenv("BASALT_IMAGE_TOOL");
  if (tool == nullptr) GTEST_SKIP() << "BASALT_IMAGE_TOOL is not set";
  for (const std::string variant : {"sd1", "sd2"}) {
    const std::string dir = TempDir("tool_" + variant);
    std::string log;
    const int rc = RunCommand(Quote(tool) + " make-random --variant " + variant +
                                  " --shape tiny --layout diffusers --dtype f32 --seed 9 --out " +
                                  Quote(dir + "/model"),
                              &log);
    ASSERT_EQ(rc, 0) << log;
    ImageModelConfig mc;
    mc.path = dir + "/model";
    auto info = ReadCheckpointInfo(mc);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    const double err = CompareWithReference(dir + "/model/unet", info->unet);
    EXPECT_LT(err, kF32Tolerance) << variant;
  }
}

class UNetLoadErrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PythonHasTorch()) GTEST_SKIP() << "python3 cannot import torch";
    dir_ = MakeReferenceModel("errors", TinySd1(), 1);
  }
  // The reference's weights with `edit` applied, rewritten and loaded.
  Status CreateWith(const std::function<void(std::map<std::string, at::Tensor>&)>& edit) {
    auto file = SafetensorsFile::Open(dir_ + "/diffusion_pytorch_model.safetensors");
    EXPECT_TRUE(file.ok());
    std::map<std::string, at::Tensor> m;
    for (const TensorView& v : (*file)->tensors()) {
      at::Tensor t = at::empty(v.shape, at::kFloat);
      std::memcpy(t.data_ptr(), v.data, v.size_bytes);
      m[v.name] = t;
    }
    edit(m);
    const std::string path = dir_ + "/edited.safetensors";
    WriteF32(path, m);
    auto w = LoadWeights(path, at::kFloat);
    if (!w.ok()) return w.status();
    auto unet = UNet::Create(TinySd1(), std::move(*w));
    return unet.ok() ? Status::Ok() : unet.status();
  }
  std::string dir_;
};

TEST_F(UNetLoadErrorTest, Unchanged) {
  EXPECT_TRUE(CreateWith([](auto&) {}).ok());
}

TEST_F(UNetLoadErrorTest, MissingTensorIsNamed) {
  const std::string name = "up_blocks.1.attentions.1.transformer_blocks.0.attn2.to_k.weight";
  Status st = CreateWith([&](auto& m) { ASSERT_EQ(m.erase(name), 1u); });
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find(name), std::string::npos) << st.message();
}

TEST_F(UNetLoadErrorTest, WrongShapeIsNamed) {
  const std::string name = "down_blocks.0.resnets.0.conv1.weight";
  Status st = CreateWith([&](auto& m) { m[name] = at::zeros({32, 4, 3, 3}); });
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find(name), std::string::npos) << st.message();
}

TEST_F(UNetLoadErrorTest, ConfigThatDoesNotFitIsRefused) {
  auto w = LoadWeights(dir_ + "/diffusion_pytorch_model.safetensors", at::kFloat);
  ASSERT_TRUE(w.ok());
  UNetConfig c = TinySd1();
  c.attention_head_dim = {3};  // 32 channels do not split into 3 heads
  auto unet = UNet::Create(c, *w);
  ASSERT_FALSE(unet.ok());
  EXPECT_EQ(unet.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(unet.status().message().find("heads"), std::string::npos);
  c = TinySd1();
  c.down_block_types = {"CrossAttnDownBlock2D", "SimpleDownBlock2D"};
  unet = UNet::Create(c, *w);
  ASSERT_FALSE(unet.ok());
  EXPECT_NE(unet.status().message().find("SimpleDownBlock2D"), std::string::npos);
  c = TinySd1();
  c.block_out_channels = {32, 128};  // shapes no longer match the weights
  unet = UNet::Create(c, std::move(*w));
  ASSERT_FALSE(unet.ok());
  EXPECT_EQ(unet.status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace basalt::image
