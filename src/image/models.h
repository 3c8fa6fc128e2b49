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

struct ClipWeights;  // the weights prepared for compute (clip.cc)

// Computes in the WeightMap's dtype (f32 or bf16). Encode() is const and keeps no state:
// several threads may call it at once.
class ClipTextModel {
 public:
  // `w` holds transformers' CLIPTextModel names, with or without the "text_model." prefix
  // (embeddings.token_embedding.weight, encoder.layers.0.self_attn.q_proj.weight, ...).
  // kFailedPrecondition naming the tensor (missing or mis-shaped) or the config field.
  static StatusOr<std::unique_ptr<ClipTextModel>> Create(const ClipConfig& config, WeightMap w);
  // ids: [B, S] int64, S <= max_position_embeddings (77), each id < vocab_size. Returns the
  // last hidden state [B, S, hidden] after the final layer norm; with skip_last_layers = k
  // the output of layer L-k (k = 1: the layer before the last, what SD 2.x conditions on),
  // then the final layer norm; the skipped layers are not computed. Causal attention, no
  // padding mask (as Stable Diffusion uses it). Throws c10::Error (a caller's bug, checked
  // before) on ids out of range or a skip outside [0, layers).
  at::Tensor Encode(const at::Tensor& ids, int skip_last_layers = 0) const;
  const ClipConfig& config() const { return config_; }

 private:
  ClipConfig config_;
  WeightMap w_;
  std::shared_ptr<const ClipWeights> net_;
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
  // Per block; one value given in the config applies to every block. diffusers' legacy
  // naming: attention_head_dim is the NUMBER OF HEADS per block (SD 1.x: 8 heads each; SD 2.x:
  // [5, 10, 20, 20] heads, i.e. heads of 64 channels). num_attention_heads, when the config has
  // it, wins. Head size = block channels / heads.
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

struct UNetWeights;  // the weights prepared for compute (unet.cc)

// Computes in the WeightMap's dtype (bf16 or f32; f16 accepted); norm parameters in f32.
// Forward() is const and keeps no state between calls: several threads may call it at once.
class UNet {
 public:
  // Checks the config and every tensor's presence and shape (kFailedPrecondition naming the
  // tensor, from WeightMap::Get, or the config field), then prepares the weights
  // (channels-last convolutions, fused q/k/v).
  static StatusOr<std::unique_ptr<UNet>> Create(const UNetConfig& config, WeightMap w);
  // latents [B, C, H/8, W/8], timesteps [B] or [1] (float), context [B, 77, cross_attention_dim].
  // Returns the model output (noise or v prediction) in the latents' shape and dtype.
  at::Tensor Forward(const at::Tensor& latents, const at::Tensor& timesteps,
                     const at::Tensor& context) const;
  const UNetConfig& config() const { return config_; }

 private:
  UNetConfig config_;
  WeightMap w_;
  std::shared_ptr<const UNetWeights> net_;
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

struct VaeDecoderWeights;  // the weights prepared for compute (vae.cc)
struct VaeEncoderWeights;

// The decoder half of AutoencoderKL: post_quant_conv, conv_in, the mid block (resnet,
// single-head attention, resnet), the up blocks (resnets, nearest 2x + conv), GroupNorm, SiLU,
// conv_out. Computes in the WeightMap's dtype (f32 or bf16; attention softmax in f32) with
// channels-last convolutions. Decode() is const and keeps no state: several threads may call
// it at once.
class VaeDecoder {
 public:
  // `w` holds the names under the VAE root: "decoder.*" and "post_quant_conv.*" (encoder
  // tensors may be present and are ignored). The mid-block attention may use diffusers'
  // to_q/to_k/to_v/to_out.0 or the older query/key/value/proj_attn names, as Linear or 1x1
  // conv weights. kFailedPrecondition naming a missing or mis-shaped tensor, or a bad config.
  static StatusOr<std::unique_ptr<VaeDecoder>> Create(const VaeConfig& config, WeightMap w);
  // z: latents already divided by scaling_factor, [B, latent, h, w]. Returns [B, 3, 8h, 8w]
  // in [-1, 1] (not clamped), in z's dtype.
  at::Tensor Decode(const at::Tensor& z) const;
  const VaeConfig& config() const { return config_; }

 private:
  VaeConfig config_;
  WeightMap w_;
  std::shared_ptr<const VaeDecoderWeights> net_;
};

// The encoder half of AutoencoderKL (image to latents, for image-to-image and tests).
class VaeEncoder {
 public:
  // `w` holds "encoder.*" and "quant_conv.*" (decoder tensors may be present).
  static StatusOr<std::unique_ptr<VaeEncoder>> Create(const VaeConfig& config, WeightMap w);
  // x: [B, 3, H, W] in [-1, 1], H and W multiples of 8. Returns the posterior's mean
  // [B, latent, H/8, W/8] (multiply by scaling_factor for the UNet), in x's dtype.
  at::Tensor Encode(const at::Tensor& x) const;
  const VaeConfig& config() const { return config_; }

 private:
  VaeConfig config_;
  std::shared_ptr<const VaeEncoderWeights> net_;
};

// The tiny autoencoders of the taesd project: TAESD / TAESDXL (4 latent channels), TAESD3 /
// TAEF1 (16), TAEF2 (32, whose blocks next to the latent add a GroupNorm "pool" branch).
// Weights as published: encoder "0.weight", "1.conv.0.weight", ... / decoder "1.weight", ...
// (the Sequential's indices), or prefixed "encoder." / "decoder.", or diffusers'
// AutoencoderTiny names ("decoder.layers.N" = index N+1, "encoder.layers.N" = index N).
// Decoder: Clamp (tanh(x/3)*3), conv, ReLU, 3 x (3 blocks, nearest 2x, conv), block, conv.
// Encoder: conv, block, 3 x (stride-2 conv, 3 blocks), conv. A block: conv-ReLU-conv-ReLU-conv
// plus the input (or a 1x1 skip conv), ReLU.
struct TaeConfig {
  int latent_channels = 4;
  int channels = 64;
  bool midblock_group_norm = false;  // TAEF2's pool branch
};

struct TaeWeights;  // the layers prepared for compute (tae.cc)

// Computes in the WeightMap's dtype (f32 or bf16). Const methods, no state: thread-safe.
class TaeDecoder {
 public:
  // Reads the config from the tensor shapes. kFailedPrecondition naming the tensor when one is
  // missing, mis-shaped or not part of a TAESD decoder (an encoder file, say).
  static StatusOr<std::unique_ptr<TaeDecoder>> Create(WeightMap w);
  // z: unscaled latents [B, latent, h, w] (as the pipeline's VAE latents times scaling_factor
  // for TAESD). Returns [B, 3, 8h, 8w] clamped to [0, 1], in z's dtype.
  at::Tensor Decode(const at::Tensor& z) const;
  const TaeConfig& config() const { return config_; }

 private:
  TaeConfig config_;
  WeightMap w_;
  std::shared_ptr<const TaeWeights> net_;
};

class TaeEncoder {
 public:
  // As TaeDecoder::Create, for the encoder half.
  static StatusOr<std::unique_ptr<TaeEncoder>> Create(WeightMap w);
  // x: [B, 3, H, W] in [0, 1], H and W multiples of 8. Returns [B, latent, H/8, W/8] in x's
  // dtype.
  at::Tensor Encode(const at::Tensor& x) const;
  const TaeConfig& config() const { return config_; }

 private:
  TaeConfig config_;
  WeightMap w_;
  std::shared_ptr<const TaeWeights> net_;
};

}  // namespace basalt::image
