// The model catalog: which Bedrock model ids this deployment serves, on which local weights,
// with which request family and prices. Users edit it as JSON (docs/catalog.md).
//
// An entry names one local model (a GGUF file) and the Bedrock ids that reach it. Several
// entries may claim the same alias; the first entry whose weights are present serves it, so a
// catalog can prefer a real instruct model and fall back to a tiny demo model.
//
// Immutable after Load(); safe to share across threads.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace basalt::catalog {

// The InvokeModel body format a model id accepts (Converse works for every family).
enum class RequestFamily {
  kAnthropicText,      // prompt / max_tokens_to_sample -> completion
  kAnthropicMessages,  // anthropic_version bedrock-2023-05-31, messages -> content
  kTitanText,          // inputText / textGenerationConfig -> results
  kMetaLlama,          // prompt / max_gen_len -> generation
  kMistral,            // prompt / max_tokens -> outputs
};

StatusOr<RequestFamily> ParseRequestFamily(const std::string& name);
const char* RequestFamilyName(RequestFamily family);
// Infers the family from a Bedrock model id ("anthropic.claude-3..." -> messages).
std::optional<RequestFamily> InferRequestFamily(const std::string& model_id);

// The InvokeModel body format of an embedding model id (output modality EMBEDDING).
enum class EmbedFamily {
  kNone,     // not an embedding model
  kTitanV1,  // amazon.titan-embed-text-v1: inputText -> embedding, inputTextTokenCount
  kTitanV2,  // amazon.titan-embed-text-v2:0: adds dimensions, normalize, embeddingTypes
  kCohere,   // cohere.embed-*: texts, input_type, truncate, embedding_types -> embeddings
};

// "titan-embed-v1", "titan-embed-v2", "cohere-embed"; nullopt for other names.
std::optional<EmbedFamily> ParseEmbedFamily(const std::string& name);
const char* EmbedFamilyName(EmbedFamily family);
// Infers the embedding family from a Bedrock model id ("amazon.titan-embed-text-v2:0" -> v2).
std::optional<EmbedFamily> InferEmbedFamily(const std::string& model_id);

// The InvokeModel body format of an image model id (output modality IMAGE).
enum class ImageFamily {
  kNone,           // not an image model
  kTitanV1,        // amazon.titan-image-generator-v1: taskType TEXT_IMAGE -> images
  kTitanV2,        // amazon.titan-image-generator-v2:0: the same body (v2 task types refused)
  kStabilitySdxl,  // stability.stable-diffusion-xl-v1: text_prompts -> artifacts
};

// "titan-image-v1", "titan-image-v2", "stability-sdxl"; nullopt for other names.
std::optional<ImageFamily> ParseImageFamily(const std::string& name);
const char* ImageFamilyName(ImageFamily family);
// Infers the image family from a Bedrock model id ("stability.stable-diffusion-xl-v1" -> SDXL).
std::optional<ImageFamily> InferImageFamily(const std::string& model_id);

// How an image model runs (catalog "image" object; docs/catalog.md, "Image models").
struct ImageSettings {
  std::string tokenizer_dir;     // resolved; "" = the checkpoint's own tokenizer/ folder
  std::string tae_decoder_path;  // resolved; "" = the full VAE decoder
  std::string variant = "auto";  // "auto", "sd1", "sd2", "sd-turbo"
  int steps_standard = 0;        // denoising steps for quality "standard"; 0 = model default
  int steps_premium = 0;         // for quality "premium"; 0 = model default
  std::string sampler;           // "" = model default; else euler, euler_a, dpmpp_2m_karras
  float cfg_scale = 0;           // 0 = model default
};

struct Price {
  double input_per_1k_tokens = 0;  // in the deployment's currency (USD by default)
  double output_per_1k_tokens = 0;
  // Per image, keyed "<W>x<H>/<quality>", "*/<quality>" or "*" (most specific wins).
  std::map<std::string, double> per_image;
};

// One Bedrock-visible model id.
struct ModelEntry {
  std::string model_id;  // e.g. "anthropic.claude-v2"
  std::string provider_name;
  std::string model_name;
  RequestFamily family = RequestFamily::kMetaLlama;
  std::vector<std::string> input_modalities{"TEXT"};
  std::vector<std::string> output_modalities{"TEXT"};
  bool streaming = true;
  Price price;
  // The local model behind it.
  std::string engine_model;  // engine key (the primary entry's model id)
  std::string weights_path;  // resolved absolute path of the GGUF
  int context_length = 0;    // 0 = from the GGUF
  int parallel = 0;          // 0 = server default
  bool is_alias = false;
  std::vector<std::string> regions;     // regions offering it; empty = every served region
  bool use_case_form_required = false;  // access needs PutUseCaseForModelAccess first
  std::string source_repo;              // where `basalt models pull` gets the weights
  std::string source_file;
  std::string source_sha256;  // expected SHA-256 of the weights (lower-case hex), optional
  // Embedding models (outputModalities ["EMBEDDING"]): the body format, and the pooling that
  // overrides the GGUF's ("mean", "cls", "last"; empty: the GGUF's own, mean if it has none).
  EmbedFamily embed_family = EmbedFamily::kNone;
  std::string pooling;
  bool embedding() const { return embed_family != EmbedFamily::kNone; }
  // Image models (outputModalities ["IMAGE"]): the body format and how the model runs.
  // weights_path is then a diffusers folder or a single .safetensors file.
  ImageFamily image_family = ImageFamily::kNone;
  ImageSettings image;
  bool image_model() const { return image_family != ImageFamily::kNone; }
};

// A local model whose weights were not found, with how to get them.
struct MissingModel {
  std::string model_id;
  std::string weights;
  std::string source_repo;
  std::string source_file;
  std::string source_sha256;
  std::string provider_name;
  std::string model_name;
  std::vector<std::string> output_modalities{"TEXT"};
};

struct LoadOptions {
  std::vector<std::string> models_dirs;  // searched in order for relative weight paths
};

class Catalog {
 public:
  // Parses catalog JSON text. Returns kInvalidArgument naming the bad field.
  static StatusOr<std::shared_ptr<const Catalog>> Parse(const std::string& json_text,
                                                        const LoadOptions& options);
  // Reads the file at `path`; if it does not exist, writes DefaultCatalogJson() there first.
  static StatusOr<std::shared_ptr<const Catalog>> LoadOrCreate(const std::string& path,
                                                               const LoadOptions& options);
  // The catalog written on first start: recommended small instruct models plus the tiny
  // stories260K demo model, with Bedrock aliases.
  static const char* DefaultCatalogJson();

  // Resolves a model id as it arrives in a path: a plain id, a foundation-model ARN, or a
  // cross-region inference profile id ("us.", "eu.", "apac.", "global." prefix).
  // Returns nullptr when unknown or when its weights are missing.
  const ModelEntry* Find(const std::string& model_id) const;
  // Every served id (primary ids and aliases), sorted by id.
  const std::vector<ModelEntry>& entries() const { return entries_; }
  const std::vector<MissingModel>& missing() const { return missing_; }
  // A copy without the ids served by these engine models (a model whose weights could not be
  // loaded on a reload: a file still being copied, cut short or not a GGUF model).
  std::shared_ptr<const Catalog> Without(const std::set<std::string>& engine_models) const;

 private:
  std::vector<ModelEntry> entries_;
  std::map<std::string, size_t> by_id_;
  std::vector<MissingModel> missing_;
};

// The catalog a running server serves, replaceable while requests run (weights pulled from
// the console make a model available). Every version is kept until exit, so a ModelEntry*
// a request found stays valid without reference counting on the hot path; versions are a
// few kilobytes and replaced only when models change.
class LiveCatalog {
 public:
  explicit LiveCatalog(std::shared_ptr<const Catalog> initial) { Replace(std::move(initial)); }
  const Catalog* operator->() const { return current_.load(std::memory_order_acquire); }
  const Catalog& operator*() const { return *operator->(); }
  void Replace(std::shared_ptr<const Catalog> next) {
    std::lock_guard<std::mutex> lock(mu_);
    current_.store(next.get(), std::memory_order_release);
    versions_.push_back(std::move(next));
  }

 private:
  std::mutex mu_;
  std::vector<std::shared_ptr<const Catalog>> versions_;  // guarded by mu_
  std::atomic<const Catalog*> current_{nullptr};
};

}  // namespace basalt::catalog
