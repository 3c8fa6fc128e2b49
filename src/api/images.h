// Image bodies of InvokeModel (shared/docs/bedrock-api.md B.4 and B.9): Amazon Titan Image
// Generator (v1, v2) TEXT_IMAGE and Stability SDXL text_prompts, parsed into an ImagePlan with
// the services' validation rules and wording, turned into an image::ImageRequest for the local
// diffusion pipeline, and the engine's PNGs rendered in each family's response shape.
//
// Prompts that are not English can be translated to English by a text model before they reach
// the image model (docs/images.md, "Prompts in other languages"); LooksNonEnglish decides.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/json_body.h"
#include "catalog/catalog.h"
#include "image/image.h"

namespace basalt::api {

struct ImagePlan {
  catalog::ImageFamily family = catalog::ImageFamily::kTitanV1;
  std::string prompt;
  std::string negative_prompt;
  int width = 0;  // 0: the model's native size
  int height = 0;
  int count = 1;
  std::optional<float> cfg_scale;  // absent: the model's default
  std::optional<int> steps;        // Stability `steps`; absent: from the quality
  std::string quality = "standard";
  // Titan: 0..2147483646 (default 42). Stability: 0..4294967295; 0 (the default) = random.
  std::optional<uint64_t> seed;
  image::Sampler sampler = image::Sampler::kDefault;
  // Request members accepted but not applied, with why ("style_preset: ..."), reported in the
  // X-Basalt-Ignored response header.
  std::vector<std::string> ignored;
};

// Parses `body` for `family` (not kNone). kInvalidArgument in the service's wording
// ("Malformed input request: #/textToImageParams/text: expected maxLength: 512, actual: 600,
// please reformat your input and try again.") naming the offending key.
// `any_size` (Basalt's own callers: app widgets) lets Titan bodies name any size the pipeline
// makes (multiples of 64, 128..1536) instead of Titan's list.
StatusOr<ImagePlan> ParseImageBody(catalog::ImageFamily family, const Json& body,
                                   bool any_size = false);

// Sizes Amazon Titan Image Generator accepts (width, height).
const std::vector<std::pair<int, int>>& TitanImageSizes();

// The engine request for `plan` on catalog entry `entry`: size (the model's `native_size`
// when the body named none), steps (Stability `steps`, else the catalog's steps for the
// quality, else the model's default), guidance (the body's, except for SD-Turbo models, which
// are distilled to run without it: then the model's and a note in `*ignored`), sampler, seed
// (a random one when the body asks for it).
image::ImageRequest BuildImageRequest(const ImagePlan& plan, const catalog::ModelEntry& entry,
                                      const image::ImageModelInfo* info,
                                      std::vector<std::string>* ignored);

// The InvokeModel response for the generated images: Titan {"images": [base64 PNG], "error":
// null}; Stability {"result": "success", "artifacts": [{"seed", "base64", "finishReason"}]}.
// With `omit_images` each image becomes "<image omitted: N bytes>" (invocation logs without
// image data delivery).
Json RenderImageResponse(catalog::ImageFamily family, const image::ImageResult& result,
                         bool omit_images = false);

// True when `text` is probably not English: at least a fifth of its letters belong to a
// non-Latin script (Hangul, CJK, kana, Cyrillic, Greek, Arabic, Hebrew, Thai, Devanagari, ...),
// more than a quarter are accented Latin letters, or it has more function words of other
// Latin-script languages ("de", "la", "und", "con", ...) than English ones ("the", "of", "a",
// ...). Digits, punctuation, emoji and the odd "café" in English text do not count.
bool LooksNonEnglish(std::string_view text);

// The instruction given to the translator model (temperature 0), and the clean-up of its
// answer: the first non-empty line, without quotes or a "Translation:" label, at most 512
// characters. "" when nothing usable came back.
std::string TranslationInstruction();
std::string CleanTranslation(std::string_view answer);

// UTF-8 percent-encoded for a header value (RFC 3986 unreserved characters stay as they are).
std::string PercentEncodeHeader(std::string_view text);

}  // namespace basalt::api
