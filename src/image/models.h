// The networks of Stable Diffusion 1.x / 2.x, written with ATen operations over a WeightMap in
// the diffusers tensor naming: the CLIP text encoder, the UNet with cross-attention, the VAE
// (AutoencoderKL) and the tiny autoencoders (TAESD / TAEF2). Create() checks that every
// tensor is present with the shape the config implies, so an incomplete or mismatched
// checkpoint fails at load with the tensor's name, never in the middle of a request.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "image/weights.h"

namespace basalt::image {

// transformers' CLIPTextConfig (text_encoder/config.json). SD 1.x: CLIP ViT-L/14 (768 wide,
// 12 layers, quick_gelu). SD 2.x: OpenCLIP ViT-H/14 (1024 wide, 23 layers kept, gelu), whose
// pipeline uses the penultimate layer's output.
struct ClipConfig {
  int vocab_size = 49408;
  int hidden_size = 768;
  int intermediate_size = 3072;
  int num_hidden_layers = 12;
  int num_attention_heads = 12;
  int max_position_embeddings = 77;
  std::string hidden_act = "quick_gelu";  // or "gelu"
  float layer_norm_eps = 1e-5f;
  int eos_token_id = 49407;  // pooled output position: first eos (argmax id when eos is 2)
};

class ClipTextModel {
 public:
  // `w` holds the names under "text_model." (embeddings.token_embedding.weight, ...).
  static StatusOr<std::unique_ptr<ClipTextModel>> Create(const ClipConfig& config, WeightMap w);
  // ids: [B, 77] int64. Returns the last hidden state [B, 77, hidden] after the final layer
  // norm; with skip_last_layers = 1 the output of the layer before the last, then the final
  // layer norm (what SD 2.x conditions on).
  at::Tensor Encode(const at::Tensor& ids, int skip_last_layers = 0) const;
  const ClipConfig& config() const { return config_; }

 private:
  ClipConfig config_;
  WeightMap w_;
};

// diffusers' UNet2DConditionModel config (unet/config.json) for the SD 1.x / 2.x family.
struct UNetConfig {
  int in_channels = 4;
  int out_channels = 4;
  int sample_size = 64;
  std::vector<int> block_out_channels{320, 640, 1280, 1280};
  // "CrossAttnDownBlock2D" / "DownBlock2D" and "UpBlock2D" / "CrossAttnUpBlock2D".
  std::vector<std::string> down_block_types{"CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                            "CrossAttnDownBlock2D", "DownBlock2D"};
  std::vector<std::string> up_block_types{"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                                          "CrossAttnUpBlock2D"};
  int layers_per_block = 2;
  // Per block; one value given in the config applies to every block. SD 1.x: 8 heads each
  // (attention_head_dim 8 means heads in diffusers' legacy naming); SD 2.x: head dims
  // [5, 10, 20, 20] x 64. num_attention_heads, when the config has it, wins.
  std::vector<int> attention_head_dim{8, 8, 8, 8};
  std::vector<int> num_attention_heads;  // empty: derived as diffusers does
  int cross_attention_dim = 768;
  bool use_linear_projection = false;  // SD 2.x: proj_in/proj_out are Linear, not 1x1 conv
  int norm_num_groups = 32;
  float norm_eps = 1e-5f;
  bool flip_sin_to_cos = true;
  int freq_shift = 0;
  int transformer_layers_per_block = 1;
  bool upcast_attention = false;
};

class UNet {
 public:
  static StatusOr<std::unique_ptr<UNet>> Create(const UNetConfig& config, WeightMap w);
  // latents [B, C, H/8, W/8], timesteps [B] (float), context [B, 77, cross_attention_dim].
  // Returns the model output (noise or v prediction) in the latents' shape and dtype.
  at::Tensor Forward(const at::Tensor& latents, const at::Tensor& timesteps,
                     const at::Tensor& context) const;
  const UNetConfig& config() const { return config_; }

 private:
  UNetConfig config_;
  WeightMap w_;
};

// diffusers' AutoencoderKL config (vae/config.json).
struct VaeConfig {
  int in_channels = 3;
  int out_channels = 3;
  int latent_channels = 4;
  std::vector<int> block_out_channels{128, 256, 512, 512};
  int layers_per_block = 2;
  int norm_num_groups = 32;
  float scaling_factor = 0.18215f;
};

class VaeDecoder {
 public:
  // `w` holds the names under the VAE root: "decoder.*" and "post_quant_conv.*".
  static StatusOr<std::unique_ptr<VaeDecoder>> Create(const VaeConfig& config, WeightMap w);
  // z: latents already divided by scaling_factor, [B, latent, h, w]. Returns [B, 3, 8h, 8w]
  // in [-1, 1] (not clamped).
  at::Tensor Decode(const at::Tensor& z) const;
  const VaeConfig& config() const { return config_; }

 private:
  VaeConfig config_;
  WeightMap w_;
};

// The tiny autoencoders of the taesd project: TAESD (4 latent channels, SD 1.x/2.x) and TAEF2
// (32 latent channels). Weights as published: encoder "0.weight", ... / decoder "0.weight"...
// (the Sequential's indices), or prefixed "encoder." / "decoder.".
struct TaeConfig {
  int latent_channels = 4;
  int channels = 64;
};

class TaeDecoder {
 public:
  // Reads the config from the tensor shapes.
  static StatusOr<std::unique_ptr<TaeDecoder>> Create(WeightMap w);
  // z: unscaled latents [B, latent, h, w] (as the pipeline's VAE latents times scaling_factor
  // for TAESD). Returns [B, 3, 8h, 8w] in [0, 1].
  at::Tensor Decode(const at::Tensor& z) const;
  const TaeConfig& config() const { return config_; }

 private:
  TaeConfig config_;
  WeightMap w_;
};

class TaeEncoder {
 public:
  static StatusOr<std::unique_ptr<TaeEncoder>> Create(WeightMap w);
  // x: [B, 3, H, W] in [0, 1]. Returns [B, latent, H/8, W/8].
  at::Tensor Encode(const at::Tensor& x) const;
  const TaeConfig& config() const { return config_; }

 private:
  TaeConfig config_;
  WeightMap w_;
};

}  // namespace basalt::image
