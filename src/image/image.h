// Text-to-image generation: Stable Diffusion 1.x / 2.x (SD-Turbo included) run in process by
// the project's own diffusion pipeline (docs/images.md). This header names no tensor library
// type, so the API and the server include it without libtorch's headers.
//
// One ImageEngine serves every image model of the catalog. A model loads once, on first use
// (or Load()); requests queue per model, round-robin across accounts, and run one at a time,
// each using the configured number of threads. A request's `cancelled` callback is polled
// between denoising steps: a client that goes away stops its remaining steps.
//
// Thread-safety: every method may be called from any thread; Generate() blocks the caller.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace basalt::image {

// Where a model's weights live and how it samples by default.
struct ImageModelConfig {
  std::string name;  // engine key (the catalog's primary model id)
  // A diffusers folder (model_index.json, text_encoder/, tokenizer/, unet/, vae/, scheduler/)
  // or a single-file checkpoint (.safetensors) in the original Stable Diffusion key layout.
  std::string path;
  // Single files carry no tokenizer: a folder with CLIP's vocab.json and merges.txt. Empty: a
  // `tokenizer/` folder beside the file, else an error naming what is missing.
  std::string tokenizer_dir;
  // Optional tiny autoencoder decoder (TAESD family, one .safetensors) used instead of the
  // full VAE decoder: much faster, slightly softer.
  std::string tae_decoder_path;
  // "auto" (from the files), "sd1", "sd2" or "sd-turbo" (SD 2.x shapes, trailing timesteps,
  // 1-4 steps, no guidance by default).
  std::string variant = "auto";
  int default_steps = 0;        // 0: 1 for sd-turbo, 25 otherwise
  float default_cfg_scale = 0;  // 0: 0 (no guidance) for sd-turbo, 7.5 otherwise
  std::string default_sampler;  // "" -> "euler_a" for sd-turbo, "dpmpp_2m_karras" otherwise
};

struct ImageEngineOptions {
  std::vector<ImageModelConfig> models;
  int threads = 0;  // intra-op threads for a running job; 0 = hardware concurrency
  int max_queue =
      16;  // waiting requests per model beyond the running one; more: kResourceExhausted
  // Compute precision: "auto" (bf16 where the CPU has native bf16 dot products, else f32),
  // "bf16" or "f32". Tests that compare numerics use "f32".
  std::string dtype = "auto";
};

// Samplers (docs/images.md): Euler, Euler ancestral, DPM++ 2M with Karras sigmas.
enum class Sampler { kDefault, kEuler, kEulerAncestral, kDpmpp2mKarras };
// "euler", "euler_a", "dpmpp_2m_karras"; kInvalidArgument naming the value otherwise.
StatusOr<Sampler> ParseSampler(const std::string& name);
const char* SamplerName(Sampler sampler);

struct ImageRequest {
  std::string model;  // ImageModelConfig::name
  std::string prompt;
  std::string negative_prompt;
  int width = 512;       // multiple of 64
  int height = 512;      // multiple of 64
  int count = 1;         // 1..5 images, seeds seed, seed+1, ...
  int steps = 0;         // 0: the model's default
  float cfg_scale = -1;  // < 0: the model's default; <= 1 disables guidance
  Sampler sampler = Sampler::kDefault;
  uint64_t seed = 0;
  std::string account;  // fairness key of the queue
  // Polled between steps; true stops the job with kCancelled.
  std::function<bool()> cancelled;
};

struct ImageResult {
  std::vector<std::string> png;  // encoded PNG files, one per image
  std::vector<uint64_t> seeds;   // the seed of each image
  int width = 0, height = 0;
  int steps = 0;        // denoising steps run per image
  std::string sampler;  // SamplerName of the sampler used
  float cfg_scale = 0;  // guidance used
  // CLIP tokens of the prompt with BOS/EOS, before padding and before truncation: Stable
  // Diffusion conditions on the first 77 (prompt_truncated says some were dropped).
  int prompt_tokens = 0;
  bool prompt_truncated = false;
  double seconds = 0;        // wall time of the job, queue wait excluded
  double queue_seconds = 0;  // time waiting in the queue
};

// What a loaded (or loadable) model is.
struct ImageModelInfo {
  std::string variant;    // "sd1", "sd2", "sd-turbo"
  int native_size = 512;  // the training resolution (768 for SD 2.x v-prediction models)
  int default_steps = 0;
  float default_cfg_scale = 0;
  std::string default_sampler;
};

class ImageEngine {
 public:
  virtual ~ImageEngine() = default;
  // Never fails: models load lazily. With BASALT_IMAGES=OFF builds (the TSan build), every
  // call answers kUnavailable "This server was built without image generation".
  static std::unique_ptr<ImageEngine> Create(const ImageEngineOptions& options);

  // Runs `request` (queued behind others). kNotFound for an unknown model; kInvalidArgument
  // for sizes/counts/steps out of range; kFailedPrecondition with a clear message for a corrupt,
  // truncated or incomplete checkpoint; kResourceExhausted when the queue is full; kCancelled.
  virtual StatusOr<ImageResult> Generate(const ImageRequest& request) = 0;
  // Loads `model` now (server start with --preload, tests). Same errors as Generate.
  virtual Status Load(const std::string& model) = 0;
  // Reads the model's files (configs only, no weights) to describe it.
  virtual StatusOr<ImageModelInfo> Describe(const std::string& model) = 0;
  // Whether this build can generate images at all.
  virtual bool available() const = 0;
};

}  // namespace basalt::image
