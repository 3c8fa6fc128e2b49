#include "catalog/catalog.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace basalt::catalog {
namespace {

namespace fs = std::filesystem;

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("catalog_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "tiny.gguf") << "x";
    opts_.models_dirs = {(dir_ / "nope").string(), dir_.string()};
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  LoadOptions opts_;
};

TEST_F(CatalogTest, DefaultCatalogFallsBackToTheModelThatIsPresent) {
  std::ofstream(dir_ / "stories260K.gguf") << "x";
  auto cat = Catalog::Parse(Catalog::DefaultCatalogJson(), opts_);
  ASSERT_TRUE(cat.ok()) << cat.status().ToString();
  const ModelEntry* e = (*cat)->Find("anthropic.claude-v2");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->engine_model, "tinystories.stories-260k-v1:0");
  EXPECT_EQ(e->family, RequestFamily::kAnthropicText);
  EXPECT_EQ(e->provider_name, "Anthropic");
  EXPECT_TRUE(e->is_alias);
  // Qwen, Llama, SD-Turbo and nomic-embed weights are absent: reported, not served.
  EXPECT_EQ((*cat)->missing().size(), 4u);
  EXPECT_EQ((*cat)->Find("qwen.qwen2-5-0-5b-instruct-v1:0"), nullptr);
  EXPECT_EQ((*cat)->Find("anthropic.claude-3-haiku-20240307-v1:0")->family,
            RequestFamily::kAnthropicMessages);
  EXPECT_EQ((*cat)->Find("amazon.titan-text-express-v1")->family, RequestFamily::kTitanText);
  EXPECT_EQ((*cat)->Find("mistral.mistral-7b-instruct-v0:2")->family, RequestFamily::kMistral);
  // The embedding ids fall back to stories260K pooled by mean.
  const ModelEntry* v2 = (*cat)->Find("amazon.titan-embed-text-v2:0");
  ASSERT_NE(v2, nullptr);
  EXPECT_EQ(v2->engine_model, "tinystories.stories-260k-embed-v1:0");
  EXPECT_EQ(v2->embed_family, EmbedFamily::kTitanV2);
  EXPECT_EQ(v2->pooling, "mean");
  EXPECT_FALSE(v2->streaming);
  EXPECT_EQ(v2->output_modalities, std::vector<std::string>{"EMBEDDING"});
  EXPECT_EQ(v2->provider_name, "Amazon");
  EXPECT_EQ((*cat)->Find("amazon.titan-embed-text-v1")->embed_family, EmbedFamily::kTitanV1);
  EXPECT_EQ((*cat)->Find("cohere.embed-english-v3")->embed_family, EmbedFamily::kCohere);
  EXPECT_EQ((*cat)->Find("cohere.embed-english-v3")->provider_name, "Cohere");
  EXPECT_FALSE((*cat)->Find("anthropic.claude-v2")->embedding());
}

TEST_F(CatalogTest, EmbeddingEntries) {
  auto parse = [&](const std::string& model) {
    return Catalog::Parse(R"({"models":[)" + model + "]}", opts_);
  };
  auto ok = parse(R"({"modelId":"e.x-v1:0","weights":"tiny.gguf","requestFamily":"cohere-embed",
      "pooling":"cls","aliases":["amazon.titan-embed-text-v1","x.other-v1"]})");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  const ModelEntry* e = (*ok)->Find("e.x-v1:0");
  EXPECT_EQ(e->embed_family, EmbedFamily::kCohere);
  EXPECT_EQ(e->pooling, "cls");
  EXPECT_FALSE(e->streaming);
  EXPECT_EQ((*ok)->Find("amazon.titan-embed-text-v1")->embed_family, EmbedFamily::kTitanV1);
  EXPECT_EQ((*ok)->Find("amazon.titan-embed-text-v1")->pooling, "cls");
  EXPECT_EQ((*ok)->Find("x.other-v1")->embed_family, EmbedFamily::kCohere);
  // The family is inferred from a Bedrock embedding id.
  auto inferred = parse(R"({"modelId":"amazon.titan-embed-text-v2:0","weights":"tiny.gguf"})");
  ASSERT_TRUE(inferred.ok());
  EXPECT_EQ((*inferred)->Find("amazon.titan-embed-text-v2:0")->embed_family, EmbedFamily::kTitanV2);

  for (const char* bad : {
           R"({"modelId":"e.x-v1:0","weights":"tiny.gguf","outputModalities":["EMBEDDING"]})",
           R"({"modelId":"e.x-v1:0","weights":"tiny.gguf","requestFamily":"titan-embed-v2",
               "outputModalities":["TEXT"]})",
           R"({"modelId":"e.x-v1:0","weights":"tiny.gguf","requestFamily":"titan-embed-v2",
               "responseStreamingSupported":true})",
           R"({"modelId":"e.x-v1:0","weights":"tiny.gguf","requestFamily":"titan-embed-v2",
               "pooling":"max"})",
           R"({"modelId":"t.x-v1:0","weights":"tiny.gguf","aliases":["cohere.embed-english-v3"]})",
       }) {
    auto cat = parse(bad);
    EXPECT_FALSE(cat.ok()) << bad;
    if (!cat.ok()) {
      EXPECT_EQ(cat.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST_F(CatalogTest, FirstPresentEntryWinsAnAlias) {
  std::ofstream(dir_ / "qwen2.5-0.5b-instruct-q4_k_m.gguf") << "x";
  std::ofstream(dir_ / "stories260K.gguf") << "x";
  auto cat = Catalog::Parse(Catalog::DefaultCatalogJson(), opts_);
  ASSERT_TRUE(cat.ok());
  EXPECT_EQ((*cat)->Find("anthropic.claude-v2")->engine_model, "qwen.qwen2-5-0-5b-instruct-v1:0");
  EXPECT_EQ((*cat)->missing().size(), 3u);
}

TEST_F(CatalogTest, NoModelsMeansAnEmptyCatalog) {
  auto cat = Catalog::Parse(Catalog::DefaultCatalogJson(), LoadOptions{});
  ASSERT_TRUE(cat.ok());
  EXPECT_TRUE((*cat)->entries().empty());
  EXPECT_EQ((*cat)->missing().size(), 6u);
  EXPECT_EQ((*cat)->missing()[0].source_repo, "Qwen/Qwen2.5-0.5B-Instruct-GGUF");
  // The image model is listed as missing with its modality and where to get it.
  const MissingModel* sd = nullptr;
  for (const auto& m : (*cat)->missing()) {
    if (m.model_id == "stabilityai.sd-turbo-v1:0") sd = &m;
  }
  ASSERT_NE(sd, nullptr);
  EXPECT_EQ(sd->weights, "sd-turbo");
  EXPECT_EQ(sd->source_repo, "stabilityai/sd-turbo");
  EXPECT_EQ(sd->output_modalities, std::vector<std::string>{"IMAGE"});
}

TEST_F(CatalogTest, DefaultCatalogServesTheImageIdsFromAnSdTurboFolder) {
  fs::create_directories(dir_ / "sd-turbo" / "unet");
  auto cat = Catalog::Parse(Catalog::DefaultCatalogJson(), opts_);
  ASSERT_TRUE(cat.ok()) << cat.status().ToString();
  const ModelEntry* v1 = (*cat)->Find("amazon.titan-image-generator-v1");
  const ModelEntry* v2 = (*cat)->Find("amazon.titan-image-generator-v2:0");
  const ModelEntry* xl = (*cat)->Find("stability.stable-diffusion-xl-v1");
  ASSERT_NE(v1, nullptr);
  ASSERT_NE(v2, nullptr);
  ASSERT_NE(xl, nullptr);
  EXPECT_EQ(v1->image_family, ImageFamily::kTitanV1);
  EXPECT_EQ(v2->image_family, ImageFamily::kTitanV2);
  EXPECT_EQ(xl->image_family, ImageFamily::kStabilitySdxl);
  EXPECT_EQ(xl->provider_name, "Stability AI");
  EXPECT_EQ(v1->provider_name, "Amazon");
  for (const ModelEntry* e : {v1, v2, xl}) {
    EXPECT_EQ(e->engine_model, "stabilityai.sd-turbo-v1:0");
    EXPECT_EQ(e->weights_path, (dir_ / "sd-turbo").string());
    EXPECT_EQ(e->output_modalities, std::vector<std::string>{"IMAGE"});
    EXPECT_FALSE(e->streaming);
    EXPECT_EQ(e->image.variant, "sd-turbo");
    EXPECT_EQ(e->image.steps_standard, 1);
    EXPECT_EQ(e->image.steps_premium, 4);
    EXPECT_DOUBLE_EQ(e->price.per_image.at("512x512/standard"), 0.008);
    EXPECT_DOUBLE_EQ(e->price.per_image.at("*/premium"), 0.012);
    EXPECT_FALSE(e->embedding());
  }
  EXPECT_FALSE((*cat)->Find("stabilityai.sd-turbo-v1:0")->is_alias);
}

TEST_F(CatalogTest, ImageEntries) {
  auto parse = [&](const std::string& model) {
    return Catalog::Parse(R"({"models":[)" + model + "]}", opts_);
  };
  std::ofstream(dir_ / "one.safetensors") << "x";
  fs::create_directories(dir_ / "tok");
  std::ofstream(dir_ / "taesd.safetensors") << "x";
  auto ok = parse(R"({"modelId":"i.x-v1:0","weights":"one.safetensors",
      "requestFamily":"stability-sdxl",
      "image":{"variant":"sd1","tokenizer":"tok","taeDecoder":"taesd.safetensors",
               "steps":{"standard":20,"premium":40},"sampler":"euler","cfgScale":6.5},
      "aliases":["amazon.titan-image-generator-v1"]})");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  const ModelEntry* e = (*ok)->Find("i.x-v1:0");
  EXPECT_EQ(e->image_family, ImageFamily::kStabilitySdxl);
  EXPECT_EQ(e->output_modalities, std::vector<std::string>{"IMAGE"});
  EXPECT_FALSE(e->streaming);
  EXPECT_EQ(e->image.tokenizer_dir, (dir_ / "tok").string());
  EXPECT_EQ(e->image.tae_decoder_path, (dir_ / "taesd.safetensors").string());
  EXPECT_EQ(e->image.steps_standard, 20);
  EXPECT_EQ(e->image.steps_premium, 40);
  EXPECT_EQ(e->image.sampler, "euler");
  EXPECT_FLOAT_EQ(e->image.cfg_scale, 6.5f);
  EXPECT_EQ((*ok)->Find("amazon.titan-image-generator-v1")->image_family, ImageFamily::kTitanV1);
  // Inferred from a Bedrock image id.
  auto inferred =
      parse(R"({"modelId":"amazon.titan-image-generator-v2:0","weights":"one.safetensors"})");
  ASSERT_TRUE(inferred.ok()) << inferred.status().ToString();
  EXPECT_EQ((*inferred)->Find("amazon.titan-image-generator-v2:0")->image_family,
            ImageFamily::kTitanV2);
  // A folder is not a GGUF: only image models may name one.
  fs::create_directories(dir_ / "folder");
  auto text_folder = parse(R"({"modelId":"t.x-v1:0","weights":"folder"})");
  ASSERT_TRUE(text_folder.ok());
  EXPECT_TRUE((*text_folder)->entries().empty());

  for (auto [bad, want] : std::initializer_list<std::pair<const char*, const char*>>{
           {R"({"modelId":"i.x-v1:0","weights":"one.safetensors","outputModalities":["IMAGE"]})",
            "needs an image requestFamily"},
           {R"({"modelId":"i.x-v1:0","weights":"one.safetensors","requestFamily":"titan-image-v1",
               "outputModalities":["TEXT"]})",
            "is for image models"},
           {R"({"modelId":"i.x-v1:0","weights":"one.safetensors","requestFamily":"titan-image-v1",
               "responseStreamingSupported":true})",
            "do not stream"},
           {R"({"modelId":"i.x-v1:0","weights":"one.safetensors","requestFamily":"titan-image-v1",
               "image":{"variant":"sdxl"}})",
            "image.variant"},
           {R"({"modelId":"i.x-v1:0","weights":"one.safetensors","requestFamily":"titan-image-v1",
               "image":{"steps":{"standard":0}}})",
            "image.steps.standard"},
           {R"({"modelId":"i.x-v1:0","weights":"one.safetensors","requestFamily":"titan-image-v1",
               "image":{"steps":{"fast":2}}})",
            "standard and premium"},
           {R"({"modelId":"i.x-v1:0","weights":"one.safetensors","requestFamily":"titan-image-v1",
               "image":{"sampler":"ddim"}})",
            "image.sampler"},
           {R"({"modelId":"i.x-v1:0","weights":"one.safetensors","requestFamily":"titan-image-v1",
               "image":{"tokenizer":"nope"}})",
            "not in the models folders"},
           {R"({"modelId":"i.x-v1:0","weights":"one.safetensors","requestFamily":"titan-image-v1",
               "image":{"seed":3}})",
            "unknown key \"image.seed\""},
           {R"({"modelId":"t.x-v1:0","weights":"tiny.gguf","image":{}})", "are for image models"},
           {R"({"modelId":"i.x-v1:0","weights":"one.safetensors","requestFamily":"titan-image-v1",
               "price":{"perImage":{"big/standard":1}}})",
            "price.perImage"},
           {R"({"modelId":"i.x-v1:0","weights":"one.safetensors","requestFamily":"titan-image-v1",
               "price":{"perImage":{"*":-1}}})",
            "price.perImage.*"},
           {R"({"modelId":"t.x-v1:0","weights":"tiny.gguf",
               "aliases":["amazon.titan-image-generator-v1"]})",
            "is for image models"},
       }) {
    auto cat = parse(bad);
    ASSERT_FALSE(cat.ok()) << bad;
    EXPECT_EQ(cat.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(cat.status().message().find(want), std::string::npos) << cat.status().message();
  }
}

TEST_F(CatalogTest, ResolvesArnsAndInferenceProfiles) {
  auto cat = Catalog::Parse(R"({"models":[{"modelId":"m.x-v1:0","weights":"tiny.gguf",
      "aliases":["anthropic.claude-3-haiku-20240307-v1:0"]}]})",
                            opts_);
  ASSERT_TRUE(cat.ok()) << cat.status().ToString();
  const Catalog& c = **cat;
  EXPECT_NE(c.Find("m.x-v1:0"), nullptr);
  EXPECT_NE(c.Find("arn:aws:bedrock:us-east-1::foundation-model/m.x-v1:0"), nullptr);
  EXPECT_NE(c.Find("us.anthropic.claude-3-haiku-20240307-v1:0"), nullptr);
  EXPECT_NE(c.Find("arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
                   "apac.anthropic.claude-3-haiku-20240307-v1:0"),
            nullptr);
  EXPECT_EQ(c.Find("arn:aws:bedrock:us-east-1::guardrail/m.x-v1:0"), nullptr);
  EXPECT_EQ(c.Find("nope"), nullptr);
  EXPECT_EQ(c.Find("m.x-v1:0")->family, RequestFamily::kMetaLlama);
  EXPECT_EQ(c.Find("anthropic.claude-3-haiku-20240307-v1:0")->provider_name, "Anthropic");
  EXPECT_EQ(c.Find("m.x-v1:0")->provider_name, "Basalt");
}

TEST_F(CatalogTest, BadFieldsAreNamed) {
  auto bad = [&](const char* text, const char* want) {
    auto cat = Catalog::Parse(text, opts_);
    ASSERT_FALSE(cat.ok()) << text;
    EXPECT_NE(cat.status().message().find(want), std::string::npos) << cat.status().message();
  };
  bad("{", "not valid JSON");
  bad(R"({"models":3})", "\"models\" must be a list");
  bad(R"({"models":[{"weights":"tiny.gguf"}]})", "missing \"modelId\"");
  bad(R"({"models":[{"modelId":"a","weights":"t","requestFamily":"x"}]})", "unknown requestFamily");
  bad(R"({"models":[{"modelId":"a","weights":"t","price":{"inputPer1kTokens":-1}}]})",
      "price.inputPer1kTokens");
  bad(R"({"models":[{"modelId":"a b","weights":"t"}]})", "invalid modelId");
  bad(R"({"models":[{"modelId":"a","weights":"t"},{"modelId":"a","weights":"t"}]})", "duplicate");
}

TEST_F(CatalogTest, LoadOrCreateWritesTheDefault) {
  auto path = (dir_ / "sub" / "catalog.json").string();
  auto cat = Catalog::LoadOrCreate(path, opts_);
  ASSERT_TRUE(cat.ok()) << cat.status().ToString();
  EXPECT_TRUE(fs::exists(path));
}

}  // namespace
}  // namespace basalt::catalog
