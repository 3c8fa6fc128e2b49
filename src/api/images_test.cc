// Image bodies: Titan Image Generator and Stability SDXL parsing with the services' wording,
// the engine request built from a plan and a catalog entry, the responses (with a small fake
// ImageEngine standing in for the pipeline), the prompt-language detection and headers.
#include "api/images.h"

#include <gtest/gtest.h>

#include "api/errors.h"
#include "auth/sigv4.h"

namespace basalt::api {
namespace {

using catalog::ImageFamily;

// A stand-in for the diffusion pipeline: "PNG" bytes that depend on everything a request
// asks for, so tests can tell what reached the engine. Tests only; the server uses the real
// engine (src/image).
class FakeImageEngine : public image::ImageEngine {
 public:
  StatusOr<image::ImageResult> Generate(const image::ImageRequest& r) override {
    last = r;
    if (r.model != "m") return Status::NotFound("unknown image model " + r.model);
    if (r.width % 64 != 0 || r.height % 64 != 0) return Status::InvalidArgument("size");
    image::ImageResult out;
    out.width = r.width;
    out.height = r.height;
    out.steps = r.steps > 0 ? r.steps : 1;
    for (int i = 0; i < r.count; ++i) {
      if (r.cancelled && r.cancelled()) return Status::Cancelled("cancelled");
      out.seeds.push_back(r.seed + i);
      out.png.push_back("\x89PNG" + r.prompt + "|" + r.negative_prompt + "|" +
                        std::to_string(r.seed + i));
    }
    return out;
  }
  Status Load(const std::string&) override { return Status::Ok(); }
  StatusOr<image::ImageModelInfo> Describe(const std::string&) override {
    image::ImageModelInfo info;
    info.variant = variant;
    return info;
  }
  bool available() const override { return true; }

  std::string variant = "sd-turbo";
  image::ImageRequest last;
};

ImagePlan MustParse(ImageFamily f, const std::string& body) {
  auto plan = ParseImageBody(f, Json::parse(body));
  EXPECT_TRUE(plan.ok()) << body << ": " << plan.status().ToString();
  return plan.ok() ? *plan : ImagePlan{};
}

std::string ErrorOf(ImageFamily f, const std::string& body) {
  auto plan = ParseImageBody(f, Json::parse(body));
  EXPECT_FALSE(plan.ok()) << body;
  if (plan.ok()) return "";
  EXPECT_EQ(MapStatus(plan.status()).type, "ValidationException");
  EXPECT_EQ(MapStatus(plan.status()).http_status, 400);
  return plan.status().message();
}

std::string Malformed(const std::string& detail) {
  return "Malformed input request: " + detail + ", please reformat your input and try again.";
}

std::string Titan(const std::string& params, const std::string& config = "") {
  std::string body = R"({"taskType":"TEXT_IMAGE","textToImageParams":)" + params;
  if (!config.empty()) body += R"(,"imageGenerationConfig":)" + config;
  return body + "}";
}

TEST(TitanImageBody, Defaults) {
  ImagePlan p = MustParse(ImageFamily::kTitanV1, Titan(R"({"text":"a red fox"})"));
  EXPECT_EQ(p.prompt, "a red fox");
  EXPECT_EQ(p.negative_prompt, "");
  EXPECT_EQ(p.count, 1);
  EXPECT_EQ(p.width, 0);  // the model's native size
  EXPECT_EQ(p.height, 0);
  EXPECT_FALSE(p.cfg_scale.has_value());
  EXPECT_EQ(p.seed, 42u);  // Titan's default seed
  EXPECT_EQ(p.quality, "standard");
}

TEST(TitanImageBody, EveryField) {
  ImagePlan p = MustParse(
      ImageFamily::kTitanV2,
      Titan(
          R"({"text":"a fox","negativeText":"blurry"})",
          R"({"numberOfImages":5,"height":1152,"width":768,"cfgScale":1.1,"seed":2147483646,"quality":"premium"})"));
  EXPECT_EQ(p.negative_prompt, "blurry");
  EXPECT_EQ(p.count, 5);
  EXPECT_EQ(p.width, 768);
  EXPECT_EQ(p.height, 1152);
  EXPECT_FLOAT_EQ(*p.cfg_scale, 1.1f);
  EXPECT_EQ(p.seed, 2147483646u);
  EXPECT_EQ(p.quality, "premium");
  // 512 characters of Hangul (3 bytes each) are within the limit: characters count, not bytes.
  std::string hangul;
  for (int i = 0; i < 512; ++i) hangul += "\xEA\xB0\x80";  // U+AC00
  EXPECT_EQ(MustParse(ImageFamily::kTitanV1, Titan(R"({"text":")" + hangul + "\"}")).prompt,
            hangul);
}

TEST(TitanImageBody, PromptRules) {
  const std::string long_text(513, 'a');
  EXPECT_EQ(ErrorOf(ImageFamily::kTitanV1, Titan(R"({"text":")" + long_text + "\"}")),
            Malformed("#/textToImageParams/text: expected maxLength: 512, actual: 513"));
  EXPECT_EQ(ErrorOf(ImageFamily::kTitanV1, Titan(R"({"text":""})")),
            Malformed("#/textToImageParams/text: expected minLength: 1, actual: 0"));
  EXPECT_EQ(ErrorOf(ImageFamily::kTitanV1, Titan(R"({"negativeText":"x"})")),
            Malformed("#/textToImageParams: required key [text] not found"));
  EXPECT_EQ(
      ErrorOf(ImageFamily::kTitanV1, Titan(R"({"text":"a","negativeText":")" + long_text + "\"}")),
      Malformed("#/textToImageParams/negativeText: expected maxLength: 512, actual: 513"));
  EXPECT_EQ(ErrorOf(ImageFamily::kTitanV1, Titan(R"({"text":7})")),
            Malformed("#/textToImageParams/text: expected type: String, found: Integer"));
  EXPECT_EQ(ErrorOf(ImageFamily::kTitanV1, R"({"taskType":"TEXT_IMAGE"})"),
            Malformed("#: required key [textToImageParams] not found"));
}

TEST(TitanImageBody, ConfigRanges) {
  auto config_error = [](const std::string& config) {
    return ErrorOf(ImageFamily::kTitanV1, Titan(R"({"text":"a"})", config));
  };
  EXPECT_EQ(config_error(R"({"numberOfImages":6})"),
            Malformed("#/imageGenerationConfig/numberOfImages: 6 is not less or equal to 5"));
  EXPECT_EQ(config_error(R"({"numberOfImages":0})"),
            Malformed("#/imageGenerationConfig/numberOfImages: 0 is not greater or equal to 1"));
  EXPECT_EQ(config_error(R"({"numberOfImages":1.5})"),
            Malformed("#/imageGenerationConfig/numberOfImages: expected type: Integer, found: "
                      "Number"));
  EXPECT_EQ(config_error(R"({"cfgScale":10.5})"),
            Malformed("#/imageGenerationConfig/cfgScale: 10.5 is not less or equal to 10"));
  EXPECT_EQ(config_error(R"({"cfgScale":1})"),
            Malformed("#/imageGenerationConfig/cfgScale: 1 is not greater or equal to 1.1"));
  EXPECT_EQ(config_error(R"({"seed":2147483647})"),
            Malformed("#/imageGenerationConfig/seed: 2147483647 is not less or equal to "
                      "2147483646"));
  EXPECT_EQ(config_error(R"({"seed":-1})"),
            Malformed("#/imageGenerationConfig/seed: -1 is not greater or equal to 0"));
  EXPECT_EQ(config_error(R"({"quality":"ultra"})"),
            Malformed("#/imageGenerationConfig/quality: ultra is not a valid enum value"));
  EXPECT_EQ(config_error(R"({"steps":4})"),
            Malformed("#/imageGenerationConfig: extraneous key [steps] is not permitted"));
}

TEST(TitanImageBody, Sizes) {
  auto size_error = [](int w, int h) {
    return ErrorOf(ImageFamily::kTitanV1,
                   Titan(R"({"text":"a"})", "{\"width\":" + std::to_string(w) +
                                                ",\"height\":" + std::to_string(h) + "}"));
  };
  EXPECT_EQ(size_error(1000, 1000),
            Malformed("#/imageGenerationConfig: 1000x1000 (width x height) is not a supported "
                      "image size"));
  EXPECT_EQ(size_error(513, 512),
            Malformed("#/imageGenerationConfig: 513x512 (width x height) is not a supported "
                      "image size"));
  // A Titan size the pipeline cannot make (1173 is not a multiple of 64).
  EXPECT_EQ(size_error(1173, 640),
            Malformed("#/imageGenerationConfig: 1173x640 (width x height) is not supported by "
                      "this server: its diffusion pipeline needs sides in multiples of 64"));
  // Every other Titan size passes, and is a multiple of 64.
  int passed = 0;
  for (auto [w, h] : TitanImageSizes()) {
    if (w == 1173) continue;
    ImagePlan p = MustParse(ImageFamily::kTitanV1,
                            Titan(R"({"text":"a"})", "{\"width\":" + std::to_string(w) +
                                                         ",\"height\":" + std::to_string(h) + "}"));
    EXPECT_EQ(p.width, w);
    EXPECT_EQ(p.height, h);
    ++passed;
  }
  EXPECT_EQ(passed, 24);
  // App widgets may use any multiple of 64 from 128 to 1536.
  auto app = ParseImageBody(ImageFamily::kTitanV1,
                            Json::parse(Titan(R"({"text":"a"})", R"({"width":256,"height":832})")),
                            /*any_size=*/true);
  ASSERT_TRUE(app.ok()) << app.status().ToString();
  EXPECT_EQ(app->width, 256);
  EXPECT_EQ(app->height, 832);
  EXPECT_FALSE(
      ParseImageBody(ImageFamily::kTitanV1,
                     Json::parse(Titan(R"({"text":"a"})", R"({"width":250,"height":832})")), true)
          .ok());
  // One side alone pairs with Titan's default 1024.
  EXPECT_EQ(MustParse(ImageFamily::kTitanV1, Titan(R"({"text":"a"})", R"({"width":1024})")).height,
            1024);
  EXPECT_EQ(ErrorOf(ImageFamily::kTitanV1, Titan(R"({"text":"a"})", R"({"width":512})")),
            Malformed("#/imageGenerationConfig: 512x1024 (width x height) is not a supported "
                      "image size"));
}

TEST(TitanImageBody, TaskTypesAndUnknownKeys) {
  for (const char* task : {"INPAINTING", "OUTPAINTING", "IMAGE_VARIATION"}) {
    EXPECT_EQ(ErrorOf(ImageFamily::kTitanV1, std::string(R"({"taskType":")") + task + "\"}"),
              std::string("Basalt does not support the taskType ") + task +
                  " yet: its image models generate images from text only (taskType "
                  "TEXT_IMAGE).");
  }
  // v2's own task types are unsupported on v2, unknown on v1.
  EXPECT_EQ(ErrorOf(ImageFamily::kTitanV2, R"({"taskType":"BACKGROUND_REMOVAL"})"),
            "Basalt does not support the taskType BACKGROUND_REMOVAL yet: its image models "
            "generate images from text only (taskType TEXT_IMAGE).");
  EXPECT_EQ(ErrorOf(ImageFamily::kTitanV1, R"({"taskType":"COLOR_GUIDED_GENERATION"})"),
            Malformed("#/taskType: COLOR_GUIDED_GENERATION is not a valid enum value"));
  EXPECT_EQ(ErrorOf(ImageFamily::kTitanV1, R"({"textToImageParams":{"text":"a"}})"),
            Malformed("#: required key [taskType] not found"));
  EXPECT_EQ(ErrorOf(ImageFamily::kTitanV1,
                    R"({"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a"},"prompt":"x"})"),
            Malformed("#: extraneous key [prompt] is not permitted"));
  EXPECT_EQ(ErrorOf(ImageFamily::kTitanV1, Titan(R"({"text":"a","style":"x"})")),
            Malformed("#/textToImageParams: extraneous key [style] is not permitted"));
  EXPECT_EQ(ErrorOf(ImageFamily::kTitanV2, Titan(R"({"text":"a","conditionImage":"AAAA"})")),
            "Basalt does not support image conditioning (textToImageParams.conditionImage) yet: "
            "its image models generate images from text only.");
  EXPECT_EQ(ErrorOf(ImageFamily::kTitanV1, Titan(R"({"text":"a","conditionImage":"AAAA"})")),
            Malformed("#/textToImageParams: extraneous key [conditionImage] is not permitted"));
}

TEST(StabilityBody, PromptsAndWeights) {
  ImagePlan p = MustParse(ImageFamily::kStabilitySdxl,
                          R"({"text_prompts":[{"text":"a castle","weight":1},{"text":"at dusk"},
                              {"text":"blurry","weight":-1},{"text":"ignored","weight":0}],
                              "cfg_scale":7,"seed":0,"steps":30,"width":768,"height":512,
                              "samples":2,"sampler":"K_DPMPP_2M"})");
  EXPECT_EQ(p.family, ImageFamily::kStabilitySdxl);
  EXPECT_EQ(p.prompt, "a castle, at dusk");
  EXPECT_EQ(p.negative_prompt, "blurry");
  EXPECT_FLOAT_EQ(*p.cfg_scale, 7.0f);
  EXPECT_FALSE(p.seed.has_value());  // 0: a random seed
  EXPECT_EQ(*p.steps, 30);
  EXPECT_EQ(p.width, 768);
  EXPECT_EQ(p.height, 512);
  EXPECT_EQ(p.count, 2);
  EXPECT_EQ(p.sampler, image::Sampler::kDpmpp2mKarras);
  EXPECT_TRUE(p.ignored.empty());
  EXPECT_EQ(MustParse(ImageFamily::kStabilitySdxl,
                      R"({"text_prompts":[{"text":"a"}],"seed":4294967295,"sampler":"K_EULER"})")
                .seed,
            4294967295u);
  EXPECT_EQ(MustParse(ImageFamily::kStabilitySdxl,
                      R"({"text_prompts":[{"text":"a"}],"sampler":"K_EULER_ANCESTRAL"})")
                .sampler,
            image::Sampler::kEulerAncestral);
  // Weights other than +-1 keep their sign only, and say so.
  ImagePlan w =
      MustParse(ImageFamily::kStabilitySdxl,
                R"({"text_prompts":[{"text":"a","weight":0.5},{"text":"b","weight":-2}]})");
  EXPECT_EQ(w.prompt, "a");
  EXPECT_EQ(w.negative_prompt, "b");
  ASSERT_EQ(w.ignored.size(), 1u);
  EXPECT_NE(w.ignored[0].find("only its sign is used"), std::string::npos);
}

TEST(StabilityBody, Errors) {
  auto err = [](const std::string& body) { return ErrorOf(ImageFamily::kStabilitySdxl, body); };
  EXPECT_EQ(err(R"({"cfg_scale":7})"), Malformed("#: required key [text_prompts] not found"));
  EXPECT_EQ(err(R"({"text_prompts":[]})"),
            Malformed("#/text_prompts: expected minItems: 1, actual: 0"));
  EXPECT_EQ(err(R"({"text_prompts":[{"text":"a","weight":-1}]})"),
            Malformed("#/text_prompts: at least one prompt needs a positive weight"));
  EXPECT_EQ(err(R"({"text_prompts":[{"text":""}]})"),
            Malformed("#/text_prompts/0/text: expected minLength: 1, actual: 0"));
  EXPECT_EQ(err(R"({"text_prompts":["a"]})"),
            Malformed("#/text_prompts/0: expected type: JSONObject, found: String"));
  EXPECT_EQ(err(R"({"text_prompts":[{"text":"a","w":1}]})"),
            Malformed("#/text_prompts/0: extraneous key [w] is not permitted"));
  EXPECT_EQ(err(R"({"text_prompts":[{"text":")" + std::string(2001, 'a') + "\"}]}"),
            Malformed("#/text_prompts/0/text: expected maxLength: 2000, actual: 2001"));
  EXPECT_EQ(err(R"({"text_prompts":[{"text":"a"}],"width":500})"),
            Malformed("#/width: 500 is not a multiple of 64"));
  EXPECT_EQ(err(R"({"text_prompts":[{"text":"a"}],"height":64})"),
            Malformed("#/height: 64 is not greater or equal to 128"));
  EXPECT_EQ(err(R"({"text_prompts":[{"text":"a"}],"cfg_scale":36})"),
            Malformed("#/cfg_scale: 36 is not less or equal to 35"));
  EXPECT_EQ(err(R"({"text_prompts":[{"text":"a"}],"steps":51})"),
            Malformed("#/steps: 51 is not less or equal to 50"));
  EXPECT_EQ(err(R"({"text_prompts":[{"text":"a"}],"samples":6})"),
            "samples 6 is more than this server makes in one request (at most 5).");
  EXPECT_EQ(err(R"({"text_prompts":[{"text":"a"}],"sampler":"K_HEUN"})"),
            "The sampler K_HEUN is not available on this server: use K_EULER, K_EULER_ANCESTRAL "
            "or K_DPMPP_2M (Karras sigmas).");
  EXPECT_EQ(err(R"({"text_prompts":[{"text":"a"}],"sampler":"FAST"})"),
            Malformed("#/sampler: FAST is not a valid enum value"));
  EXPECT_EQ(err(R"({"text_prompts":[{"text":"a"}],"style_preset":"vaporwave"})"),
            Malformed("#/style_preset: vaporwave is not a valid enum value"));
  EXPECT_EQ(err(R"({"text_prompts":[{"text":"a"}],"init_image":"AAAA"})"),
            "Basalt does not support image-to-image (init_image) yet: its image models generate "
            "images from text only.");
  EXPECT_EQ(err(R"({"text_prompts":[{"text":"a"}],"prompt":"a"})"),
            Malformed("#: extraneous key [prompt] is not permitted"));
}

TEST(StabilityBody, StylePresetIsIgnoredWithAReason) {
  ImagePlan p = MustParse(
      ImageFamily::kStabilitySdxl,
      R"({"text_prompts":[{"text":"a"}],"style_preset":"photographic","clip_guidance_preset":"FAST_BLUE"})");
  ASSERT_EQ(p.ignored.size(), 2u);
  EXPECT_EQ(p.ignored[0],
            "style_preset photographic: style presets are Stability's own prompt additions; "
            "describe the style in the prompt instead");
  EXPECT_EQ(p.ignored[1],
            "clip_guidance_preset FAST_BLUE: CLIP guidance is not available on this server");
  EXPECT_TRUE(MustParse(ImageFamily::kStabilitySdxl,
                        R"({"text_prompts":[{"text":"a"}],"clip_guidance_preset":"NONE"})")
                  .ignored.empty());
}

catalog::ModelEntry Entry() {
  catalog::ModelEntry e;
  e.model_id = "amazon.titan-image-generator-v1";
  e.engine_model = "m";
  e.image_family = ImageFamily::kTitanV1;
  e.image.steps_standard = 1;
  e.image.steps_premium = 4;
  return e;
}

TEST(ImageRequest, FromPlanAndCatalog) {
  FakeImageEngine engine;
  engine.variant = "sd2";
  auto info = engine.Describe("m");
  ASSERT_TRUE(info.ok());
  info->native_size = 512;
  catalog::ModelEntry e = Entry();
  e.image.sampler = "dpmpp_2m_karras";

  ImagePlan p =
      MustParse(ImageFamily::kTitanV1,
                Titan(R"({"text":"a fox","negativeText":"fog"})",
                      R"({"numberOfImages":3,"cfgScale":6,"seed":7,"quality":"premium"})"));
  std::vector<std::string> ignored;
  image::ImageRequest r = BuildImageRequest(p, e, &*info, &ignored);
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(r.prompt, "a fox");
  EXPECT_EQ(r.negative_prompt, "fog");
  EXPECT_EQ(r.width, 512);  // native size: no size in the body
  EXPECT_EQ(r.height, 512);
  EXPECT_EQ(r.count, 3);
  EXPECT_EQ(r.steps, 4);  // premium
  EXPECT_FLOAT_EQ(r.cfg_scale, 6.0f);
  EXPECT_EQ(r.seed, 7u);
  EXPECT_EQ(r.sampler, image::Sampler::kDpmpp2mKarras);  // the catalog's
  EXPECT_TRUE(ignored.empty());

  auto result = engine.Generate(r);
  ASSERT_TRUE(result.ok());
  Json titan = RenderImageResponse(ImageFamily::kTitanV1, *result);
  ASSERT_EQ(titan["images"].size(), 3u);
  EXPECT_TRUE(titan["error"].is_null());
  auto png = auth::Base64Decode(titan["images"][2].get<std::string>());
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(*png, "\x89PNGa fox|fog|9");  // image i has seed + i
  Json omitted = RenderImageResponse(ImageFamily::kTitanV1, *result, true);
  EXPECT_EQ(omitted["images"][0], "<image omitted: 15 bytes>");
}

TEST(ImageRequest, StabilityStepsSeedsAndArtifacts) {
  FakeImageEngine engine;
  catalog::ModelEntry e = Entry();
  e.image_family = ImageFamily::kStabilitySdxl;
  ImagePlan p = MustParse(ImageFamily::kStabilitySdxl,
                          R"({"text_prompts":[{"text":"a"}],"steps":3,"samples":2,"seed":11,
                              "width":256,"height":384,"cfg_scale":9})");
  std::vector<std::string> ignored;
  auto info = engine.Describe("m");  // sd-turbo
  image::ImageRequest r = BuildImageRequest(p, e, &*info, &ignored);
  EXPECT_EQ(r.steps, 3);
  EXPECT_EQ(r.width, 256);
  EXPECT_EQ(r.height, 384);
  // SD-Turbo runs without guidance: the body's cfg_scale is not applied, and that is said.
  EXPECT_LT(r.cfg_scale, 0);
  ASSERT_EQ(ignored.size(), 1u);
  EXPECT_EQ(ignored[0], "cfg scale: SD-Turbo models run without guidance");
  auto result = engine.Generate(r);
  ASSERT_TRUE(result.ok());
  Json out = RenderImageResponse(ImageFamily::kStabilitySdxl, *result);
  EXPECT_EQ(out["result"], "success");
  ASSERT_EQ(out["artifacts"].size(), 2u);
  EXPECT_EQ(out["artifacts"][1]["seed"], 12);
  EXPECT_EQ(out["artifacts"][1]["finishReason"], "SUCCESS");
  EXPECT_EQ(*auth::Base64Decode(out["artifacts"][0]["base64"].get<std::string>()), "\x89PNGa||11");
  // No seed: a random one, different between requests (1 in 4e9 to collide).
  ImagePlan random = MustParse(ImageFamily::kStabilitySdxl, R"({"text_prompts":[{"text":"a"}]})");
  uint64_t s1 = BuildImageRequest(random, e, nullptr, nullptr).seed;
  uint64_t s2 = BuildImageRequest(random, e, nullptr, nullptr).seed;
  EXPECT_NE(s1, s2);
  // Standard quality takes the catalog's standard steps; no info: 512x512.
  image::ImageRequest d = BuildImageRequest(random, e, nullptr, nullptr);
  EXPECT_EQ(d.steps, 1);
  EXPECT_EQ(d.width, 512);
}

TEST(ImageRequest, CancelledPollStopsTheFake) {
  FakeImageEngine engine;
  image::ImageRequest r;
  r.model = "m";
  r.count = 3;
  r.cancelled = [] { return true; };
  EXPECT_EQ(engine.Generate(r).status().code(), StatusCode::kCancelled);
}

TEST(PromptLanguage, Detection) {
  EXPECT_FALSE(LooksNonEnglish("a red fox in the snow, 4k, photorealistic"));
  EXPECT_FALSE(LooksNonEnglish("a café in Paris at night"));
  EXPECT_FALSE(LooksNonEnglish("1234 !!! 🙂"));
  EXPECT_FALSE(LooksNonEnglish(""));
  EXPECT_TRUE(LooksNonEnglish("눈 속의 붉은 여우"));
  EXPECT_TRUE(LooksNonEnglish("雪の中の赤いキツネ"));
  EXPECT_TRUE(LooksNonEnglish("雪中的红狐狸"));
  EXPECT_TRUE(LooksNonEnglish("рыжая лиса в снегу"));
  EXPECT_TRUE(LooksNonEnglish("κόκκινη αλεπού"));
  EXPECT_TRUE(LooksNonEnglish("ثعلب أحمر في الثلج"));
  EXPECT_TRUE(LooksNonEnglish("une photo de forêt enneigée, été, très détaillée, éclairée"));
  EXPECT_TRUE(LooksNonEnglish("ein roter Fuchs im Schnee"));
  EXPECT_TRUE(LooksNonEnglish("un zorro rojo en la nieve"));
  EXPECT_FALSE(LooksNonEnglish("a portrait of Juan de la Cruz in the rain"));
  // Mostly Korean with an English word, and mostly English with one Korean word.
  EXPECT_TRUE(LooksNonEnglish("귀여운 고양이 cat"));
  EXPECT_FALSE(LooksNonEnglish("a poster of a cute cat with the word 고 on it"));
  // Invalid UTF-8 does not crash it.
  EXPECT_FALSE(LooksNonEnglish(std::string("abc\xff\xfe", 5)));
}

TEST(PromptLanguage, CleanTranslationAndHeader) {
  EXPECT_EQ(CleanTranslation("\n  A red fox in the snow.  \nSecond line"),
            "A red fox in the snow.");
  EXPECT_EQ(CleanTranslation("Translation: \"a cat\""), "a cat");
  EXPECT_EQ(CleanTranslation("   \n\n"), "");
  EXPECT_EQ(CleanTranslation(std::string(600, 'x')).size(), 512u);
  EXPECT_FALSE(TranslationInstruction().empty());
  EXPECT_EQ(PercentEncodeHeader("a red fox, 여우"), "a%20red%20fox%2C%20%EC%97%AC%EC%9A%B0");
}

TEST(ImageErrors, ModelErrorMapping) {
  Status broken(StatusCode::kFailedPrecondition,
                "The image model m cannot be used: unet/diffusion_pytorch_model.safetensors is "
                "truncated",
                "ModelError");
  ErrorReply reply = MapStatus(broken);
  EXPECT_EQ(reply.http_status, 424);
  EXPECT_EQ(reply.type, "ModelErrorException");
  EXPECT_NE(reply.message.find("diffusion_pytorch_model.safetensors"), std::string::npos);
  EXPECT_EQ(MapStatus(Status::ResourceExhausted("queue full")).type, "ThrottlingException");
  EXPECT_EQ(MapStatus(Status::Unavailable("built without images")).type,
            "ServiceUnavailableException");
  EXPECT_EQ(MapStatus(Status::Unavailable("built without images")).http_status, 503);
}

}  // namespace
}  // namespace basalt::api
