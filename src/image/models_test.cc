// Numerics of the CLIP text encoder, the VAE and the tiny autoencoders against the independent
// Python references in tests/image/ref (transformers' CLIPTextModel; PyTorch modules with
// diffusers' / taesd's names), on the same weights, in f32. Tolerances: CLIP max |diff| < 1e-4,
// VAE and TAE relative L2 (|a - b| / |b|) < 1e-4. Plus the real-weights round trip (TAEF2
// encodes and decodes a photo from a Debian package at >= 25 dB PSNR) and bad checkpoints.
#include "image/models.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <string>

#include "image/checkpoint.h"
#include "image/safetensors.h"
#include "image/weights.h"

namespace basalt::image {
namespace {

namespace fs = std::filesystem;

const char kTaef2Encoder[] = "/work/shared/models/taef2_encoder.safetensors";
const char kTaef2Decoder[] = "/work/shared/models/taef2_decoder.safetensors";
// From Debian's python-matplotlib-data (scripts/forky-packages.txt).
const char kPhoto[] = "/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg";

std::string SourceDir() {
  const char* dir = getenv("BASALT_SOURCE_DIR");
  return dir ? dir : ".";
}

std::string SharedModel(const char* path) {
  // ../shared/models beside the checkout, else the absolute path of this workplace.
  fs::path rel = fs::path(SourceDir()) / ".." / "shared" / "models" / fs::path(path).filename();
  return fs::exists(rel) ? rel.string() : std::string(path);
}

bool HaveTorch() {
  static const bool ok =
      system("python3 -c 'import torch, safetensors, transformers' >/dev/null 2>&1") == 0;
  return ok;
}

#define SKIP_WITHOUT_TORCH() \
  if (!HaveTorch()) GTEST_SKIP() << "python3 cannot import torch, safetensors and transformers"

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "basalt-models-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteTensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors) {
  std::vector<TensorToWrite> out;
  for (const auto& [name, t] : tensors) {
    TensorToWrite w;
    w.name = name;
    at::Tensor c = t.contiguous();
    if (c.scalar_type() == at::kLong) {
      w.dtype = DType::kI64;
    } else {
      c = c.to(at::kFloat).contiguous();
      w.dtype = DType::kF32;
    }
    w.shape = c.sizes().vec();
    w.data.assign(static_cast<const char*>(c.data_ptr()), c.nbytes());
    out.push_back(std::move(w));
  }
  Status st = WriteSafetensors(path, out);
  ASSERT_TRUE(st.ok()) << st.ToString();
}

std::map<std::string, at::Tensor> ReadTensors(const std::string& path) {
  auto file = SafetensorsFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  std::map<std::string, at::Tensor> out;
  if (!file.ok()) return out;
  for (const TensorView& t : (*file)->tensors()) {
    EXPECT_EQ(t.dtype, DType::kF32) << t.name;
    out[t.name] = at::from_blob(const_cast<uint8_t*>(t.data), t.shape, at::kFloat).clone();
  }
  return out;
}

WeightMap Load(const std::string& path, at::ScalarType dtype = at::kFloat) {
  WeightMap w;
  w.set_description(path);
  auto file = SafetensorsFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  if (!file.ok()) return w;
  Status st = w.Add(std::shared_ptr<SafetensorsFile>(std::move(*file)), dtype);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return w;
}

// python3 tests/image/ref/run.py WHAT ARGS; fails the test with the script's stderr.
bool RunRef(const std::string& args, const TempDir& dir) {
  const std::string log = dir / "ref.log";
  const std::string cmd = "python3 '" + SourceDir() + "/tests/image/ref/run.py' " + args + " 2>'" +
                          log + "' >/dev/null";
  if (system(cmd.c_str()) == 0) return true;
  std::string text;
  if (FILE* f = fopen(log.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    fclose(f);
  }
  ADD_FAILURE() << cmd << "\n" << text;
  return false;
}

std::map<std::string, at::Tensor> Ref(const std::string& what, const std::string& model,
                                      const std::map<std::string, at::Tensor>& inputs,
                                      const TempDir& dir, const std::string& extra = "") {
  WriteTensors(dir / "in.safetensors", inputs);
  if (!RunRef(what + " --model '" + model + "' --inputs '" + (dir / "in.safetensors") +
                  "' --out '" + (dir / "out.safetensors") + "' " + extra,
              dir)) {
    return {};
  }
  return ReadTensors(dir / "out.safetensors");
}

double RelL2(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).norm().item<double>() /
         b.to(at::kDouble).norm().item<double>();
}

double MaxAbs(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// A copy of `w` without `drop` and with `replace` put in.
WeightMap Edited(const WeightMap& w, const std::string& drop,
                 const std::map<std::string, at::Tensor>& replace = {}) {
  WeightMap out;
  out.set_description("edited");
  for (const std::string& name : w.Names()) {
    if (name != drop) out.Put(name, *w.Get(name));
  }
  for (const auto& [name, t] : replace) out.Put(name, t);
  return out;
}

at::Generator Gen(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

// ---- CLIP ----------------------------------------------------------------------------------

ClipConfig TinyClip(const std::string& act) {
  ClipConfig c;  // tests/image/ref/clip.py's TINY
  c.vocab_size = 1000;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.hidden_act = act;
  c.eos_token_id = 999;
  return c;
}

// Python-made weights (gelu; quick_gelu is the tool's sd1 below): every skip, one run.
TEST(ClipTextModelTest, MatchesTransformersAtEverySkip) {
  SKIP_WITHOUT_TORCH();
  TempDir dir;
  ASSERT_TRUE(RunRef("make-clip --model '" + (dir / "clip") + "' --variant sd2 --seed 3 --out '" +
                         (dir / "clip/model.safetensors") + "'",
                     dir));
  auto model = ClipTextModel::Create(TinyClip("gelu"), Load(dir / "clip/model.safetensors"));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  at::Tensor ids = at::randint(0, 1000, {2, 77}, Gen(7), at::kLong);
  ids.index_put_({0, at::indexing::Slice(10, at::indexing::None)}, 999);  // eos padding
  auto ref = Ref("clip", dir / "clip", {{"ids", ids}}, dir);
  for (int skip = 0; skip < 3; ++skip) {
    const at::Tensor& want = ref["hidden_skip" + std::to_string(skip)];
    ASSERT_TRUE(want.defined()) << skip;
    at::Tensor got = (*model)->Encode(ids, skip);
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_LT(MaxAbs(got, want), 1e-4) << "skip " << skip;
    EXPECT_GT(want.abs().mean().item<double>(), 0.1);  // not a trivial output
    // A shorter sequence gives the same prefix (causal attention).
    at::Tensor short_ids = ids.narrow(1, 0, 20).contiguous();
    EXPECT_LT(MaxAbs((*model)->Encode(short_ids, skip), got.narrow(1, 0, 20)), 1e-4);
  }
  EXPECT_GT(MaxAbs(ref["hidden_skip0"], ref["hidden_skip1"]), 0.1);
}

std::string MakeToolModel(const std::string& variant, const TempDir& dir) {
  const char* tool = getenv("BASALT_IMAGE_TOOL");
  if (tool == nullptr || !fs::exists(tool)) return "";
  const std::string model = dir / ("model-" + variant);
  const std::string cmd = std::string(tool) + " make-random --variant " + variant +
                          " --shape tiny --layout diffusers --dtype f32 --seed 4 --out '" + model +
                          "' >/dev/null";
  EXPECT_EQ(system(cmd.c_str()), 0) << cmd;
  return model;
}

TEST(ClipTextModelTest, BadWeightsAndConfigAreFailedPrecondition) {
  TempDir dir;
  const std::string model = MakeToolModel("sd1", dir);
  if (model.empty()) GTEST_SKIP() << "BASALT_IMAGE_TOOL not set";
  const WeightMap w = Load(model + "/text_encoder/model.safetensors");
  ClipConfig config = TinyClip("quick_gelu");
  config.vocab_size = w.Get("text_model.embeddings.token_embedding.weight")->size(0);
  const std::string fc1 = "text_model.encoder.layers.2.mlp.fc1.weight";
  auto missing = ClipTextModel::Create(config, Edited(w, fc1));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("encoder.layers.2.mlp.fc1.weight"), std::string::npos)
      << missing.status().message();
  auto shape = ClipTextModel::Create(config, Edited(w, fc1, {{fc1, at::zeros({64, 16})}}));
  ASSERT_FALSE(shape.ok());
  EXPECT_EQ(shape.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(shape.status().message().find("[64, 32]"), std::string::npos)
      << shape.status().message();
  ClipConfig bad = config;
  bad.hidden_act = "relu6";
  EXPECT_EQ(ClipTextModel::Create(bad, w).status().code(), StatusCode::kFailedPrecondition);
  ClipConfig wide = config;
  wide.vocab_size += 1;  // the config disagrees with the embedding
  EXPECT_EQ(ClipTextModel::Create(wide, w).status().code(), StatusCode::kFailedPrecondition);
  // Bare names (without "text_model.") load too; bad ids are a c10::Error, not a crash.
  WeightMap bare = w.Sub("text_model");
  auto clip = ClipTextModel::Create(config, bare);
  ASSERT_TRUE(clip.ok()) << clip.status().ToString();
  EXPECT_THROW((*clip)->Encode(at::full({1, 77}, config.vocab_size, at::kLong)), c10::Error);
  EXPECT_THROW((*clip)->Encode(at::zeros({1, 78}, at::kLong)), c10::Error);
  EXPECT_THROW((*clip)->Encode(at::zeros({1, 77}, at::kLong), 3), c10::Error);
}

// ---- The tool's checkpoints (basalt-image-tool make-random, diffusers layout) ----------------

// The text encoder and VAE of `basalt-image-tool make-random --variant V --shape tiny`, loaded
// by LoadCheckpoint as the pipeline does, against the references reading the same folders.
void CheckToolModel(const std::string& variant) {
  TempDir dir;
  const std::string model = MakeToolModel(variant, dir);
  if (model.empty()) GTEST_SKIP() << "BASALT_IMAGE_TOOL not set";
  ImageModelConfig config;
  config.name = "tiny-" + variant;
  config.path = model;
  auto ckpt = LoadCheckpoint(config, at::kFloat);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  const CheckpointInfo& info = ckpt->info;
  EXPECT_EQ(info.clip_skip, variant == "sd1" ? 0 : 1);
  EXPECT_EQ(info.clip.hidden_act, variant == "sd1" ? "quick_gelu" : "gelu");

  auto clip = ClipTextModel::Create(info.clip, ckpt->text_encoder);
  ASSERT_TRUE(clip.ok()) << clip.status().ToString();
  at::Tensor ids = at::randint(0, info.clip.vocab_size, {2, 77}, Gen(9), at::kLong);
  auto ref = Ref("clip", model + "/text_encoder", {{"ids", ids}}, dir,
                 "--skip " + std::to_string(info.clip_skip));
  ASSERT_EQ(ref.count("hidden"), 1u);
  EXPECT_LT(MaxAbs((*clip)->Encode(ids, info.clip_skip), ref["hidden"]), 1e-4);

  auto vae = VaeDecoder::Create(info.vae, ckpt->vae);
  ASSERT_TRUE(vae.ok()) << vae.status().ToString();
  at::Tensor z = at::randn({1, info.vae.latent_channels, 8, 8}, Gen(10));
  at::Tensor x = at::rand({1, 3, 64, 64}, Gen(11)) * 2 - 1;
  auto ref_vae = Ref("vae-encode", model + "/vae", {{"z", z}, {"image", x}}, dir);
  ASSERT_EQ(ref_vae.count("image"), 1u);
  EXPECT_LT(RelL2((*vae)->Decode(z), ref_vae["image"]), 1e-4);
  auto encoder = VaeEncoder::Create(info.vae, ckpt->vae);
  ASSERT_TRUE(encoder.ok()) << encoder.status().ToString();
  ASSERT_EQ(ref_vae.count("mean"), 1u);
  EXPECT_LT(RelL2((*encoder)->Encode(x), ref_vae["mean"]), 1e-4);
}

TEST(ToolModelTest, Sd1TextEncoderAndVaeMatchReferences) {
  SKIP_WITHOUT_TORCH();
  CheckToolModel("sd1");
}

TEST(ToolModelTest, Sd2TextEncoderAndVaeMatchReferences) {
  SKIP_WITHOUT_TORCH();
  CheckToolModel("sd2");
}

// ---- VAE -----------------------------------------------------------------------------------

VaeConfig TinyVae() {
  VaeConfig c;  // tests/image/ref/vae.py's CONFIGS["tiny"]
  c.block_out_channels = {8, 16, 16, 16};
  c.layers_per_block = 1;
  c.norm_num_groups = 4;
  return c;
}

TEST(VaeTest, DecoderAndEncoderMatchReference) {
  SKIP_WITHOUT_TORCH();
  TempDir dir;
  ASSERT_TRUE(RunRef("make-vae --model '" + (dir / "vae") + "' --seed 5 --out /dev/null", dir));
  const WeightMap w = Load(dir / "vae/diffusion_pytorch_model.safetensors");
  auto decoder = VaeDecoder::Create(TinyVae(), w);
  ASSERT_TRUE(decoder.ok()) << decoder.status().ToString();
  auto gen = Gen(11);
  at::Tensor z = at::randn({2, 4, 8, 6}, gen);
  at::Tensor x = at::rand({1, 3, 64, 40}, gen) * 2 - 1;
  auto ref = Ref("vae-encode", dir / "vae", {{"z", z}, {"image", x}}, dir);
  ASSERT_EQ(ref.count("image"), 1u);
  at::Tensor image = (*decoder)->Decode(z);
  ASSERT_EQ(image.sizes(), at::IntArrayRef({2, 3, 64, 48}));
  EXPECT_LT(RelL2(image, ref["image"]), 1e-4);

  auto encoder = VaeEncoder::Create(TinyVae(), w);
  ASSERT_TRUE(encoder.ok()) << encoder.status().ToString();
  ASSERT_EQ(ref.count("mean"), 1u);
  at::Tensor mean = (*encoder)->Encode(x);
  ASSERT_EQ(mean.sizes(), at::IntArrayRef({1, 4, 8, 5}));
  EXPECT_LT(RelL2(mean, ref["mean"]), 1e-4);

  // The older attention names, as 1x1 convolutions, decode the same.
  WeightMap legacy;
  const std::string a = "decoder.mid_block.attentions.0.";
  const std::map<std::string, std::string> renames = {
      {"to_q", "query"}, {"to_k", "key"}, {"to_v", "value"}, {"to_out.0", "proj_attn"}};
  for (const std::string& name : w.Names()) {
    std::string out = name;
    at::Tensor t = *w.Get(name);
    for (const auto& [from, to] : renames) {
      if (name.rfind(a + from + ".", 0) == 0) {
        out = a + to + name.substr(a.size() + from.size());
        if (t.dim() == 2) t = t.view({t.size(0), t.size(1), 1, 1});
      }
    }
    legacy.Put(out, t);
  }
  auto old = VaeDecoder::Create(TinyVae(), legacy);
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_LT(MaxAbs((*old)->Decode(z), image), 1e-5);

  // bf16 stays close to f32 (the production dtype on AMX/AVX512-BF16 machines).
  auto bf16 = VaeDecoder::Create(
      TinyVae(), Load(dir / "vae/diffusion_pytorch_model.safetensors", at::kBFloat16));
  ASSERT_TRUE(bf16.ok()) << bf16.status().ToString();
  at::Tensor image16 = (*bf16)->Decode(z);
  EXPECT_EQ(image16.scalar_type(), at::kFloat);
  EXPECT_LT(RelL2(image16, ref["image"]), 5e-2);
}

TEST(VaeTest, BadWeightsAreFailedPrecondition) {
  SKIP_WITHOUT_TORCH();
  TempDir dir;
  ASSERT_TRUE(RunRef("make-vae --model '" + (dir / "vae") + "' --out /dev/null", dir));
  const WeightMap w = Load(dir / "vae/diffusion_pytorch_model.safetensors");
  const std::string conv1 = "decoder.up_blocks.1.resnets.0.conv1.weight";
  auto missing = VaeDecoder::Create(TinyVae(), Edited(w, conv1));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find(conv1), std::string::npos)
      << missing.status().message();
  auto shape = VaeDecoder::Create(
      TinyVae(), Edited(w, "post_quant_conv.weight", {{"post_quant_conv.weight", at::zeros({4})}}));
  ASSERT_FALSE(shape.ok());
  EXPECT_EQ(shape.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(shape.status().message().find("post_quant_conv.weight"), std::string::npos);
  // A config that disagrees with the weights (SD's real channels on tiny weights).
  EXPECT_EQ(VaeDecoder::Create(VaeConfig(), w).status().code(), StatusCode::kFailedPrecondition);
  VaeConfig groups = TinyVae();
  groups.norm_num_groups = 3;
  EXPECT_EQ(VaeDecoder::Create(groups, w).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(VaeEncoder::Create(TinyVae(), Edited(w, "quant_conv.bias")).status().code(),
            StatusCode::kFailedPrecondition);
}

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double WallSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Figures, not a check (no timing asserts in tests): a real-shaped SD VAE (random weights)
// decodes a 64x64 latent to 512x512 in f32 and bf16, ours and torch's, on the same threads.
// Run: image_models_test --gtest_also_run_disabled_tests --gtest_filter='*Vae512*'
TEST(VaeTest, DISABLED_Vae512Figures) {
  SKIP_WITHOUT_TORCH();
  TempDir dir;
  ASSERT_TRUE(RunRef("make-vae --shape real --model '" + (dir / "vae") + "' --out /dev/null", dir));
  VaeConfig config;  // SD's: [128, 256, 512, 512], 2 layers, 32 groups
  const std::string weights = dir / "vae/diffusion_pytorch_model.safetensors";
  at::Tensor z = at::randn({1, 4, 64, 64}, Gen(1));
  std::map<std::string, at::Tensor> ours;
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    auto vae = VaeDecoder::Create(config, Load(weights, dtype));
    ASSERT_TRUE(vae.ok()) << vae.status().ToString();
    (*vae)->Decode(z.narrow(2, 0, 8).narrow(3, 0, 8));  // warm up
    double best_wall = 1e9, best_cpu = 0;
    at::Tensor image;
    for (int i = 0; i < 2; ++i) {
      const double w0 = WallSeconds(), c0 = CpuSeconds();
      image = (*vae)->Decode(z);
      const double wall = WallSeconds() - w0;
      if (wall < best_wall) best_wall = wall, best_cpu = CpuSeconds() - c0;
    }
    const std::string name = dtype == at::kFloat ? "f32" : "bf16";
    ours[name] = image;
    std::printf("basalt VaeDecoder 512x512 %s (%d threads): %.2f s wall, %.2f s CPU\n",
                name.c_str(), at::get_num_threads(), best_wall, best_cpu);
  }
  for (const std::string dtype : {"f32", "bf16"}) {
    auto ref = Ref("vae-decode", dir / "vae", {{"z", z}}, dir, "--repeat 2 --dtype " + dtype);
    ASSERT_EQ(ref.count("seconds"), 1u);
    std::printf("torch AutoencoderKL decode 512x512 %s: %.2f s wall, %.2f s CPU\n", dtype.c_str(),
                ref["seconds"][0].item<double>(), ref["seconds"][1].item<double>());
    if (dtype == "f32") {
      const at::Tensor& r = ref["image"];
      std::printf(
          "vs torch f32: ours f32 rel L2 %.2e, max |diff| %.2e; ours bf16 rel L2 %.2e, "
          "max |diff| %.2e (output range %.2f..%.2f)\n",
          RelL2(ours["f32"], r), MaxAbs(ours["f32"], r), RelL2(ours["bf16"], r),
          MaxAbs(ours["bf16"], r), r.min().item<double>(), r.max().item<double>());
      // 8-bit pixels: the share of pixels whose 0..255 value differs, f32 vs bf16.
      auto px = [](const at::Tensor& x) { return ((x.clamp(-1, 1) + 1) * 127.5).round(); };
      at::Tensor diff = (px(ours["bf16"]) - px(r)).abs();
      std::printf("bf16 vs f32 in 8-bit pixels: max %.0f, mean %.3f, %.1f%% differ\n",
                  diff.max().item<double>(), diff.mean().item<double>(),
                  100.0 * (diff > 0).to(at::kFloat).mean().item<double>());
    }
  }
}

// ---- TAE -----------------------------------------------------------------------------------

void CheckTae(const std::string& encoder_path, const std::string& decoder_path, int latent,
              int64_t size, double tolerance) {
  TempDir dir;
  auto decoder = TaeDecoder::Create(Load(decoder_path));
  ASSERT_TRUE(decoder.ok()) << decoder.status().ToString();
  auto encoder = TaeEncoder::Create(Load(encoder_path));
  ASSERT_TRUE(encoder.ok()) << encoder.status().ToString();
  EXPECT_EQ((*decoder)->config().latent_channels, latent);
  EXPECT_EQ((*encoder)->config().latent_channels, latent);
  auto gen = Gen(5);
  at::Tensor z = at::randn({2, latent, size / 8, size / 8}, gen);
  auto ref = Ref("tae-decode", decoder_path, {{"z", z}}, dir);
  ASSERT_EQ(ref.count("image"), 1u);
  at::Tensor image = (*decoder)->Decode(z);
  ASSERT_EQ(image.sizes(), at::IntArrayRef({2, 3, size, size}));
  EXPECT_LT(RelL2(image, ref["image"]), tolerance);
  EXPECT_GE(image.min().item<float>(), 0.0f);
  EXPECT_LE(image.max().item<float>(), 1.0f);

  at::Tensor x = at::rand({1, 3, size, size}, gen);
  auto ref_enc = Ref("tae-encode", encoder_path, {{"image", x}}, dir);
  ASSERT_EQ(ref_enc.count("latent"), 1u);
  at::Tensor lat = (*encoder)->Encode(x);
  ASSERT_EQ(lat.sizes(), at::IntArrayRef({1, latent, size / 8, size / 8}));
  EXPECT_LT(RelL2(lat, ref_enc["latent"]), tolerance);
}

TEST(TaeTest, TinyRandomTaesdMatchesReference) {
  SKIP_WITHOUT_TORCH();
  TempDir dir;
  ASSERT_TRUE(RunRef(
      "make-tae --model '" + (dir / "tae") + "' --latent 4 --channels 16 --seed 2 --out /dev/null",
      dir));
  CheckTae(dir / "tae/tae_encoder.safetensors", dir / "tae/tae_decoder.safetensors", 4, 64, 1e-4);
}

TEST(TaeTest, Taef2MatchesReference) {
  SKIP_WITHOUT_TORCH();
  if (!fs::exists(SharedModel(kTaef2Decoder))) GTEST_SKIP() << "no " << kTaef2Decoder;
  auto decoder = TaeDecoder::Create(Load(SharedModel(kTaef2Decoder)));
  ASSERT_TRUE(decoder.ok()) << decoder.status().ToString();
  EXPECT_EQ((*decoder)->config().channels, 64);
  EXPECT_TRUE((*decoder)->config().midblock_group_norm);
  CheckTae(SharedModel(kTaef2Encoder), SharedModel(kTaef2Decoder), 32, 64, 1e-4);
}

double Psnr(const at::Tensor& a, const at::Tensor& b) {
  const double mse = (a.to(at::kDouble) - b.to(at::kDouble)).pow(2).mean().item<double>();
  return 10.0 * std::log10(1.0 / mse);
}

// The real-weights test: a photo from a Debian package, through our TaeEncoder and
// TaeDecoder with the trained TAEF2 weights, comes back at >= 25 dB.
TEST(TaeTest, Taef2RoundTripOfAPhotoKeeps25dB) {
  SKIP_WITHOUT_TORCH();
  if (!fs::exists(SharedModel(kTaef2Decoder))) GTEST_SKIP() << "no " << kTaef2Decoder;
  ASSERT_TRUE(fs::exists(kPhoto)) << kPhoto << " (Debian's python-matplotlib-data)";
  TempDir dir;
  // JPEG -> centre 512x512 crop -> 256x256 RGB in [0, 1], with python3-pil.
  const std::string script =
      "import sys, torch; from PIL import Image; from safetensors.torch import save_file\n"
      "im = Image.open(sys.argv[1]).convert('RGB'); w, h = im.size; s = min(w, h)\n"
      "im = im.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2))\n"
      "im = im.resize((256, 256), Image.LANCZOS)\n"
      "t = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)\n"
      "t = t.view(256, 256, 3).permute(2, 0, 1).unsqueeze(0).float() / 255\n"
      "save_file({'image': t.contiguous()}, sys.argv[2])\n";
  {
    FILE* f = fopen((dir / "photo.py").c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(script.c_str(), f);
    fclose(f);
  }
  const std::string cmd =
      "python3 '" + (dir / "photo.py") + "' '" + kPhoto + "' '" + (dir / "photo.safetensors") + "'";
  ASSERT_EQ(system(cmd.c_str()), 0) << cmd;
  at::Tensor photo = ReadTensors(dir / "photo.safetensors")["image"];
  ASSERT_EQ(photo.sizes(), at::IntArrayRef({1, 3, 256, 256}));
  EXPECT_GT(photo.std().item<double>(), 0.1);  // a real picture, not a flat one

  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    auto encoder = TaeEncoder::Create(Load(SharedModel(kTaef2Encoder), dtype));
    auto decoder = TaeDecoder::Create(Load(SharedModel(kTaef2Decoder), dtype));
    ASSERT_TRUE(encoder.ok() && decoder.ok());
    at::Tensor latent = (*encoder)->Encode(photo);
    at::Tensor back = (*decoder)->Decode(latent);
    ASSERT_EQ(back.sizes(), photo.sizes());
    const double psnr = Psnr(back, photo);
    std::printf("TAEF2 round trip, 256x256 photo, %s: PSNR %.2f dB\n",
                dtype == at::kFloat ? "f32" : "bf16", psnr);
    EXPECT_GE(psnr, 25.0) << (dtype == at::kFloat ? "f32" : "bf16");
    // A different picture's latent does not decode to this one.
    EXPECT_LT(Psnr((*decoder)->Decode(latent.roll({latent.size(2) / 2}, {2})), photo), 20.0);
  }
}

TEST(TaeTest, BadWeightsAreFailedPrecondition) {
  if (!fs::exists(SharedModel(kTaef2Decoder))) GTEST_SKIP() << "no " << kTaef2Decoder;
  const WeightMap enc = Load(SharedModel(kTaef2Encoder));
  const WeightMap dec = Load(SharedModel(kTaef2Decoder));
  // The encoder file given as the decoder, and the other way round.
  auto swapped = TaeDecoder::Create(enc);
  ASSERT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(swapped.status().message().find("1.weight"), std::string::npos)
      << swapped.status().message();
  EXPECT_EQ(TaeEncoder::Create(dec).status().code(), StatusCode::kFailedPrecondition);
  auto missing = TaeDecoder::Create(Edited(dec, "13.conv.2.weight"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("13.conv.2.weight"), std::string::npos);
  auto shape = TaeDecoder::Create(
      Edited(dec, "3.conv.0.weight", {{"3.conv.0.weight", at::zeros({64, 64})}}));
  ASSERT_FALSE(shape.ok());
  EXPECT_NE(shape.status().message().find("3.conv.0.weight"), std::string::npos);
  auto extra = TaeDecoder::Create(Edited(dec, "", {{"20.weight", at::zeros({3})}}));
  ASSERT_FALSE(extra.ok());
  EXPECT_NE(extra.status().message().find("unexpected tensor '20.weight'"), std::string::npos)
      << extra.status().message();
  EXPECT_EQ(TaeDecoder::Create(WeightMap()).status().code(), StatusCode::kFailedPrecondition);
  // Prefixed names ("decoder.*", as a combined file has them) load.
  WeightMap prefixed;
  for (const std::string& name : dec.Names()) prefixed.Put("decoder." + name, *dec.Get(name));
  for (const std::string& name : enc.Names()) prefixed.Put("encoder." + name, *enc.Get(name));
  EXPECT_TRUE(TaeDecoder::Create(prefixed).ok());
  EXPECT_TRUE(TaeEncoder::Create(prefixed).ok());
}

}  // namespace
}  // namespace basalt::image
