// One loaded Stable Diffusion model: tokenizer, text encoder, UNet, VAE (or a tiny decoder)
// and its scheduler, and the text-to-image loop over them (classifier-free guidance with the
// negative prompt, a sampler, decode, PNG). Deterministic: the same request on the same build
// gives the same PNG bytes.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "image/checkpoint.h"
#include "image/image.h"
#include "image/models.h"

namespace basalt::image {

class Pipeline {
 public:
  static StatusOr<std::unique_ptr<Pipeline>> Load(const ImageModelConfig& config,
                                                  at::ScalarType dtype);
  // Validates and runs `request` on the calling thread (the engine's worker).
  // `latents` (tests): also gets each image's final latents, before decoding.
  StatusOr<ImageResult> Generate(const ImageRequest& request,
                                 std::vector<at::Tensor>* latents = nullptr) const;
  const ImageModelInfo& info() const { return info_; }
  const CheckpointInfo& checkpoint_info() const { return checkpoint_info_; }
  // Final latents (as the sampler leaves them) to [B, 3, H, W] in [0, 1] (unclamped), with the
  // VAE (after dividing by its scaling factor) or the tiny decoder.
  at::Tensor Decode(const at::Tensor& latents) const;

 private:
  Pipeline() = default;
  // Applies the model's defaults and checks the request (kInvalidArgument).
  Status Validate(const ImageRequest& request, int* steps, float* cfg, Sampler* sampler) const;
  StatusOr<ImageResult> Run(const ImageRequest& request, int steps, float cfg, Sampler sampler,
                            std::vector<at::Tensor>* latents) const;
  ImageModelInfo info_;
  CheckpointInfo checkpoint_info_;
  ClipTokenizer tokenizer_;
  std::unique_ptr<ClipTextModel> text_encoder_;
  std::unique_ptr<UNet> unet_;
  std::unique_ptr<VaeDecoder> vae_;
  std::unique_ptr<TaeDecoder> tae_;
  at::ScalarType dtype_ = at::kFloat;
};

// The checks that need no model: width/height multiples of 64 in 64..2048, 1..5 images,
// steps 0 (default) or 1..150, cfg scale <= 30 (negative: the default). kInvalidArgument.
Status CheckRequest(const ImageRequest& request);

// The model description from its configs, with the ImageModelConfig defaults applied.
ImageModelInfo DescribeCheckpoint(const ImageModelConfig& config, const CheckpointInfo& info);

// ImageEngine::Create's engine; `on_load(model)` (tests) is called when a load attempt starts.
std::unique_ptr<ImageEngine> CreateTorchImageEngine(
    const ImageEngineOptions& options, std::function<void(const std::string& model)> on_load);

}  // namespace basalt::image
