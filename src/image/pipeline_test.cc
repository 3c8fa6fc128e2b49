// The text-to-image pipeline on tiny random models made by basalt-image-tool: numerics against
// tests/image/ref/pipeline.py (the same loop over the reference modules), determinism, seeds,
// layouts, broken checkpoints and bad requests.
#include "image/pipeline.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "image/pipeline_test_util.h"
#include "image/png.h"

namespace basalt::image {
namespace {

namespace fs = std::filesystem;
using testing::ShellQuote;

// One tiny model per variant and layout, made once for the whole test binary.
std::string TinyModel(const std::string& variant, const std::string& layout = "diffusers") {
  static std::map<std::string, std::string> made;
  const std::string key = variant + "/" + layout;
  if (made.count(key)) return made[key];
  const std::string dir = testing::TempDir("models");
  const std::string out =
      dir + "/" + variant + (layout == "single" ? "-single.safetensors" : "-diffusers");
  fs::remove_all(out);
  made[key] = testing::MakeRandomModel(variant, layout, out, 7);
  return made[key];
}

ImageModelConfig ConfigFor(const std::string& path, const std::string& variant = "auto") {
  ImageModelConfig c;
  c.name = "tiny";
  c.path = path;
  c.variant = variant;
  return c;
}

std::unique_ptr<Pipeline> LoadOrDie(const ImageModelConfig& config) {
  auto p = Pipeline::Load(config, at::kFloat);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(*p) : nullptr;
}

ImageRequest Request(int size, int steps, float cfg, Sampler sampler, uint64_t seed,
                     int count = 1) {
  ImageRequest r;
  r.model = "tiny";
  r.prompt = "a photograph of an astronaut riding a horse";
  r.negative_prompt = "blurry, low quality";
  r.width = size;
  r.height = size;
  r.steps = steps;
  r.cfg_scale = cfg;
  r.sampler = sampler;
  r.seed = seed;
  r.count = count;
  return r;
}

at::Tensor PixelsOf(const std::string& png) {
  auto img = DecodePng(png);
  EXPECT_TRUE(img.ok()) << img.status().ToString();
  if (!img.ok()) return {};
  return at::from_blob(img->rgb.data(), {img->height, img->width, 3}, at::kByte).clone();
}

struct RefCase {
  std::string variant;
  int size;
  int steps;
  float cfg;
  Sampler sampler;
  int count;
};

class PipelineRefTest : public ::testing::TestWithParam<RefCase> {};

// Final latents within 1e-4 relative L2 of the reference and pixels within 1 level (rounding
// of values computed in a different order), on f32.
TEST_P(PipelineRefTest, MatchesTheReferencePipeline) {
  if (!testing::PythonHasTorch()) GTEST_SKIP() << "python3 cannot import torch";
  const RefCase c = GetParam();
  const std::string model = TinyModel(c.variant);
  ASSERT_FALSE(model.empty());
  auto pipeline = LoadOrDie(ConfigFor(model));
  ASSERT_TRUE(pipeline);
  EXPECT_EQ(pipeline->info().variant, c.variant);
  const ImageRequest r = Request(c.size, c.steps, c.cfg, c.sampler, 1234, c.count);
  std::vector<at::Tensor> latents;
  auto result = pipeline->Generate(r, &latents);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(latents.size(), static_cast<size_t>(c.count));

  auto tokenizer = ClipTokenizer::LoadDir(model + "/tokenizer");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  auto ids = [&](const std::string& text) {
    std::vector<int> v = tokenizer->Encode(text, 77);
    std::vector<int64_t> w(v.begin(), v.end());
    return at::tensor(w, at::kLong).reshape({1, 77});
  };
  const std::string dir = testing::TempDir("pipeline");
  const std::string in = dir + "/in_" + c.variant + ".safetensors";
  const std::string out = dir + "/out_" + c.variant + ".safetensors";
  testing::WriteTensors(in, {{"ids_cond", ids(r.prompt)}, {"ids_uncond", ids(r.negative_prompt)}});
  const std::string config =
      "{\"variant\":\"" + c.variant + "\",\"sampler\":\"" + SamplerName(c.sampler) +
      "\",\"steps\":" + std::to_string(c.steps) + ",\"cfg\":" + std::to_string(c.cfg) +
      ",\"seed\":1234,\"count\":" + std::to_string(c.count) +
      ",\"width\":" + std::to_string(c.size) + ",\"height\":" + std::to_string(c.size) + "}";
  ASSERT_TRUE(testing::RunRef("pipeline --model " + ShellQuote(model) + " --inputs " +
                              ShellQuote(in) + " --out " + ShellQuote(out) + " --config " +
                              ShellQuote(config)));
  auto ref = testing::ReadTensors(out);
  for (int i = 0; i < c.count; ++i) {
    SCOPED_TRACE("image " + std::to_string(i));
    const at::Tensor want = ref["latents_" + std::to_string(i)];
    ASSERT_TRUE(want.defined());
    EXPECT_LT(testing::RelL2(latents[i], want), 1e-4);
    const at::Tensor px = PixelsOf(result->png[i]).to(at::kInt);
    const at::Tensor want_px = ref["pixels_" + std::to_string(i)].to(at::kInt);
    ASSERT_EQ(px.sizes(), want_px.sizes());
    EXPECT_LE((px - want_px).abs().max().item<int>(), 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Tiny, PipelineRefTest,
                         ::testing::Values(RefCase{"sd1", 64, 4, 7.5f, Sampler::kDpmpp2mKarras, 1},
                                           RefCase{"sd2", 64, 3, 5.0f, Sampler::kEuler, 1},
                                           RefCase{"sd-turbo", 128, 2, 0.0f,
                                                   Sampler::kEulerAncestral, 2}),
                         [](const auto& info) {
                           std::string n = info.param.variant;
                           for (char& ch : n) ch = ch == '-' ? '_' : ch;
                           return n;
                         });

TEST(PipelineTest, SeedsAreDeterministicAndDistinct) {
  const std::string model = TinyModel("sd-turbo");
  ASSERT_FALSE(model.empty());
  auto p = LoadOrDie(ConfigFor(model));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->info().default_steps, 1);
  EXPECT_EQ(p->info().default_sampler, "euler_a");
  auto a = p->Generate(Request(64, 0, -1, Sampler::kDefault, 5));
  auto b = p->Generate(Request(64, 0, -1, Sampler::kDefault, 5));
  auto c = p->Generate(Request(64, 0, -1, Sampler::kDefault, 6));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status().ToString();
  EXPECT_EQ(a->steps, 1);
  EXPECT_EQ(a->sampler, "euler_a");
  EXPECT_EQ(a->cfg_scale, 0);
  EXPECT_EQ(a->png[0], b->png[0]);  // bit for bit
  EXPECT_NE(a->png[0], c->png[0]);
  EXPECT_EQ(a->png[0].substr(1, 3), "PNG");

  auto three = p->Generate(Request(64, 2, 3.0f, Sampler::kEulerAncestral, 10, 3));
  ASSERT_TRUE(three.ok()) << three.status().ToString();
  ASSERT_EQ(three->png.size(), 3u);
  EXPECT_EQ(three->seeds, (std::vector<uint64_t>{10, 11, 12}));
  EXPECT_EQ(std::set<std::string>(three->png.begin(), three->png.end()).size(), 3u);
  // Image i of a request is the single image of seed + i.
  auto third = p->Generate(Request(64, 2, 3.0f, Sampler::kEulerAncestral, 12));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->png[0], three->png[2]);
  EXPECT_EQ(three->cfg_scale, 3.0f);
  EXPECT_GT(three->prompt_tokens, 2);
  EXPECT_FALSE(three->prompt_truncated);
}

// bf16 (the production type on CPUs with native bf16): runs end to end, finite, repeatable,
// and near the f32 result.
TEST(PipelineTest, Bf16IsFiniteRepeatableAndNearF32) {
  const std::string model = TinyModel("sd1");
  ASSERT_FALSE(model.empty());
  auto f32 = LoadOrDie(ConfigFor(model));
  auto bf16 = Pipeline::Load(ConfigFor(model), at::kBFloat16);
  ASSERT_TRUE(f32);
  ASSERT_TRUE(bf16.ok()) << bf16.status().ToString();
  const ImageRequest r = Request(64, 3, 7.5f, Sampler::kDpmpp2mKarras, 21);
  std::vector<at::Tensor> la, lb, lc;
  auto a = f32->Generate(r, &la);
  auto b = (*bf16)->Generate(r, &lb);
  auto c = (*bf16)->Generate(r, &lc);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << b.status().ToString();
  EXPECT_TRUE(at::isfinite(lb[0]).all().item<bool>());
  EXPECT_EQ(b->png[0], c->png[0]);
  const double rel = testing::RelL2(lb[0], la[0]);
  EXPECT_LT(rel, 0.1);
  std::cout << "bf16 vs f32 latents: relative L2 " << rel << "\n";
}

TEST(PipelineTest, LongPromptsAreTruncatedAndReported) {
  const std::string model = TinyModel("sd1");
  ASSERT_FALSE(model.empty());
  auto p = LoadOrDie(ConfigFor(model));
  ASSERT_TRUE(p);
  ImageRequest r = Request(64, 1, 0, Sampler::kEuler, 1);
  r.prompt.clear();
  for (int i = 0; i < 120; ++i) r.prompt += "horse ";
  auto long_result = p->Generate(r);
  ASSERT_TRUE(long_result.ok()) << long_result.status().ToString();
  EXPECT_GT(long_result->prompt_tokens, 77);
  EXPECT_TRUE(long_result->prompt_truncated);
  // Tokens past 77 do not change the image.
  r.prompt += "zebra zebra zebra";
  auto longer = p->Generate(r);
  ASSERT_TRUE(longer.ok());
  EXPECT_EQ(longer->png[0], long_result->png[0]);
}

TEST(PipelineTest, SingleFileGivesTheSameImageAsTheFolder) {
  for (const std::string variant : {"sd1", "sd2"}) {
    SCOPED_TRACE(variant);
    const std::string folder = TinyModel(variant), single = TinyModel(variant, "single");
    ASSERT_FALSE(folder.empty());
    ASSERT_FALSE(single.empty());
    auto a = LoadOrDie(ConfigFor(folder));
    auto b = LoadOrDie(ConfigFor(single));
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->info().variant, b->info().variant);
    const ImageRequest r = Request(64, 2, 4.0f, Sampler::kEuler, 99);
    auto x = a->Generate(r);
    auto y = b->Generate(r);
    ASSERT_TRUE(x.ok() && y.ok()) << x.status().ToString() << y.status().ToString();
    EXPECT_EQ(x->png[0], y->png[0]);
  }
}

TEST(PipelineTest, BadRequestsAreInvalidArguments) {
  const std::string model = TinyModel("sd-turbo");
  ASSERT_FALSE(model.empty());
  auto p = LoadOrDie(ConfigFor(model));
  ASSERT_TRUE(p);
  auto code = [&](ImageRequest r) { return p->Generate(r).status().code(); };
  const ImageRequest ok = Request(64, 1, 0, Sampler::kDefault, 1);
  for (int size : {0, 32, 100, 96, 2112, -64}) {
    ImageRequest r = ok;
    r.width = size;
    EXPECT_EQ(code(r), StatusCode::kInvalidArgument) << size;
    r = ok;
    r.height = size;
    EXPECT_EQ(code(r), StatusCode::kInvalidArgument) << size;
  }
  for (int count : {0, 6, -1}) {
    ImageRequest r = ok;
    r.count = count;
    EXPECT_EQ(code(r), StatusCode::kInvalidArgument) << count;
  }
  for (int steps : {151, -1}) {
    ImageRequest r = ok;
    r.steps = steps;
    EXPECT_EQ(code(r), StatusCode::kInvalidArgument) << steps;
  }
  for (float cfg : {31.0f, std::nanf("")}) {
    ImageRequest r = ok;
    r.cfg_scale = cfg;
    EXPECT_EQ(code(r), StatusCode::kInvalidArgument) << cfg;
  }
  ImageRequest r = ok;
  r.width = 192;
  r.height = 64;
  auto wide = p->Generate(r);
  ASSERT_TRUE(wide.ok()) << wide.status().ToString();
  auto px = PixelsOf(wide->png[0]);
  EXPECT_EQ(px.size(0), 64);
  EXPECT_EQ(px.size(1), 192);
}

// The tiny decoder path: a random TAESD-shaped decoder (4 latent channels) from
// tests/image/ref/tae.py decodes the pipeline's latents as the reference does; TAEF2 (32
// channels) does not fit an SD model and says so at load.
TEST(PipelineTest, TinyDecoder) {
  if (!testing::PythonHasTorch()) GTEST_SKIP() << "python3 cannot import torch";
  const std::string model = TinyModel("sd-turbo");
  ASSERT_FALSE(model.empty());
  const std::string dir = testing::TempDir("tae");
  ASSERT_TRUE(testing::RunRef("make-tae --latent 4 --channels 16 --seed 5 --model " +
                              ShellQuote(dir) + " --out " + ShellQuote(dir + "/unused")));
  ImageModelConfig config = ConfigFor(model);
  config.tae_decoder_path = dir + "/tae_decoder.safetensors";
  auto p = LoadOrDie(config);
  ASSERT_TRUE(p);
  std::vector<at::Tensor> latents;
  auto result = p->Generate(Request(64, 1, 0, Sampler::kDefault, 8), &latents);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  testing::WriteTensors(dir + "/z.safetensors", {{"z", latents[0]}});
  ASSERT_TRUE(testing::RunRef("tae-decode --model " + ShellQuote(config.tae_decoder_path) +
                              " --inputs " + ShellQuote(dir + "/z.safetensors") + " --out " +
                              ShellQuote(dir + "/image.safetensors")));
  const at::Tensor want = (testing::ReadTensors(dir + "/image.safetensors")["image"][0] * 255)
                              .round()
                              .permute({1, 2, 0});
  const at::Tensor px = PixelsOf(result->png[0]).to(at::kFloat);
  ASSERT_EQ(px.sizes(), want.sizes());
  EXPECT_LE((px - want).abs().max().item<float>(), 1);

  const std::string taef2 = testing::SourceDir() + "/../shared/models/taef2_decoder.safetensors";
  if (fs::exists(taef2)) {
    config.tae_decoder_path = taef2;
    auto bad = Pipeline::Load(config, at::kFloat);
    EXPECT_EQ(bad.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(bad.status().message().find("latent channels"), std::string::npos)
        << bad.status().ToString();
  }
}

// Copies the tiny sd1 folder and breaks it.
std::string BrokenCopy(const std::string& name) {
  const std::string src = TinyModel("sd1");
  const std::string dst = testing::TempDir("broken") + "/" + name;
  fs::remove_all(dst);
  fs::copy(src, dst, fs::copy_options::recursive);
  return dst;
}

void ExpectFailedPrecondition(const std::string& path, const std::string& mention) {
  auto p = Pipeline::Load(ConfigFor(path), at::kFloat);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kFailedPrecondition) << p.status().ToString();
  EXPECT_NE(p.status().message().find(mention), std::string::npos) << p.status().ToString();
}

TEST(PipelineTest, BrokenCheckpointsFailToLoadClearly) {
  ASSERT_FALSE(TinyModel("sd1").empty());
  {
    const std::string d = BrokenCopy("truncated");
    const std::string f = d + "/unet/diffusion_pytorch_model.safetensors";
    fs::resize_file(f, fs::file_size(f) / 2);
    ExpectFailedPrecondition(d, "diffusion_pytorch_model.safetensors");
  }
  {
    const std::string d = BrokenCopy("corrupt");
    const std::string f = d + "/vae/diffusion_pytorch_model.safetensors";
    std::fstream s(f, std::ios::in | std::ios::out | std::ios::binary);
    s.seekp(8);
    s.write("{\"x\":[1,2", 9);  // a header that is no longer JSON
    s.close();
    ExpectFailedPrecondition(d, "diffusion_pytorch_model.safetensors");
  }
  {
    const std::string d = BrokenCopy("incomplete");
    fs::remove(d + "/text_encoder/model.safetensors");
    ExpectFailedPrecondition(d, "text_encoder");
  }
  {
    const std::string d = BrokenCopy("no_tokenizer");
    fs::remove(d + "/tokenizer/merges.txt");
    ExpectFailedPrecondition(d, "merges.txt");
  }
  {
    // A file the size of a header only: every weight is missing or out of range.
    const std::string f = testing::TempDir("broken") + "/empty.safetensors";
    std::ofstream(f, std::ios::binary) << "garbage";
    auto p = Pipeline::Load(ConfigFor(f), at::kFloat);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.status().code(), StatusCode::kFailedPrecondition) << p.status().ToString();
  }
  auto missing = Pipeline::Load(ConfigFor("/nonexistent/model"), at::kFloat);
  EXPECT_FALSE(missing.ok());
  auto bad_variant = Pipeline::Load(ConfigFor(TinyModel("sd1"), "sdxl"), at::kFloat);
  EXPECT_EQ(bad_variant.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace basalt::image
