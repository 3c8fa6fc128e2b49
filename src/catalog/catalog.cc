#include "catalog/catalog.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace basalt::catalog {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kDefaultCatalog = R"json({
  "_comment": "Basalt model catalog. Each entry is one local model (a GGUF file; for image models a diffusers folder or a .safetensors file) and the Bedrock model ids that reach it. Weights are looked up in the models folders (--models-dir). Several entries may list the same alias: the first one whose weights are present serves it. See docs/catalog.md.",
  "models": [
    {
      "modelId": "qwen.qwen2-5-0-5b-instruct-v1:0",
      "providerName": "Qwen",
      "modelName": "Qwen2.5 0.5B Instruct",
      "weights": "qwen2.5-0.5b-instruct-q4_k_m.gguf",
      "source": {"repo": "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "file": "qwen2.5-0.5b-instruct-q4_k_m.gguf"},
      "requestFamily": "meta-llama",
      "contextLength": 8192,
      "price": {"inputPer1kTokens": 0.0001, "outputPer1kTokens": 0.0002},
      "aliases": [
        {"modelId": "anthropic.claude-v2", "providerName": "Anthropic", "modelName": "Claude"},
        {"modelId": "anthropic.claude-v2:1", "providerName": "Anthropic", "modelName": "Claude"},
        {"modelId": "anthropic.claude-instant-v1", "providerName": "Anthropic", "modelName": "Claude Instant"},
        {"modelId": "anthropic.claude-3-haiku-20240307-v1:0", "providerName": "Anthropic", "modelName": "Claude 3 Haiku"},
        {"modelId": "anthropic.claude-3-5-haiku-20241022-v1:0", "providerName": "Anthropic", "modelName": "Claude 3.5 Haiku"},
        {"modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0", "providerName": "Anthropic", "modelName": "Claude 3.5 Sonnet"},
        {"modelId": "amazon.titan-text-express-v1", "providerName": "Amazon", "modelName": "Titan Text G1 - Express"},
        {"modelId": "amazon.titan-text-lite-v1", "providerName": "Amazon", "modelName": "Titan Text G1 - Lite"},
        {"modelId": "amazon.titan-text-premier-v1:0", "providerName": "Amazon", "modelName": "Titan Text Premier"},
        {"modelId": "meta.llama3-8b-instruct-v1:0", "providerName": "Meta", "modelName": "Llama 3 8B Instruct"},
        {"modelId": "mistral.mistral-7b-instruct-v0:2", "providerName": "Mistral AI", "modelName": "Mistral 7B Instruct"}
      ]
    },
    {
      "modelId": "meta.llama3-2-1b-instruct-v1:0",
      "providerName": "Meta",
      "modelName": "Llama 3.2 1B Instruct",
      "weights": "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
      "source": {"repo": "bartowski/Llama-3.2-1B-Instruct-GGUF", "file": "Llama-3.2-1B-Instruct-Q4_K_M.gguf"},
      "requestFamily": "meta-llama",
      "contextLength": 8192,
      "price": {"inputPer1kTokens": 0.0001, "outputPer1kTokens": 0.0001}
    },
    {
      "modelId": "tinystories.stories-260k-v1:0",
      "providerName": "TinyStories",
      "modelName": "Stories 260K (demo)",
      "weights": "stories260K.gguf",
      "source": {"repo": "ggml-org/models", "file": "tinyllamas/stories260K.gguf"},
      "requestFamily": "meta-llama",
      "contextLength": 512,
      "price": {"inputPer1kTokens": 0.00001, "outputPer1kTokens": 0.00002},
      "aliases": [
        {"modelId": "anthropic.claude-v2", "providerName": "Anthropic", "modelName": "Claude"},
        {"modelId": "anthropic.claude-v2:1", "providerName": "Anthropic", "modelName": "Claude"},
        {"modelId": "anthropic.claude-instant-v1", "providerName": "Anthropic", "modelName": "Claude Instant"},
        {"modelId": "anthropic.claude-3-haiku-20240307-v1:0", "providerName": "Anthropic", "modelName": "Claude 3 Haiku"},
        {"modelId": "amazon.titan-text-express-v1", "providerName": "Amazon", "modelName": "Titan Text G1 - Express"},
        {"modelId": "amazon.titan-text-lite-v1", "providerName": "Amazon", "modelName": "Titan Text G1 - Lite"},
        {"modelId": "meta.llama3-8b-instruct-v1:0", "providerName": "Meta", "modelName": "Llama 3 8B Instruct"},
        {"modelId": "mistral.mistral-7b-instruct-v0:2", "providerName": "Mistral AI", "modelName": "Mistral 7B Instruct"}
      ]
    },
    {
      "modelId": "nomic.nomic-embed-text-v1-5",
      "providerName": "Nomic",
      "modelName": "nomic-embed-text v1.5",
      "weights": "nomic-embed-text-v1.5.Q8_0.gguf",
      "source": {"repo": "nomic-ai/nomic-embed-text-v1.5-GGUF", "file": "nomic-embed-text-v1.5.Q8_0.gguf"},
      "requestFamily": "titan-embed-v2",
      "contextLength": 2048,
      "price": {"inputPer1kTokens": 0.00002},
      "aliases": [
        {"modelId": "amazon.titan-embed-text-v1", "modelName": "Titan Embeddings G1 - Text"},
        {"modelId": "amazon.titan-embed-text-v2:0", "modelName": "Titan Text Embeddings V2"},
        {"modelId": "cohere.embed-english-v3", "modelName": "Embed English"},
        {"modelId": "cohere.embed-multilingual-v3", "modelName": "Embed Multilingual"}
      ]
    },
    {
      "modelId": "stabilityai.sd-turbo-v1:0",
      "providerName": "Stability AI",
      "modelName": "SD-Turbo",
      "weights": "sd-turbo",
      "source": {"repo": "stabilityai/sd-turbo"},
      "requestFamily": "titan-image-v2",
      "outputModalities": ["IMAGE"],
      "image": {"variant": "sd-turbo", "steps": {"standard": 1, "premium": 4}},
      "price": {"inputPer1kTokens": 0.0001, "outputPer1kTokens": 0.0002, "perImage": {"512x512/standard": 0.008, "512x512/premium": 0.01, "*/standard": 0.01, "*/premium": 0.012}},
      "aliases": [
        {"modelId": "amazon.titan-image-generator-v1", "modelName": "Titan Image Generator G1"},
        {"modelId": "amazon.titan-image-generator-v2:0", "modelName": "Titan Image Generator G1 v2"},
        {"modelId": "stability.stable-diffusion-xl-v1", "modelName": "SDXL 1.0"}
      ]
    },
    {
      "modelId": "tinystories.stories-260k-embed-v1:0",
      "providerName": "TinyStories",
      "modelName": "Stories 260K embeddings (demo)",
      "weights": "stories260K.gguf",
      "source": {"repo": "ggml-org/models", "file": "tinyllamas/stories260K.gguf"},
      "requestFamily": "titan-embed-v2",
      "pooling": "mean",
      "contextLength": 512,
      "price": {"inputPer1kTokens": 0.00001},
      "aliases": [
        {"modelId": "amazon.titan-embed-text-v1", "modelName": "Titan Embeddings G1 - Text"},
        {"modelId": "amazon.titan-embed-text-v2:0", "modelName": "Titan Text Embeddings V2"},
        {"modelId": "cohere.embed-english-v3", "modelName": "Embed English"},
        {"modelId": "cohere.embed-multilingual-v3", "modelName": "Embed Multilingual"}
      ]
    }
  ]
}
)json";

// Finds `weights` in the models folders: a file, or with `allow_dir` also a folder (a
// diffusers model). "" when absent.
std::string ResolveWeights(const std::string& weights, const LoadOptions& options,
                           bool allow_dir = false) {
  fs::path p(weights);
  std::error_code ec;
  if (p.is_absolute()) return fs::exists(p, ec) ? p.string() : std::string();
  for (const auto& dir : options.models_dirs) {
    fs::path candidate = fs::path(dir) / p;
    if (fs::is_regular_file(candidate, ec) || (allow_dir && fs::is_directory(candidate, ec))) {
      return fs::absolute(candidate).lexically_normal().string();
    }
  }
  return std::string();
}

// "512x512/standard", "*/premium" or "*".
bool ValidImagePriceKey(const std::string& key) {
  if (key == "*") return true;
  size_t slash = key.find('/');
  if (slash == std::string::npos || slash + 1 >= key.size()) return false;
  std::string size = key.substr(0, slash);
  if (size == "*") return true;
  size_t x = size.find('x');
  if (x == std::string::npos || x == 0 || x + 1 >= size.size()) return false;
  return size.find_first_not_of("0123456789x") == std::string::npos &&
         size.find('x', x + 1) == std::string::npos;
}

Status FieldError(const std::string& where, const std::string& what) {
  return Status::InvalidArgument("catalog: " + where + ": " + what);
}

StatusOr<std::string> GetString(const json& obj, const char* key, const std::string& where,
                                bool required) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) return FieldError(where, std::string("missing \"") + key + "\"");
    return std::string();
  }
  if (!it->is_string()) return FieldError(where, std::string("\"") + key + "\" must be a string");
  return it->get<std::string>();
}

StatusOr<std::vector<std::string>> GetStringList(const json& obj, const char* key,
                                                 const std::string& where,
                                                 std::vector<std::string> fallback) {
  auto it = obj.find(key);
  if (it == obj.end()) return fallback;
  if (!it->is_array()) return FieldError(where, std::string("\"") + key + "\" must be a list");
  std::vector<std::string> out;
  for (const auto& v : *it) {
    if (!v.is_string()) return FieldError(where, std::string("\"") + key + "\" must hold strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

Status ApplyCommon(const json& obj, const std::string& where, ModelEntry* e) {
  auto provider = GetString(obj, "providerName", where, false);
  if (!provider.ok()) return provider.status();
  if (!provider->empty()) e->provider_name = *provider;
  auto name = GetString(obj, "modelName", where, false);
  if (!name.ok()) return name.status();
  if (!name->empty()) e->model_name = *name;
  auto fam = GetString(obj, "requestFamily", where, false);
  if (!fam.ok()) return fam.status();
  if (auto embed = ParseEmbedFamily(*fam)) {
    e->embed_family = *embed;
  } else if (auto image = ParseImageFamily(*fam)) {
    e->image_family = *image;
  } else if (!fam->empty()) {
    auto f = ParseRequestFamily(*fam);
    if (!f.ok()) return FieldError(where, f.status().message());
    e->family = *f;
  } else if (auto inferred = InferRequestFamily(e->model_id)) {
    e->family = *inferred;
  } else if (auto inferred_embed = InferEmbedFamily(e->model_id)) {
    e->embed_family = *inferred_embed;
  } else if (auto inferred_image = InferImageFamily(e->model_id)) {
    e->image_family = *inferred_image;
  }
  auto in = GetStringList(obj, "inputModalities", where, e->input_modalities);
  if (!in.ok()) return in.status();
  e->input_modalities = *in;
  auto out = GetStringList(obj, "outputModalities", where, e->output_modalities);
  if (!out.ok()) return out.status();
  e->output_modalities = *out;
  if (auto it = obj.find("responseStreamingSupported"); it != obj.end()) {
    if (!it->is_boolean())
      return FieldError(where, "\"responseStreamingSupported\" must be a bool");
    e->streaming = it->get<bool>();
  }
  if (obj.contains("regions")) {
    auto regions = GetStringList(obj, "regions", where, {});
    if (!regions.ok()) return regions.status();
    e->regions = *regions;
  }
  if (auto it = obj.find("useCaseFormRequired"); it != obj.end()) {
    if (!it->is_boolean()) return FieldError(where, "\"useCaseFormRequired\" must be a bool");
    e->use_case_form_required = it->get<bool>();
  } else {
    // Anthropic asks for a use-case form before first access, as on Bedrock.
    e->use_case_form_required = e->provider_name == "Anthropic";
  }
  if (auto it = obj.find("price"); it != obj.end()) {
    if (!it->is_object()) return FieldError(where, "\"price\" must be an object");
    for (auto [key, dst] : {std::pair{"inputPer1kTokens", &e->price.input_per_1k_tokens},
                            std::pair{"outputPer1kTokens", &e->price.output_per_1k_tokens}}) {
      auto p = it->find(key);
      if (p == it->end()) continue;
      if (!p->is_number() || p->get<double>() < 0) {
        return FieldError(where, std::string("\"price.") + key + "\" must be a number >= 0");
      }
      *dst = p->get<double>();
    }
    if (auto per = it->find("perImage"); per != it->end()) {
      if (!per->is_object()) return FieldError(where, "\"price.perImage\" must be an object");
      e->price.per_image.clear();
      for (auto p = per->begin(); p != per->end(); ++p) {
        if (!p->is_number() || p->get<double>() < 0) {
          return FieldError(where, "\"price.perImage." + p.key() + "\" must be a number >= 0");
        }
        if (!ValidImagePriceKey(p.key())) {
          return FieldError(where,
                            "\"price.perImage\" key \"" + p.key() +
                                "\" must be \"<W>x<H>/<quality>\", \"*/<quality>\" or \"*\"");
        }
        e->price.per_image[p.key()] = p->get<double>();
      }
    }
  }
  return Status::Ok();
}

// An entry is an image model exactly when it outputs IMAGE; image models do not stream.
Status CheckImage(const std::string& where, const ModelEntry& e) {
  const bool outputs_image = std::find(e.output_modalities.begin(), e.output_modalities.end(),
                                       "IMAGE") != e.output_modalities.end();
  if (outputs_image && !e.image_model()) {
    return FieldError(where,
                      "an IMAGE model needs an image requestFamily (titan-image-v1, "
                      "titan-image-v2 or stability-sdxl)");
  }
  if (!outputs_image && e.image_model()) {
    return FieldError(where, std::string("requestFamily ") + ImageFamilyName(e.image_family) +
                                 " is for image models: set outputModalities [\"IMAGE\"]");
  }
  if (e.image_model() && e.streaming) {
    return FieldError(where,
                      "image models do not stream: responseStreamingSupported must be false");
  }
  return Status::Ok();
}

// The catalog's "image" object of an image model.
Status ParseImageSettings(const json& m, const std::string& where, const LoadOptions& options,
                          ImageSettings* out) {
  auto it = m.find("image");
  if (it == m.end() || it->is_null()) return Status::Ok();
  if (!it->is_object()) return FieldError(where, "\"image\" must be an object");
  const json& o = *it;
  static const char* kKeys[] = {"variant", "tokenizer", "taeDecoder",
                                "steps",   "sampler",   "cfgScale"};
  for (auto k = o.begin(); k != o.end(); ++k) {
    if (std::none_of(std::begin(kKeys), std::end(kKeys),
                     [&](const char* a) { return k.key() == a; })) {
      return FieldError(where, "unknown key \"image." + k.key() +
                                   "\" (expected variant, tokenizer, taeDecoder, steps, sampler, "
                                   "cfgScale)");
    }
  }
  auto variant = GetString(o, "variant", where + ".image", false);
  if (!variant.ok()) return variant.status();
  if (!variant->empty()) {
    if (*variant != "auto" && *variant != "sd1" && *variant != "sd2" && *variant != "sd-turbo") {
      return FieldError(where, "\"image.variant\" must be auto, sd1, sd2 or sd-turbo");
    }
    out->variant = *variant;
  }
  auto sampler = GetString(o, "sampler", where + ".image", false);
  if (!sampler.ok()) return sampler.status();
  if (!sampler->empty() && *sampler != "euler" && *sampler != "euler_a" &&
      *sampler != "dpmpp_2m_karras") {
    return FieldError(where, "\"image.sampler\" must be euler, euler_a or dpmpp_2m_karras");
  }
  out->sampler = *sampler;
  for (auto [key, dst] : {std::pair{"tokenizer", &out->tokenizer_dir},
                          std::pair{"taeDecoder", &out->tae_decoder_path}}) {
    auto path = GetString(o, key, where + ".image", false);
    if (!path.ok()) return path.status();
    if (path->empty()) continue;
    *dst = ResolveWeights(*path, options, /*allow_dir=*/true);
    if (dst->empty()) {
      return FieldError(
          where, std::string("\"image.") + key + "\": " + *path + " is not in the models folders");
    }
  }
  if (auto steps = o.find("steps"); steps != o.end()) {
    if (!steps->is_object()) {
      return FieldError(where,
                        "\"image.steps\" must be an object {\"standard\": N, \"premium\": N}");
    }
    for (auto s = steps->begin(); s != steps->end(); ++s) {
      int* dst = s.key() == "standard"  ? &out->steps_standard
                 : s.key() == "premium" ? &out->steps_premium
                                        : nullptr;
      if (dst == nullptr) {
        return FieldError(where,
                          "\"image.steps\" keys are standard and premium, not \"" + s.key() + "\"");
      }
      if (!s->is_number_integer() || s->get<int64_t>() < 1 || s->get<int64_t>() > 150) {
        return FieldError(where, "\"image.steps." + s.key() + "\" must be an integer 1..150");
      }
      *dst = s->get<int>();
    }
  }
  if (auto cfg = o.find("cfgScale"); cfg != o.end()) {
    if (!cfg->is_number() || cfg->get<double>() < 0 || cfg->get<double>() > 30) {
      return FieldError(where, "\"image.cfgScale\" must be a number 0..30");
    }
    out->cfg_scale = cfg->get<float>();
  }
  return Status::Ok();
}

// An entry is an embedding model exactly when it outputs EMBEDDING, and then cannot stream.
Status CheckEmbedding(const std::string& where, const ModelEntry& e) {
  const bool outputs_embedding = std::find(e.output_modalities.begin(), e.output_modalities.end(),
                                           "EMBEDDING") != e.output_modalities.end();
  if (outputs_embedding && !e.embedding()) {
    return FieldError(where,
                      "an EMBEDDING model needs an embedding requestFamily (titan-embed-v1, "
                      "titan-embed-v2 or cohere-embed)");
  }
  if (!outputs_embedding && e.embedding()) {
    return FieldError(where, std::string("requestFamily ") + EmbedFamilyName(e.embed_family) +
                                 " is for embedding models: set outputModalities [\"EMBEDDING\"]");
  }
  if (e.embedding() && e.streaming) {
    return FieldError(where,
                      "embedding models do not stream: responseStreamingSupported must be "
                      "false");
  }
  return Status::Ok();
}

const char* InferProviderName(const std::string& id) {
  static const std::pair<const char*, const char*> kProviders[] = {
      {"anthropic.", "Anthropic"},    {"amazon.", "Amazon"},     {"meta.", "Meta"},
      {"mistral.", "Mistral AI"},     {"cohere.", "Cohere"},     {"ai21.", "AI21 Labs"},
      {"stability.", "Stability AI"}, {"deepseek.", "DeepSeek"}, {"qwen.", "Qwen"},
  };
  for (const auto& [prefix, name] : kProviders) {
    if (id.rfind(prefix, 0) == 0) return name;
  }
  return nullptr;
}

bool IsValidModelId(const std::string& id) {
  if (id.empty() || id.size() > 256) return false;
  for (char c : id) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':' ||
          c == '/')) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<EmbedFamily> ParseEmbedFamily(const std::string& name) {
  if (name == "titan-embed-v1") return EmbedFamily::kTitanV1;
  if (name == "titan-embed-v2") return EmbedFamily::kTitanV2;
  if (name == "cohere-embed") return EmbedFamily::kCohere;
  return std::nullopt;
}

const char* EmbedFamilyName(EmbedFamily family) {
  switch (family) {
    case EmbedFamily::kTitanV1:
      return "titan-embed-v1";
    case EmbedFamily::kTitanV2:
      return "titan-embed-v2";
    case EmbedFamily::kCohere:
      return "cohere-embed";
    case EmbedFamily::kNone:
      break;
  }
  return "";
}

std::optional<EmbedFamily> InferEmbedFamily(const std::string& id) {
  auto starts = [&](const char* p) { return id.rfind(p, 0) == 0; };
  if (starts("amazon.titan-embed-text-v1") || starts("amazon.titan-embed-g1-text")) {
    return EmbedFamily::kTitanV1;
  }
  if (starts("amazon.titan-embed-text-v2")) return EmbedFamily::kTitanV2;
  if (starts("cohere.embed-")) return EmbedFamily::kCohere;
  return std::nullopt;
}

std::optional<ImageFamily> ParseImageFamily(const std::string& name) {
  if (name == "titan-image-v1") return ImageFamily::kTitanV1;
  if (name == "titan-image-v2") return ImageFamily::kTitanV2;
  if (name == "stability-sdxl") return ImageFamily::kStabilitySdxl;
  return std::nullopt;
}

const char* ImageFamilyName(ImageFamily family) {
  switch (family) {
    case ImageFamily::kTitanV1:
      return "titan-image-v1";
    case ImageFamily::kTitanV2:
      return "titan-image-v2";
    case ImageFamily::kStabilitySdxl:
      return "stability-sdxl";
    case ImageFamily::kNone:
      break;
  }
  return "";
}

std::optional<ImageFamily> InferImageFamily(const std::string& id) {
  auto starts = [&](const char* p) { return id.rfind(p, 0) == 0; };
  if (starts("amazon.titan-image-generator-v1")) return ImageFamily::kTitanV1;
  if (starts("amazon.titan-image-generator-v2")) return ImageFamily::kTitanV2;
  if (starts("stability.stable-diffusion-xl")) return ImageFamily::kStabilitySdxl;
  return std::nullopt;
}

StatusOr<RequestFamily> ParseRequestFamily(const std::string& name) {
  if (name == "anthropic-text") return RequestFamily::kAnthropicText;
  if (name == "anthropic-messages") return RequestFamily::kAnthropicMessages;
  if (name == "titan-text") return RequestFamily::kTitanText;
  if (name == "meta-llama") return RequestFamily::kMetaLlama;
  if (name == "mistral") return RequestFamily::kMistral;
  return Status::InvalidArgument(
      "unknown requestFamily \"" + name +
      "\" (expected anthropic-text, anthropic-messages, titan-text, meta-llama, mistral; for "
      "embedding models titan-embed-v1, titan-embed-v2, cohere-embed; for image models "
      "titan-image-v1, titan-image-v2, stability-sdxl)");
}

const char* RequestFamilyName(RequestFamily family) {
  switch (family) {
    case RequestFamily::kAnthropicText:
      return "anthropic-text";
    case RequestFamily::kAnthropicMessages:
      return "anthropic-messages";
    case RequestFamily::kTitanText:
      return "titan-text";
    case RequestFamily::kMetaLlama:
      return "meta-llama";
    case RequestFamily::kMistral:
      return "mistral";
  }
  return "meta-llama";
}

std::optional<RequestFamily> InferRequestFamily(const std::string& id) {
  auto starts = [&](const char* p) { return id.rfind(p, 0) == 0; };
  if (starts("anthropic.claude-v2") || starts("anthropic.claude-instant")) {
    return RequestFamily::kAnthropicText;
  }
  if (starts("anthropic.")) return RequestFamily::kAnthropicMessages;
  if (starts("amazon.titan-text") || starts("amazon.titan-tg1")) return RequestFamily::kTitanText;
  if (starts("meta.")) return RequestFamily::kMetaLlama;
  if (starts("mistral.")) return RequestFamily::kMistral;
  return std::nullopt;
}

const char* Catalog::DefaultCatalogJson() { return kDefaultCatalog; }

StatusOr<std::shared_ptr<const Catalog>> Catalog::Parse(const std::string& text,
                                                        const LoadOptions& options) {
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
  if (root.is_discarded()) return Status::InvalidArgument("catalog: not valid JSON");
  if (!root.is_object()) return Status::InvalidArgument("catalog: top level must be an object");
  auto models = root.find("models");
  if (models == root.end() || !models->is_array()) {
    return Status::InvalidArgument("catalog: \"models\" must be a list");
  }
  auto cat = std::make_shared<Catalog>();
  std::map<std::string, bool> primary_ids;
  for (size_t i = 0; i < models->size(); ++i) {
    const json& m = (*models)[i];
    std::string where = "models[" + std::to_string(i) + "]";
    if (!m.is_object()) return FieldError(where, "must be an object");
    ModelEntry base;
    auto id = GetString(m, "modelId", where, true);
    if (!id.ok()) return id.status();
    if (!IsValidModelId(*id)) return FieldError(where, "invalid modelId \"" + *id + "\"");
    if (primary_ids.count(*id)) return FieldError(where, "duplicate modelId \"" + *id + "\"");
    primary_ids[*id] = true;
    where += " (" + *id + ")";
    base.model_id = *id;
    base.model_name = *id;
    base.provider_name = "Basalt";
    BASALT_RETURN_IF_ERROR(ApplyCommon(m, where, &base));
    if (base.embedding()) {
      // An embedding model outputs EMBEDDING and does not stream unless the entry says more.
      if (!m.contains("outputModalities")) base.output_modalities = {"EMBEDDING"};
      if (!m.contains("responseStreamingSupported")) base.streaming = false;
    }
    if (base.image_model()) {
      // An image model outputs IMAGE and does not stream unless the entry says more.
      if (!m.contains("outputModalities")) base.output_modalities = {"IMAGE"};
      if (!m.contains("responseStreamingSupported")) base.streaming = false;
    }
    BASALT_RETURN_IF_ERROR(CheckEmbedding(where, base));
    BASALT_RETURN_IF_ERROR(CheckImage(where, base));
    if (base.image_model()) {
      BASALT_RETURN_IF_ERROR(ParseImageSettings(m, where, options, &base.image));
    } else if (m.contains("image")) {
      return FieldError(where,
                        "\"image\" settings are for image models (outputModalities [\"IMAGE\"])");
    }
    if (auto pooling = m.find("pooling"); pooling != m.end()) {
      if (!pooling->is_string() ||
          (*pooling != "mean" && *pooling != "cls" && *pooling != "last")) {
        return FieldError(where, "\"pooling\" must be \"mean\", \"cls\" or \"last\"");
      }
      base.pooling = pooling->get<std::string>();
    }
    auto weights = GetString(m, "weights", where, true);
    if (!weights.ok()) return weights.status();
    if (auto src = m.find("source"); src != m.end() && src->is_object()) {
      auto repo = GetString(*src, "repo", where + ".source", false);
      auto file = GetString(*src, "file", where + ".source", false);
      auto sha = GetString(*src, "sha256", where + ".source", false);
      if (!repo.ok()) return repo.status();
      if (!file.ok()) return file.status();
      if (!sha.ok()) return sha.status();
      if (!sha->empty() &&
          (sha->size() != 64 || sha->find_first_not_of("0123456789abcdef") != std::string::npos)) {
        return FieldError(where, "\"source.sha256\" must be 64 lower-case hex digits");
      }
      base.source_repo = *repo;
      base.source_file = *file;
      base.source_sha256 = *sha;
    }
    for (auto [key, dst] : {std::pair{"contextLength", &base.context_length},
                            std::pair{"parallel", &base.parallel}}) {
      auto it = m.find(key);
      if (it == m.end()) continue;
      if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > (1 << 24)) {
        return FieldError(where, std::string("\"") + key + "\" must be a non-negative integer");
      }
      *dst = it->get<int>();
    }
    base.engine_model = base.model_id;
    base.weights_path = ResolveWeights(*weights, options, /*allow_dir=*/base.image_model());

    std::vector<ModelEntry> group{base};
    if (auto al = m.find("aliases"); al != m.end()) {
      if (!al->is_array()) return FieldError(where, "\"aliases\" must be a list");
      for (size_t j = 0; j < al->size(); ++j) {
        const json& a = (*al)[j];
        std::string awhere = where + ".aliases[" + std::to_string(j) + "]";
        ModelEntry e = base;
        e.is_alias = true;
        if (a.is_string()) {
          e.model_id = a.get<std::string>();
        } else if (a.is_object()) {
          auto aid = GetString(a, "modelId", awhere, true);
          if (!aid.ok()) return aid.status();
          e.model_id = *aid;
        } else {
          return FieldError(awhere, "must be a string or an object");
        }
        if (!IsValidModelId(e.model_id)) return FieldError(awhere, "invalid modelId");
        // An alias speaks its own id's body format and shows its provider unless told
        // otherwise.
        if (auto inferred = InferRequestFamily(e.model_id)) e.family = *inferred;
        if (auto inferred = InferEmbedFamily(e.model_id)) e.embed_family = *inferred;
        if (auto inferred = InferImageFamily(e.model_id)) e.image_family = *inferred;
        if (const char* provider = InferProviderName(e.model_id)) e.provider_name = provider;
        e.use_case_form_required = e.provider_name == "Anthropic";
        if (a.is_object()) BASALT_RETURN_IF_ERROR(ApplyCommon(a, awhere, &e));
        BASALT_RETURN_IF_ERROR(CheckEmbedding(awhere, e));
        BASALT_RETURN_IF_ERROR(CheckImage(awhere, e));
        group.push_back(std::move(e));
      }
    }
    if (base.weights_path.empty()) {
      cat->missing_.push_back({base.model_id, *weights, base.source_repo, base.source_file,
                               base.source_sha256, base.provider_name, base.model_name,
                               base.output_modalities});
      continue;
    }
    for (auto& e : group) {
      if (cat->by_id_.count(e.model_id)) continue;  // an earlier entry serves it
      cat->by_id_[e.model_id] = cat->entries_.size();
      cat->entries_.push_back(std::move(e));
    }
  }
  std::sort(cat->entries_.begin(), cat->entries_.end(),
            [](const ModelEntry& a, const ModelEntry& b) { return a.model_id < b.model_id; });
  cat->by_id_.clear();
  for (size_t i = 0; i < cat->entries_.size(); ++i) cat->by_id_[cat->entries_[i].model_id] = i;
  return std::shared_ptr<const Catalog>(std::move(cat));
}

StatusOr<std::shared_ptr<const Catalog>> Catalog::LoadOrCreate(const std::string& path,
                                                               const LoadOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    fs::create_directories(fs::path(path).parent_path(), ec);
    std::ofstream out(path);
    if (!out) return Status::Internal("cannot write the default catalog to " + path);
    out << kDefaultCatalog;
    if (!out) return Status::Internal("cannot write the default catalog to " + path);
  }
  std::ifstream in(path);
  if (!in) return Status::Internal("cannot read the catalog " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto cat = Parse(ss.str(), options);
  if (!cat.ok()) return Status::InvalidArgument(path + ": " + cat.status().message());
  return cat;
}

std::shared_ptr<const Catalog> Catalog::Without(const std::set<std::string>& engine_models) const {
  auto cat = std::make_shared<Catalog>(*this);
  cat->entries_.clear();
  cat->by_id_.clear();
  for (const auto& e : entries_) {
    if (engine_models.count(e.engine_model) != 0) continue;
    cat->by_id_[e.model_id] = cat->entries_.size();
    cat->entries_.push_back(e);
  }
  return cat;
}

const ModelEntry* Catalog::Find(const std::string& model_id) const {
  auto lookup = [&](const std::string& id) -> const ModelEntry* {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &entries_[it->second];
  };
  if (const ModelEntry* e = lookup(model_id)) return e;
  std::string id = model_id;
  // arn:aws:bedrock:<region>:<account>:foundation-model/<id> or inference-profile/<id>.
  if (id.rfind("arn:", 0) == 0) {
    size_t slash = id.find('/');
    if (slash == std::string::npos) return nullptr;
    std::string kind = id.substr(0, slash);
    if (kind.find(":foundation-model") == std::string::npos &&
        kind.find(":inference-profile") == std::string::npos) {
      return nullptr;
    }
    id = id.substr(slash + 1);
    if (const ModelEntry* e = lookup(id)) return e;
  }
  for (const char* prefix : {"us.", "eu.", "apac.", "us-gov.", "ca.", "jp.", "au.", "global."}) {
    if (id.rfind(prefix, 0) == 0) return lookup(id.substr(strlen(prefix)));
  }
  return nullptr;
}

}  // namespace basalt::catalog
