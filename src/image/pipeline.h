// One loaded Stable Diffusion model: tokenizer, text encoder, UNet, VAE (or a tiny decoder)
// and its scheduler, and the text-to-image loop over them (classifier-free guidance with the
// negative prompt, a sampler, decode, PNG). Deterministic: the same request on the same build
// gives the same PNG bytes.
#pragma once

#include <memory>

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
  StatusOr<ImageResult> Generate(const ImageRequest& request) const;
  const ImageModelInfo& info() const { return info_; }

 private:
  ImageModelInfo info_;
  CheckpointInfo checkpoint_info_;
  ClipTokenizer tokenizer_;
  std::unique_ptr<ClipTextModel> text_encoder_;
  std::unique_ptr<UNet> unet_;
  std::unique_ptr<VaeDecoder> vae_;
  std::unique_ptr<TaeDecoder> tae_;
  at::ScalarType dtype_ = at::kFloat;
};

// The model description from its configs, with the ImageModelConfig defaults applied.
ImageModelInfo DescribeCheckpoint(const ImageModelConfig& config, const CheckpointInfo& info);

}  // namespace basalt::image
