// The tensor names and shapes of Stable Diffusion's networks, derived from their configs the way
// diffusers builds its modules (UNet2DConditionModel, AutoencoderKL) and transformers builds
// CLIPTextModel, and the mapping of each diffusers name to the original (CompVis / Stability)
// single-file key. One derivation serves basalt-image-tool (which writes checkpoints) and the
// single-file loader (which looks each expected tensor up under its original key). No tensor
// library here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace basalt::image {

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};

struct ClipShape {
  int vocab_size = 49408;
  int hidden_size = 768;
  int intermediate_size = 3072;
  int num_hidden_layers = 12;
  int max_position_embeddings = 77;
};

struct UNetShape {
  int in_channels = 4;
  int out_channels = 4;
  std::vector<int> block_out_channels{320, 640, 1280, 1280};
  // Per down block (the up blocks mirror it): CrossAttnDownBlock2D vs DownBlock2D.
  std::vector<bool> cross_attention{true, true, true, false};
  int layers_per_block = 2;
  int cross_attention_dim = 768;
  bool use_linear_projection = false;
};

struct VaeShape {
  int in_channels = 3;
  int out_channels = 3;
  int latent_channels = 4;
  std::vector<int> block_out_channels{128, 256, 512, 512};
  int layers_per_block = 2;
};

// "text_model.embeddings.token_embedding.weight", ... (CLIPTextModel.state_dict()).
std::vector<TensorSpec> ClipTensorSpecs(const ClipShape& s);
// "conv_in.weight", "down_blocks.0.resnets.0.norm1.weight", ... (686 for SD 1.5).
std::vector<TensorSpec> UNetTensorSpecs(const UNetShape& s);
// "encoder.*", "quant_conv.*", "post_quant_conv.*", "decoder.*" (AutoencoderKL).
std::vector<TensorSpec> VaeTensorSpecs(const VaeShape& s);

// Where a diffusers tensor lives in an original single file.
struct OriginalKey {
  std::string name;  // full key, with the model.diffusion_model. / first_stage_model. / ... prefix
  int slice = -1;    // OpenCLIP's fused in_proj: 0 q, 1 k, 2 v (rows of the fused tensor)
  bool conv1x1 = false;  // stored as a [out, in, 1, 1] convolution (the VAE's mid attention)
};
OriginalKey UNetOriginalKey(const std::string& diffusers_name, const UNetShape& s);
OriginalKey VaeOriginalKey(const std::string& diffusers_name, const VaeShape& s);
// SD 1.x: cond_stage_model.transformer.text_model.*; SD 2.x (open_clip): cond_stage_model.model.*
OriginalKey ClipOriginalKey(const std::string& diffusers_name, bool open_clip);

}  // namespace basalt::image
