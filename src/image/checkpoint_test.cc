#include "image/checkpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "image/sd_layout.h"

namespace basalt::image {
namespace {

namespace fs = std::filesystem;

std::string CkTempDir() {
  static int n = 0;
  fs::path dir = fs::path(testing::TempDir()) /
                 ("ck_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
  fs::create_directories(dir);
  return dir.string();
}

std::string ToolPath() {
  const char* tool = std::getenv("BASALT_IMAGE_TOOL");
  return tool ? tool : "";
}

// Runs basalt-image-tool make-random; returns the path it wrote.
std::string MakeRandom(const std::string& dir, const std::string& variant,
                       const std::string& layout, const std::string& dtype = "f32", int seed = 5) {
  const std::string out =
      dir + "/" + variant + "_" + layout + (layout == "single" ? "/model.safetensors" : "");
  const std::string cmd = ToolPath() + " make-random --variant " + variant +
                          " --shape tiny --layout " + layout + " --dtype " + dtype + " --seed " +
                          std::to_string(seed) + " --out " + out;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return out;
}

ImageModelConfig ModelAt(const std::string& path, const std::string& variant = "auto") {
  ImageModelConfig c;
  c.name = "m";
  c.path = path;
  c.variant = variant;
  return c;
}

// Known facts about the real networks: diffusers' SD 1.5 UNet state_dict has 686 tensors (as
// does SD 2.1's, whose projections are linear), AutoencoderKL 248, CLIP ViT-L's text model 196.
TEST(SdLayoutTest, RealTensorCounts) {
  UNetShape sd15;
  EXPECT_EQ(UNetTensorSpecs(sd15).size(), 686u);
  UNetShape sd21 = sd15;
  sd21.cross_attention_dim = 1024;
  sd21.use_linear_projection = true;
  const auto specs = UNetTensorSpecs(sd21);
  EXPECT_EQ(specs.size(), 686u);
  int64_t params = 0;
  for (const auto& s : UNetTensorSpecs(sd15)) {
    int64_t n = 1;
    for (int64_t d : s.shape) n *= d;
    params += n;
  }
  EXPECT_EQ(params, 859520964);  // SD 1.5's UNet: 859.52 M parameters
  EXPECT_EQ(VaeTensorSpecs(VaeShape{}).size(), 248u);
  EXPECT_EQ(ClipTensorSpecs(ClipShape{}).size(), 196u);
  // Original keys of a few well-known tensors.
  EXPECT_EQ(UNetOriginalKey("down_blocks.1.attentions.0.proj_in.weight", sd15).name,
            "model.diffusion_model.input_blocks.4.1.proj_in.weight");
  EXPECT_EQ(UNetOriginalKey("down_blocks.2.downsamplers.0.conv.weight", sd15).name,
            "model.diffusion_model.input_blocks.9.0.op.weight");
  EXPECT_EQ(UNetOriginalKey("up_blocks.0.upsamplers.0.conv.bias", sd15).name,
            "model.diffusion_model.output_blocks.2.1.conv.bias");
  EXPECT_EQ(UNetOriginalKey("up_blocks.1.upsamplers.0.conv.bias", sd15).name,
            "model.diffusion_model.output_blocks.5.2.conv.bias");
  EXPECT_EQ(UNetOriginalKey("up_blocks.3.resnets.2.conv_shortcut.weight", sd15).name,
            "model.diffusion_model.output_blocks.11.0.skip_connection.weight");
  EXPECT_EQ(UNetOriginalKey("mid_block.resnets.1.time_emb_proj.weight", sd15).name,
            "model.diffusion_model.middle_block.2.emb_layers.1.weight");
  EXPECT_EQ(VaeOriginalKey("decoder.up_blocks.0.resnets.2.conv1.weight", VaeShape{}).name,
            "first_stage_model.decoder.up.3.block.2.conv1.weight");
  OriginalKey q = VaeOriginalKey("decoder.mid_block.attentions.0.to_out.0.weight", VaeShape{});
  EXPECT_EQ(q.name, "first_stage_model.decoder.mid.attn_1.proj_out.weight");
  EXPECT_TRUE(q.conv1x1);
  OriginalKey k = ClipOriginalKey("text_model.encoder.layers.3.self_attn.k_proj.bias", true);
  EXPECT_EQ(k.name, "cond_stage_model.model.transformer.resblocks.3.attn.in_proj_bias");
  EXPECT_EQ(k.slice, 1);
}

class CheckpointToolTest : public testing::Test {
 protected:
  void SetUp() override {
    if (ToolPath().empty()) GTEST_SKIP() << "BASALT_IMAGE_TOOL not set";
  }
};

void ExpectSameTensors(const WeightMap& a, const WeightMap& b, const std::string& what) {
  ASSERT_EQ(a.Names(), b.Names()) << what;
  for (const std::string& n : a.Names()) {
    at::Tensor x = *a.Get(n), y = *b.Get(n);
    ASSERT_EQ(x.sizes(), y.sizes()) << what << " " << n;
    EXPECT_TRUE(at::equal(x, y)) << what << " " << n;
  }
}

TEST_F(CheckpointToolTest, BothLayoutsLoadTheSameTensors) {
  const std::string dir = CkTempDir();
  for (const std::string variant : {"sd1", "sd2", "sd-turbo"}) {
    const std::string folder = MakeRandom(dir, variant, "diffusers");
    const std::string single = MakeRandom(dir, variant, "single");
    auto info = ReadCheckpointInfo(ModelAt(folder));
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->variant, variant);
    EXPECT_EQ(info->clip_skip, variant == "sd1" ? 0 : 1);
    EXPECT_EQ(info->scheduler.timestep_spacing, variant == "sd-turbo" ? "trailing" : "leading");
    EXPECT_EQ(info->unet.block_out_channels, (std::vector<int>{32, 64}));
    EXPECT_EQ(info->vae.block_out_channels, (std::vector<int>{8, 16, 16, 16}));
    EXPECT_EQ(info->clip.hidden_act, variant == "sd1" ? "quick_gelu" : "gelu");
    auto ck = LoadCheckpoint(ModelAt(folder), at::kFloat);
    ASSERT_TRUE(ck.ok()) << ck.status().ToString();
    EXPECT_EQ(ck->unet.size(), UNetTensorSpecs([&] {
                                 UNetShape s;
                                 s.block_out_channels = {32, 64};
                                 s.cross_attention = {true, false};
                                 s.layers_per_block = 1;
                                 s.cross_attention_dim = 32;
                                 s.use_linear_projection = variant != "sd1";
                                 return s;
                               }())
                                   .size());
    EXPECT_TRUE(ck->text_encoder.Has("text_model.embeddings.token_embedding.weight"));
    EXPECT_TRUE(ck->vae.Has("decoder.conv_in.weight"));
    EXPECT_TRUE(ck->vae.Has("post_quant_conv.weight"));
    EXPECT_EQ(ck->tokenizer.pad_id(), variant == "sd1" ? ck->tokenizer.eos_id() : 0);

    // The single file of the same seed maps to exactly the same diffusers-named tensors.
    auto sinfo = ReadCheckpointInfo(ModelAt(single, variant == "sd-turbo" ? "sd-turbo" : "auto"));
    ASSERT_TRUE(sinfo.ok()) << sinfo.status().ToString();
    EXPECT_EQ(sinfo->variant, variant);
    EXPECT_EQ(sinfo->clip_skip, info->clip_skip);
    EXPECT_EQ(sinfo->unet.attention_head_dim, info->unet.attention_head_dim) << variant;
    EXPECT_EQ(sinfo->unet.norm_num_groups, info->unet.norm_num_groups);
    EXPECT_EQ(sinfo->unet.use_linear_projection, info->unet.use_linear_projection);
    EXPECT_EQ(sinfo->vae.norm_num_groups, info->vae.norm_num_groups);
    EXPECT_EQ(sinfo->clip.num_attention_heads, info->clip.num_attention_heads);
    EXPECT_EQ(sinfo->clip.num_hidden_layers, info->clip.num_hidden_layers);
    auto sck =
        LoadCheckpoint(ModelAt(single, variant == "sd-turbo" ? "sd-turbo" : "auto"), at::kFloat);
    ASSERT_TRUE(sck.ok()) << sck.status().ToString();
    ExpectSameTensors(ck->unet, sck->unet, variant + " unet");
    ExpectSameTensors(ck->vae, sck->vae, variant + " vae");
    ExpectSameTensors(ck->text_encoder, sck->text_encoder, variant + " text encoder");
    EXPECT_EQ(sck->tokenizer.Encode("a photo of a cat"), ck->tokenizer.Encode("a photo of a cat"));
  }
}

// Early SD 1.x single files name the text encoder cond_stage_model.transformer.embeddings.*
// (no text_model. level): the same tensors load.
TEST_F(CheckpointToolTest, SingleFileWithoutTextModelLevel) {
  const std::string dir = CkTempDir();
  const std::string single = MakeRandom(dir, "sd1", "single");
  auto src = SafetensorsFile::Open(single);
  ASSERT_TRUE(src.ok());
  std::vector<TensorToWrite> renamed;
  const std::string from = "cond_stage_model.transformer.text_model.";
  for (const TensorView& t : (*src)->tensors()) {
    std::string name = t.name;
    if (name.compare(0, from.size(), from) == 0) {
      name = "cond_stage_model.transformer." + name.substr(from.size());
    }
    renamed.push_back(
        {name, t.dtype, t.shape, std::string(reinterpret_cast<const char*>(t.data), t.size_bytes)});
  }
  fs::create_directories(dir + "/old");
  ASSERT_TRUE(WriteSafetensors(dir + "/old/model.safetensors", renamed).ok());
  fs::copy(dir + "/sd1_single/tokenizer", dir + "/old/tokenizer");
  auto a = LoadCheckpoint(ModelAt(single), at::kFloat);
  auto b = LoadCheckpoint(ModelAt(dir + "/old/model.safetensors"), at::kFloat);
  ASSERT_TRUE(a.ok() && b.ok()) << b.status().ToString();
  ExpectSameTensors(a->text_encoder, b->text_encoder, "legacy text encoder");
}

TEST_F(CheckpointToolTest, HalfPrecisionFilesConvert) {
  const std::string dir = CkTempDir();
  const std::string f32 = MakeRandom(dir + "/a", "sd1", "diffusers", "f32");
  const std::string f16 = MakeRandom(dir + "/b", "sd1", "diffusers", "f16");
  const std::string bf16 = MakeRandom(dir + "/c", "sd1", "single", "bf16");
  auto a = LoadCheckpoint(ModelAt(f32), at::kFloat);
  auto b = LoadCheckpoint(ModelAt(f16), at::kFloat);
  auto c = LoadCheckpoint(ModelAt(bf16), at::kBFloat16);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << b.status().ToString() << c.status().ToString();
  at::Tensor x = *a->unet.Get("conv_in.weight"), y = *b->unet.Get("conv_in.weight");
  EXPECT_EQ(y.scalar_type(), at::kFloat);
  EXPECT_LT((x - y).abs().max().item<float>(), 1e-3f);
  EXPECT_EQ((*c->unet.Get("conv_in.weight")).scalar_type(), at::kBFloat16);
  EXPECT_LT((x - (*c->unet.Get("conv_in.weight")).to(at::kFloat)).abs().max().item<float>(), 2e-2f);
}

TEST_F(CheckpointToolTest, ErrorsNameWhatIsWrong) {
  const std::string dir = CkTempDir();
  const std::string folder = MakeRandom(dir, "sd1", "diffusers");
  const std::string single = MakeRandom(dir, "sd2", "single");
  auto expect = [](const StatusOr<Checkpoint>& r, StatusCode code, const std::string& fragment) {
    ASSERT_FALSE(r.ok()) << fragment;
    EXPECT_EQ(r.status().code(), code) << r.status().ToString();
    EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().message();
  };
  expect(LoadCheckpoint(ModelAt(dir + "/nope"), at::kFloat), StatusCode::kNotFound, "nope");
  // A truncated weight file.
  const std::string unet_file = folder + "/unet/diffusion_pytorch_model.safetensors";
  fs::copy_file(unet_file, dir + "/unet.bak");
  fs::resize_file(unet_file, fs::file_size(unet_file) - 100);
  expect(LoadCheckpoint(ModelAt(folder), at::kFloat), StatusCode::kFailedPrecondition, unet_file);
  // A pickle in place of the safetensors file.
  fs::rename(unet_file, folder + "/unet/diffusion_pytorch_model.bin");
  expect(LoadCheckpoint(ModelAt(folder), at::kFloat), StatusCode::kFailedPrecondition,
         "convert it to .safetensors");
  fs::remove(folder + "/unet/diffusion_pytorch_model.bin");
  expect(LoadCheckpoint(ModelAt(folder), at::kFloat), StatusCode::kFailedPrecondition,
         "has no diffusion_pytorch_model.safetensors");
  // The fp16 variant name is found.
  fs::copy_file(dir + "/unet.bak", folder + "/unet/diffusion_pytorch_model.fp16.safetensors");
  EXPECT_TRUE(LoadCheckpoint(ModelAt(folder), at::kFloat).ok());
  // Missing folder parts and broken configs.
  fs::rename(folder + "/vae", folder + "/vae.off");
  expect(LoadCheckpoint(ModelAt(folder), at::kFloat), StatusCode::kFailedPrecondition,
         "has no vae/ folder");
  fs::rename(folder + "/vae.off", folder + "/vae");
  std::ofstream(folder + "/unet/config.json") << "{\"block_out_channels\": \"wide\"}";
  expect(LoadCheckpoint(ModelAt(folder), at::kFloat), StatusCode::kFailedPrecondition,
         "'block_out_channels' has the wrong type");
  std::ofstream(folder + "/unet/config.json") << "not json";
  expect(LoadCheckpoint(ModelAt(folder), at::kFloat), StatusCode::kFailedPrecondition,
         folder + "/unet/config.json");
  fs::remove(folder + "/model_index.json");
  expect(LoadCheckpoint(ModelAt(folder), at::kFloat), StatusCode::kFailedPrecondition,
         "model_index.json");
  // Single files: .ckpt refused, tokenizer required, unknown layouts named.
  std::ofstream(dir + "/old.ckpt") << "PK";
  expect(LoadCheckpoint(ModelAt(dir + "/old.ckpt"), at::kFloat), StatusCode::kFailedPrecondition,
         "convert it to .safetensors");
  fs::rename(dir + "/sd2_single/tokenizer", dir + "/tok");
  expect(LoadCheckpoint(ModelAt(single), at::kFloat), StatusCode::kFailedPrecondition,
         "needs CLIP's tokenizer");
  ImageModelConfig with_tok = ModelAt(single);
  with_tok.tokenizer_dir = dir + "/tok";
  EXPECT_TRUE(LoadCheckpoint(with_tok, at::kFloat).ok());
  ASSERT_TRUE(WriteSafetensors(dir + "/other.safetensors",
                               {{"some.weight", DType::kF32, {1}, std::string(4, '\0')}})
                  .ok());
  expect(LoadCheckpoint(ModelAt(dir + "/other.safetensors"), at::kFloat),
         StatusCode::kFailedPrecondition, "unknown layout");
  fs::resize_file(single, fs::file_size(single) / 2);
  expect(LoadCheckpoint(with_tok, at::kFloat), StatusCode::kFailedPrecondition, single);
  EXPECT_EQ(ReadCheckpointInfo(ModelAt(folder, "sd3")).status().code(),
            StatusCode::kFailedPrecondition);  // model_index.json is gone first
}

// Independent check: the reference modules (transformers' CLIPTextModel, tests/image/ref's
// UNet2DConditionModel and AutoencoderKL) load the tool's diffusers weights strictly.
TEST_F(CheckpointToolTest, PythonReferenceModulesLoadTheWeights) {
  if (std::system("python3 -c 'import torch, transformers, safetensors' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 cannot import torch";
  }
  const char* root = std::getenv("BASALT_SOURCE_DIR");
  const std::string src = root ? root : ".";
  const std::string dir = CkTempDir();
  // One Python run for both variants (the imports take most of the time).
  const std::string sd1 = MakeRandom(dir, "sd1", "diffusers", "f16");
  const std::string sd2 = MakeRandom(dir, "sd2", "diffusers", "bf16");
  std::ofstream(dir + "/check.py") << R"PY(
import json, os, sys
sys.path.insert(0, sys.argv[1])
from safetensors.torch import load_file
from transformers import CLIPTextConfig, CLIPTextModel
for d in sys.argv[2:]:
  cfg = json.load(open(d + '/text_encoder/config.json'))
  m = CLIPTextModel(CLIPTextConfig(**cfg))
  sd = load_file(d + '/text_encoder/model.safetensors')
  # transformers 5's CLIPTextModel holds the text model's modules at its root; files keep the
  # text_model. prefix (from_pretrained strips it).
  m.load_state_dict({k.removeprefix('text_model.'): v for k, v in sd.items()}, strict=True)
  if os.path.exists(os.path.join(sys.argv[1], 'tests/image/ref/unet.py')):
      from tests.image.ref import unet, vae
      unet.load(d)  # strict
      v = vae.AutoencoderKL(json.load(open(d + '/vae/config.json')))
      v.load_state_dict({k: t.float() for k, t in
                         load_file(d + '/vae/diffusion_pytorch_model.safetensors').items()},
                        strict=True)
      print('reference unet and vae loaded')
)PY";
  const std::string cmd = "python3 " + dir + "/check.py " + src + " " + sd1 + " " + sd2;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

}  // namespace
}  // namespace basalt::image
