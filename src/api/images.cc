// Image bodies (Titan Image Generator TEXT_IMAGE, Stability SDXL): parsing with the services'
// validation wording, the engine request, the responses, and the prompt-language helpers.
#include "api/images.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <random>
#include <set>

#include "api/call.h"
#include "api/chat.h"
#include "api/errors.h"
#include "api/generation.h"
#include "api/invoke_body.h"
#include "auth/sigv4.h"
#include "http/client.h"

namespace basalt::api {
namespace {

using catalog::ImageFamily;

constexpr size_t kTitanMaxPrompt = 512;
constexpr int64_t kTitanMaxSeed = 2147483646;
constexpr int kTitanDefaultSeed = 42;
constexpr size_t kStabilityMaxPrompt = 2000;
constexpr size_t kStabilityMaxPrompts = 10;
constexpr int kMaxImages = 5;  // Titan's limit, and the pipeline's
constexpr int kMinSide = 128;
constexpr int kMaxSide = 1536;

// The number of characters (code points) of UTF-8 text, as the services count lengths.
size_t CharCount(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

StatusOr<std::optional<std::string>> BoundedText(const JsonReader& r, const char* key,
                                                 size_t max_chars, bool required) {
  std::optional<std::string> text;
  BASALT_ASSIGN_OR_RETURN(text, r.String(key, required));
  if (!text) return text;
  size_t n = CharCount(*text);
  if (required && n == 0)
    return MalformedInput(r.PathOf(key) + ": expected minLength: 1, actual: 0");
  if (n > max_chars) {
    return MalformedInput(r.PathOf(key) + ": expected maxLength: " + std::to_string(max_chars) +
                          ", actual: " + std::to_string(n));
  }
  return text;
}

Status UnsupportedTask(const std::string& task) {
  return Status::InvalidArgument(
      "Basalt does not support the taskType " + task +
      " yet: its image models generate images from text only (taskType TEXT_IMAGE).");
}

StatusOr<ImagePlan> ParseTitan(ImageFamily family, const Json& body, bool any_size) {
  JsonReader r(body, "#");
  ImagePlan plan;
  plan.family = family;
  std::optional<std::string> task;
  BASALT_ASSIGN_OR_RETURN(task, r.String("taskType", true));
  const bool v2 = family == ImageFamily::kTitanV2;
  static const char* kV1Tasks[] = {"TEXT_IMAGE", "INPAINTING", "OUTPAINTING", "IMAGE_VARIATION"};
  static const char* kV2Tasks[] = {"COLOR_GUIDED_GENERATION", "BACKGROUND_REMOVAL"};
  auto in = [&](const auto& list) {
    return std::any_of(std::begin(list), std::end(list), [&](const char* t) { return *task == t; });
  };
  if (!in(kV1Tasks) && !(v2 && in(kV2Tasks))) {
    return MalformedInput("#/taskType: " + *task + " is not a valid enum value");
  }
  if (*task != "TEXT_IMAGE") return UnsupportedTask(*task);
  BASALT_RETURN_IF_ERROR(r.OnlyKeys({"taskType", "textToImageParams", "imageGenerationConfig"}));

  const Json* params = nullptr;
  BASALT_ASSIGN_OR_RETURN(params, r.Object("textToImageParams", true));
  JsonReader p(*params, "#/textToImageParams");
  if (v2) {
    for (const char* key : {"conditionImage", "controlMode", "controlStrength"}) {
      if (p.Has(key)) {
        return Status::InvalidArgument(
            std::string("Basalt does not support image conditioning (textToImageParams.") + key +
            ") yet: its image models generate images from text only.");
      }
    }
  }
  BASALT_RETURN_IF_ERROR(
      v2 ? p.OnlyKeys({"text", "negativeText", "conditionImage", "controlMode", "controlStrength"})
         : p.OnlyKeys({"text", "negativeText"}));
  std::optional<std::string> text, negative;
  BASALT_ASSIGN_OR_RETURN(text, BoundedText(p, "text", kTitanMaxPrompt, true));
  BASALT_ASSIGN_OR_RETURN(negative, BoundedText(p, "negativeText", kTitanMaxPrompt, false));
  plan.prompt = std::move(*text);
  if (negative) plan.negative_prompt = std::move(*negative);

  const Json* config = nullptr;
  BASALT_ASSIGN_OR_RETURN(config, r.Object("imageGenerationConfig"));
  std::optional<int64_t> width, height;
  plan.seed = kTitanDefaultSeed;
  if (config != nullptr) {
    JsonReader c(*config, "#/imageGenerationConfig");
    BASALT_RETURN_IF_ERROR(
        c.OnlyKeys({"numberOfImages", "height", "width", "cfgScale", "seed", "quality"}));
    std::optional<int64_t> count, seed;
    std::optional<double> cfg;
    std::optional<std::string> quality;
    BASALT_ASSIGN_OR_RETURN(count, c.Integer("numberOfImages", 1, kMaxImages));
    BASALT_ASSIGN_OR_RETURN(width, c.Integer("width", 1, 4096));
    BASALT_ASSIGN_OR_RETURN(height, c.Integer("height", 1, 4096));
    BASALT_ASSIGN_OR_RETURN(cfg, c.Number("cfgScale", 1.1, 10.0));
    BASALT_ASSIGN_OR_RETURN(seed, c.Integer("seed", 0, kTitanMaxSeed));
    BASALT_ASSIGN_OR_RETURN(quality, c.String("quality"));
    if (count) plan.count = static_cast<int>(*count);
    if (cfg) plan.cfg_scale = static_cast<float>(*cfg);
    if (seed) plan.seed = static_cast<uint64_t>(*seed);
    if (quality) {
      if (*quality != "standard" && *quality != "premium") {
        return MalformedInput("#/imageGenerationConfig/quality: " + *quality +
                              " is not a valid enum value");
      }
      plan.quality = *quality;
    }
  }
  if (width || height) {
    // Titan takes its own list of sizes; one side alone pairs with the other's default (1024
    // on Titan, so only 1024-wide or -high sizes pass that way).
    const int w = static_cast<int>(width.value_or(1024));
    const int h = static_cast<int>(height.value_or(1024));
    const auto& sizes = TitanImageSizes();
    const std::string size = std::to_string(w) + "x" + std::to_string(h);
    const bool pipeline_size = w >= kMinSide && w <= kMaxSide && h >= kMinSide && h <= kMaxSide;
    if (!(any_size && pipeline_size) &&
        std::find(sizes.begin(), sizes.end(), std::pair{w, h}) == sizes.end()) {
      return MalformedInput("#/imageGenerationConfig: " + size +
                            " (width x height) is not a supported image size");
    }
    if (w % 64 != 0 || h % 64 != 0) {
      return MalformedInput("#/imageGenerationConfig: " + size +
                            " (width x height) is not supported by this server: its diffusion "
                            "pipeline needs sides in multiples of 64");
    }
    plan.width = w;
    plan.height = h;
  }
  return plan;
}

StatusOr<image::Sampler> StabilitySampler(const std::string& name, const std::string& path) {
  if (name == "K_EULER") return image::Sampler::kEuler;
  if (name == "K_EULER_ANCESTRAL") return image::Sampler::kEulerAncestral;
  if (name == "K_DPMPP_2M") return image::Sampler::kDpmpp2mKarras;
  static const char* kKnown[] = {
      "DDIM",   "DDPM",  "K_DPMPP_2S_ANCESTRAL", "K_DPM_2", "K_DPM_2_ANCESTRAL",
      "K_HEUN", "K_LMS", "K_DPMPP_SDE"};
  if (std::none_of(std::begin(kKnown), std::end(kKnown),
                   [&](const char* k) { return name == k; })) {
    return MalformedInput(path + ": " + name + " is not a valid enum value");
  }
  return Status::InvalidArgument("The sampler " + name +
                                 " is not available on this server: use K_EULER, "
                                 "K_EULER_ANCESTRAL or K_DPMPP_2M (Karras sigmas).");
}

StatusOr<ImagePlan> ParseStability(const Json& body) {
  JsonReader r(body, "#");
  ImagePlan plan;
  plan.family = ImageFamily::kStabilitySdxl;
  for (const char* key : {"init_image", "init_image_mode", "image_strength", "step_schedule_start",
                          "step_schedule_end", "mask_source", "mask_image"}) {
    if (r.Has(key)) {
      return Status::InvalidArgument(std::string("Basalt does not support image-to-image (") + key +
                                     ") yet: its image models generate images from text "
                                     "only.");
    }
  }
  BASALT_RETURN_IF_ERROR(
      r.OnlyKeys({"text_prompts", "height", "width", "cfg_scale", "clip_guidance_preset", "sampler",
                  "samples", "seed", "steps", "style_preset", "extras"}));
  const Json* prompts = nullptr;
  BASALT_ASSIGN_OR_RETURN(prompts, r.Array("text_prompts", true));
  if (prompts->empty()) return MalformedInput("#/text_prompts: expected minItems: 1, actual: 0");
  if (prompts->size() > kStabilityMaxPrompts) {
    return MalformedInput(
        "#/text_prompts: expected maxItems: " + std::to_string(kStabilityMaxPrompts) +
        ", actual: " + std::to_string(prompts->size()));
  }
  // Positive weights make the prompt, negative ones the negative prompt; the pipeline has no
  // per-prompt weights, so their size only orders nothing and is otherwise not applied.
  bool weighted = false;
  for (size_t i = 0; i < prompts->size(); ++i) {
    const Json& item = (*prompts)[i];
    const std::string path = "#/text_prompts/" + std::to_string(i);
    if (!item.is_object()) {
      return MalformedInput(path + ": expected type: JSONObject, found: " + JsonTypeName(item));
    }
    JsonReader t(item, path);
    BASALT_RETURN_IF_ERROR(t.OnlyKeys({"text", "weight"}));
    std::optional<std::string> text;
    std::optional<double> weight;
    BASALT_ASSIGN_OR_RETURN(text, BoundedText(t, "text", kStabilityMaxPrompt, true));
    BASALT_ASSIGN_OR_RETURN(weight, t.Number("weight", -10.0, 10.0));
    const double w = weight.value_or(1.0);
    if (w != 1.0 && w != -1.0 && w != 0.0) weighted = true;
    if (w == 0) continue;
    std::string& dst = w > 0 ? plan.prompt : plan.negative_prompt;
    if (!dst.empty()) dst += ", ";
    dst += *text;
  }
  if (plan.prompt.empty()) {
    return MalformedInput("#/text_prompts: at least one prompt needs a positive weight");
  }
  if (weighted) {
    plan.ignored.push_back(
        "text_prompts weight: only its sign is used (positive: prompt, negative: negative "
        "prompt)");
  }
  std::optional<int64_t> width, height, samples, seed, steps;
  std::optional<double> cfg;
  std::optional<std::string> sampler, style, clip;
  BASALT_ASSIGN_OR_RETURN(width, r.Integer("width", kMinSide, kMaxSide));
  BASALT_ASSIGN_OR_RETURN(height, r.Integer("height", kMinSide, kMaxSide));
  BASALT_ASSIGN_OR_RETURN(cfg, r.Number("cfg_scale", 0.0, 35.0));
  BASALT_ASSIGN_OR_RETURN(samples, r.Integer("samples", 1, 10));
  BASALT_ASSIGN_OR_RETURN(seed, r.Integer("seed", 0, 4294967295LL));
  BASALT_ASSIGN_OR_RETURN(steps, r.Integer("steps", 1, 50));
  BASALT_ASSIGN_OR_RETURN(sampler, r.String("sampler"));
  BASALT_ASSIGN_OR_RETURN(style, r.String("style_preset"));
  BASALT_ASSIGN_OR_RETURN(clip, r.String("clip_guidance_preset"));
  for (auto [name, value] : {std::pair{"width", width}, std::pair{"height", height}}) {
    if (value && *value % 64 != 0) {
      return MalformedInput(std::string("#/") + name + ": " + std::to_string(*value) +
                            " is not a multiple of 64");
    }
  }
  if (width) plan.width = static_cast<int>(*width);
  if (height) plan.height = static_cast<int>(*height);
  if (samples && *samples > kMaxImages) {
    return Status::InvalidArgument("samples " + std::to_string(*samples) +
                                   " is more than this server makes in one request (at most " +
                                   std::to_string(kMaxImages) + ").");
  }
  if (samples) plan.count = static_cast<int>(*samples);
  if (cfg) plan.cfg_scale = static_cast<float>(*cfg);
  if (seed && *seed != 0) plan.seed = static_cast<uint64_t>(*seed);  // 0: random
  if (steps) plan.steps = static_cast<int>(*steps);
  if (sampler) {
    BASALT_ASSIGN_OR_RETURN(plan.sampler, StabilitySampler(*sampler, "#/sampler"));
  }
  if (style) {
    static const char* kStyles[] = {
        "3d-model",  "analog-film", "anime",        "cinematic", "comic-book",  "digital-art",
        "enhance",   "fantasy-art", "isometric",    "line-art",  "low-poly",    "modeling-compound",
        "neon-punk", "origami",     "photographic", "pixel-art", "tile-texture"};
    if (std::none_of(std::begin(kStyles), std::end(kStyles),
                     [&](const char* s) { return *style == s; })) {
      return MalformedInput("#/style_preset: " + *style + " is not a valid enum value");
    }
    plan.ignored.push_back("style_preset " + *style +
                           ": style presets are Stability's own prompt additions; describe the "
                           "style in the prompt instead");
  }
  if (clip) {
    static const char* kClip[] = {"FAST_BLUE", "FAST_GREEN", "NONE",   "SIMPLE",
                                  "SLOW",      "SLOWER",     "SLOWEST"};
    if (std::none_of(std::begin(kClip), std::end(kClip),
                     [&](const char* s) { return *clip == s; })) {
      return MalformedInput("#/clip_guidance_preset: " + *clip + " is not a valid enum value");
    }
    if (*clip != "NONE") {
      plan.ignored.push_back("clip_guidance_preset " + *clip +
                             ": CLIP guidance is not available on this server");
    }
  }
  if (r.Has("extras")) plan.ignored.push_back("extras: not used by this server");
  return plan;
}

// Decodes one UTF-8 code point at s[i], advancing i; invalid bytes decode as U+FFFD.
uint32_t NextCodePoint(std::string_view s, size_t& i) {
  unsigned char c = static_cast<unsigned char>(s[i++]);
  if (c < 0x80) return c;
  int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : -1;
  if (extra < 0) return 0xFFFD;
  uint32_t cp = c & (0x3F >> extra);
  for (int k = 0; k < extra; ++k) {
    if (i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3F);
  }
  return cp;
}

// Letters of scripts other than Latin (and the CJK/kana/Hangul blocks).
bool NonLatinLetter(uint32_t cp) {
  static const std::pair<uint32_t, uint32_t> kRanges[] = {
      {0x0370, 0x03FF},   // Greek
      {0x0400, 0x052F},   // Cyrillic
      {0x0530, 0x058F},   // Armenian
      {0x0590, 0x05FF},   // Hebrew
      {0x0600, 0x06FF},   // Arabic
      {0x0700, 0x08FF},   // Syriac, Thaana, N'Ko, Arabic supplements
      {0x0900, 0x0DFF},   // Devanagari .. Sinhala
      {0x0E00, 0x0EFF},   // Thai, Lao
      {0x0F00, 0x0FFF},   // Tibetan
      {0x1000, 0x109F},   // Myanmar
      {0x10A0, 0x10FF},   // Georgian
      {0x1100, 0x11FF},   // Hangul Jamo
      {0x1200, 0x139F},   // Ethiopic
      {0x1780, 0x17FF},   // Khmer
      {0x3040, 0x30FF},   // Hiragana, Katakana
      {0x3100, 0x318F},   // Bopomofo, Hangul compatibility Jamo
      {0x31A0, 0x31FF},   // Bopomofo extended, Katakana extensions
      {0x3400, 0x4DBF},   // CJK extension A
      {0x4E00, 0x9FFF},   // CJK unified ideographs
      {0xA960, 0xA97F},   // Hangul Jamo extended A
      {0xAC00, 0xD7FF},   // Hangul syllables, Jamo extended B
      {0xF900, 0xFAFF},   // CJK compatibility ideographs
      {0xFF66, 0xFFDC},   // half-width Katakana and Hangul
      {0x20000, 0x3134F}  // CJK extensions B..G
  };
  return std::any_of(std::begin(kRanges), std::end(kRanges),
                     [cp](const auto& r) { return cp >= r.first && cp <= r.second; });
}

bool AccentedLatinLetter(uint32_t cp) {
  return (cp >= 0x00C0 && cp <= 0x024F && cp != 0x00D7 && cp != 0x00F7) ||
         (cp >= 0x1E00 && cp <= 0x1EFF);
}

}  // namespace

const std::vector<std::pair<int, int>>& TitanImageSizes() {
  static const std::vector<std::pair<int, int>> kSizes = {
      {1024, 1024}, {768, 768},  {512, 512},  {768, 1152}, {384, 576},  {1152, 768}, {576, 384},
      {768, 1280},  {384, 640},  {1280, 768}, {640, 384},  {896, 1152}, {448, 576},  {1152, 896},
      {576, 448},   {768, 1408}, {384, 704},  {1408, 768}, {704, 384},  {640, 1408}, {320, 704},
      {1408, 640},  {704, 320},  {1152, 640}, {1173, 640}};
  return kSizes;
}

StatusOr<ImagePlan> ParseImageBody(ImageFamily family, const Json& body, bool any_size) {
  switch (family) {
    case ImageFamily::kTitanV1:
    case ImageFamily::kTitanV2:
      return ParseTitan(family, body, any_size);
    case ImageFamily::kStabilitySdxl:
      return ParseStability(body);
    case ImageFamily::kNone:
      break;
  }
  return Status::Internal("not an image model");
}

image::ImageRequest BuildImageRequest(const ImagePlan& plan, const catalog::ModelEntry& entry,
                                      const image::ImageModelInfo* info,
                                      std::vector<std::string>* ignored) {
  image::ImageRequest req;
  req.model = entry.engine_model;
  req.prompt = plan.prompt;
  req.negative_prompt = plan.negative_prompt;
  const int native = info != nullptr && info->native_size > 0 ? info->native_size : 512;
  req.width = plan.width > 0 ? plan.width : native;
  req.height = plan.height > 0 ? plan.height : native;
  req.count = plan.count;
  if (plan.steps) {
    req.steps = *plan.steps;
  } else {
    req.steps = plan.quality == "premium" ? entry.image.steps_premium : entry.image.steps_standard;
  }
  const bool turbo =
      (info != nullptr && info->variant == "sd-turbo") || entry.image.variant == "sd-turbo";
  if (plan.cfg_scale && turbo) {
    // SD-Turbo is distilled to run without classifier-free guidance: a guidance scale meant
    // for Titan (8 by default in many clients) would burn the image and double the cost.
    if (ignored != nullptr) {
      ignored->push_back("cfg scale: SD-Turbo models run without guidance");
    }
  } else if (plan.cfg_scale) {
    req.cfg_scale = *plan.cfg_scale;
  }
  if (req.cfg_scale < 0 && entry.image.cfg_scale > 0) req.cfg_scale = entry.image.cfg_scale;
  req.sampler = plan.sampler;
  if (req.sampler == image::Sampler::kDefault && !entry.image.sampler.empty()) {
    auto s = image::ParseSampler(entry.image.sampler);
    if (s.ok()) req.sampler = *s;
  }
  if (plan.seed) {
    req.seed = *plan.seed;
  } else {
    static thread_local std::mt19937_64 rng(std::random_device{}());
    req.seed = rng() % 4294967295ULL + 1;
  }
  return req;
}

Json RenderImageResponse(ImageFamily family, const image::ImageResult& result, bool omit_images) {
  auto encode = [&](const std::string& png) -> std::string {
    if (omit_images) return "<image omitted: " + std::to_string(png.size()) + " bytes>";
    return auth::Base64Encode(png);
  };
  if (family == ImageFamily::kStabilitySdxl) {
    Json artifacts = Json::array();
    for (size_t i = 0; i < result.png.size(); ++i) {
      artifacts.push_back({{"seed", i < result.seeds.size() ? result.seeds[i] : 0},
                           {"base64", encode(result.png[i])},
                           {"finishReason", "SUCCESS"}});
    }
    return {{"result", "success"}, {"artifacts", std::move(artifacts)}};
  }
  Json images = Json::array();
  for (const std::string& png : result.png) images.push_back(encode(png));
  return {{"images", std::move(images)}, {"error", nullptr}};
}

bool LooksNonEnglish(std::string_view text) {
  size_t letters = 0, non_latin = 0, accented = 0;
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = NextCodePoint(text, i);
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) {
      ++letters;
    } else if (NonLatinLetter(cp)) {
      ++letters;
      ++non_latin;
    } else if (AccentedLatinLetter(cp)) {
      ++letters;
      ++accented;
    }
  }
  if (letters == 0) return false;
  // One CJK character is a word: a fifth of the letters is a good part of the text.
  if (non_latin * 5 >= letters || accented * 4 > letters) return true;
  // Latin-script text: common function words of English against those of the other large
  // Latin-script languages (French, Spanish, Portuguese, Italian, German, Dutch, ...).
  static const std::set<std::string> kEnglish = {
      "a",  "an",  "the",  "of",    "in",   "on",  "with", "and", "at",    "to",   "is",
      "by", "for", "from", "under", "over", "its", "his",  "her", "their", "this", "some"};
  static const std::set<std::string> kOther = {
      "de",  "la",  "le",  "les", "des", "du",  "une",  "un",  "et",  "avec", "dans",
      "sur", "el",  "los", "las", "en",  "y",   "con",  "una", "del", "por",  "para",
      "um",  "uma", "com", "os",  "das", "dos", "il",   "lo",  "gli", "di",   "della",
      "nel", "der", "die", "und", "mit", "ein", "eine", "im",  "auf", "het",  "een",
      "van", "och", "ett", "och", "w",   "na",  "z",    "ve",  "bir", "ve",   "ile"};
  size_t english = 0, other = 0;
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    english += kEnglish.count(word);
    other += kOther.count(word);
    word.clear();
  };
  for (char c : text) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if ((static_cast<unsigned char>(c) & 0x80) != 0) {
      word += c;  // part of an accented letter: keeps "été" one (non-matching) word
    } else {
      flush();
    }
  }
  flush();
  return other > english;
}

std::string TranslationInstruction() {
  return "You translate descriptions of pictures into English. Reply with the English "
         "translation only, on one line, without quotes or comments.";
}

std::string CleanTranslation(std::string_view answer) {
  std::string line;
  size_t pos = 0;
  while (pos <= answer.size()) {
    size_t nl = answer.find('\n', pos);
    std::string_view l = answer.substr(pos, nl == std::string_view::npos ? answer.npos : nl - pos);
    size_t b = l.find_first_not_of(" \t\r");
    if (b != std::string_view::npos) {
      line = std::string(l.substr(b, l.find_last_not_of(" \t\r") - b + 1));
      break;
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  for (const char* label : {"English translation:", "Translation:", "English:"}) {
    if (line.rfind(label, 0) == 0) {
      line = line.substr(std::string_view(label).size());
      line.erase(0, line.find_first_not_of(' '));
    }
  }
  if (line.size() >= 2 && (line.front() == '"' || line.front() == '\'') &&
      line.back() == line.front()) {
    line = line.substr(1, line.size() - 2);
  }
  // At most 512 characters, cut at a character boundary.
  size_t chars = 0, i = 0;
  for (; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80 && ++chars > 512) break;
  }
  line.resize(i);
  return line;
}

std::string PercentEncodeHeader(std::string_view text) { return http::PercentEncode(text); }

namespace {

struct Translation {
  Status status;
  std::string text;  // the cleaned English text ("" when the answer was unusable)
  engine::Usage usage;
};

// Asks `model` (a text model of the catalog) for the English of `text`, greedily.
Translation Translate(engine::Engine& engine, const catalog::ModelEntry& model,
                      const std::string& text) {
  Translation out;
  PromptPlan plan;
  plan.system = TranslationInstruction();
  plan.messages = {{"user", text}};
  plan.sampling.temperature = 0;
  plan.sampling.max_tokens = 200;
  auto req = BuildGenerateRequest(engine, model.engine_model, plan);
  if (!req.ok()) {
    out.status = req.status();
    return out;
  }
  req->add_special = !StartsWithAny(req->prompt, {"<s>", "<|begin_of_text|>", "<bos>"});
  auto stream = std::make_shared<GenerationStream>();
  auto id = engine.Submit(std::move(*req), stream);
  if (!id.ok()) {
    out.status = id.status();
    return out;
  }
  std::string answer = stream->WaitAll();
  out.status = stream->status();
  out.usage = stream->usage();
  out.text = CleanTranslation(answer);
  return out;
}

std::string OutcomeOfImageStatus(const Status& st) {
  int http = MapStatus(st).http_status;
  if (http == 429) return "throttled";
  return http >= 500 ? "server_error" : "client_error";
}

}  // namespace

void BedrockApi::InvokeImage(Call& call, const catalog::ModelEntry& entry) {
  const std::string op = "InvokeModel";
  auto fail = [&](const Status& st) {
    FinishInvocation(call, op, entry.model_id, nullptr, st, OutcomeOfImageStatus(st), "");
    SendError(call, st, options_.clock());
  };
  if (deps_.images == nullptr) {
    return fail(Status::Unavailable("This server was started without image generation."));
  }
  StatusOr<Json> body = ParseJsonBody(call.request.body);
  if (!body.ok()) return fail(body.status());
  // App widgets (Basalt's own client) may ask for any size the pipeline makes.
  StatusOr<ImagePlan> plan = ParseImageBody(entry.image_family, *body, call.source == "app");
  if (!plan.ok()) return fail(plan.status());

  // Prompts in another language are translated to English first, unless the caller opts out.
  const std::string* opt = call.request.FindHeader("x-basalt-prompt-translation");
  const bool opted_out = opt != nullptr && Lower(*opt) == "off";
  const bool prompt_foreign = LooksNonEnglish(plan->prompt);
  const bool negative_foreign = LooksNonEnglish(plan->negative_prompt);
  const catalog::ModelEntry* translator = nullptr;
  if ((prompt_foreign || negative_foreign) && !opted_out && !options_.prompt_translator.empty()) {
    translator = catalog_->Find(options_.prompt_translator);
    if (translator != nullptr && (translator->embedding() || translator->image_model())) {
      translator = nullptr;
    }
  }
  if (deps_.quotas != nullptr) {
    call.quota.estimated_tokens =
        translator == nullptr
            ? 0
            : static_cast<int64_t>(plan->prompt.size() + plan->negative_prompt.size()) / 2 + 400;
    call.quota.images = plan->count;
    Status st = deps_.quotas->Admit(call.quota);
    if (!st.ok()) {
      if (deps_.metrics) {
        deps_.metrics->Record({entry.model_id, 0, 0, 0, 0, OutcomeOfImageStatus(st)});
      }
      return SendError(call, st, options_.clock());
    }
    call.quota_admitted = true;
  }

  GenerationResult usage;  // the translation's tokens, billed with the images
  std::string translation_state;
  std::string prompt_used;
  if ((prompt_foreign || negative_foreign) && opted_out) {
    translation_state = "off";
  } else if (prompt_foreign || negative_foreign) {
    if (translator == nullptr) {
      translation_state = "unavailable";
    } else {
      translation_state = "translated";
      for (auto [text, foreign] : {std::pair{&plan->prompt, prompt_foreign},
                                   std::pair{&plan->negative_prompt, negative_foreign}}) {
        if (!foreign) continue;
        Translation t = Translate(*engine_, *translator, *text);
        usage.usage.prompt_tokens += t.usage.prompt_tokens;
        usage.usage.completion_tokens += t.usage.completion_tokens;
        if (!t.status.ok() || t.text.empty()) {
          spdlog::warn("request {}: prompt translation with {} failed: {}", call.request_id,
                       translator->model_id, t.status.ok() ? "empty answer" : t.status.ToString());
          translation_state = "failed";
          continue;
        }
        *text = t.text;
      }
      prompt_used = plan->prompt;
      if (!plan->negative_prompt.empty() && negative_foreign) {
        prompt_used += " | negative: " + plan->negative_prompt;
      }
    }
  }

  auto info = deps_.images->Describe(entry.engine_model);
  std::vector<std::string> ignored = plan->ignored;
  image::ImageRequest req = BuildImageRequest(*plan, entry, info.ok() ? &*info : nullptr, &ignored);
  req.account = call.principal.account_id;
  req.cancelled = [writer = call.writer] { return writer->Closed(); };
  call.image_size = std::to_string(req.width) + "x" + std::to_string(req.height);
  call.image_quality = plan->quality;
  call.prompt_used = prompt_used;

  StatusOr<image::ImageResult> result = deps_.images->Generate(req);
  usage.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - call.start)
                         .count();
  if (!result.ok()) {
    Status st = result.status();
    if (st.code() == StatusCode::kFailedPrecondition) {
      // A corrupt, truncated or incomplete checkpoint: the model, not the request, is at fault.
      st = Status(StatusCode::kFailedPrecondition,
                  "The image model " + entry.model_id + " cannot be used: " + st.message(),
                  "ModelError");
    }
    const bool gone = st.code() == StatusCode::kCancelled && call.writer->Closed();
    // Images are billed when delivered: a job cancelled part-way made none that count.
    FinishInvocation(call, op, entry.model_id, &usage, st,
                     gone ? "client_gone" : OutcomeOfImageStatus(st), "");
    if (gone) return;
    return SendError(call, st, options_.clock());
  }
  call.images = static_cast<int64_t>(result->png.size());
  call.image_steps = result->steps;
  call.image_size = std::to_string(result->width) + "x" + std::to_string(result->height);
  std::string out_body = RenderImageResponse(entry.image_family, *result)
                             .dump(-1, ' ', false, Json::error_handler_t::replace);
  call.output_without_images = RenderImageResponse(entry.image_family, *result, true)
                                   .dump(-1, ' ', false, Json::error_handler_t::replace);
  const bool gone = call.writer->Closed();
  Status recorded = FinishInvocation(call, op, entry.model_id, &usage, Status::Ok(),
                                     gone ? "client_gone" : "success", out_body);
  if (gone) return;
  if (!recorded.ok()) return SendError(call, recorded, options_.clock());
  auto headers = BaseHeaders(call.request_id, "application/json", options_.clock());
  for (auto [h, out] : {std::pair{"x-amzn-bedrock-performanceconfig-latency",
                                  "X-Amzn-Bedrock-PerformanceConfig-Latency"},
                        std::pair{"x-amzn-bedrock-service-tier", "X-Amzn-Bedrock-Service-Tier"}}) {
    if (const std::string* v = call.request.FindHeader(h)) headers.push_back({out, *v});
  }
  headers.push_back({"X-Amzn-Bedrock-Invocation-Latency", std::to_string(usage.latency_ms)});
  if (usage.usage.prompt_tokens > 0) {
    headers.push_back(
        {"X-Amzn-Bedrock-Input-Token-Count", std::to_string(usage.usage.prompt_tokens)});
    headers.push_back(
        {"X-Amzn-Bedrock-Output-Token-Count", std::to_string(usage.usage.completion_tokens)});
  }
  if (!translation_state.empty()) {
    headers.push_back({"X-Basalt-Prompt-Translation", translation_state});
  }
  if (!prompt_used.empty()) {
    headers.push_back({"X-Basalt-Prompt-Used", PercentEncodeHeader(prompt_used)});
  }
  if (!ignored.empty()) {
    std::string list;
    for (const std::string& note : ignored) list += (list.empty() ? "" : "; ") + note;
    headers.push_back({"X-Basalt-Ignored", list});  // ASCII: enum values and fixed notes
  }
  headers.push_back({"X-Basalt-Image-Steps", std::to_string(result->steps)});
  call.responded = true;
  call.writer->Respond(200, std::move(headers), std::move(out_body));
}

}  // namespace basalt::api
