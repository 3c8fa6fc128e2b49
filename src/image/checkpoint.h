// Finding a Stable Diffusion model's parts on disk: a diffusers folder (model_index.json,
// text_encoder/, tokenizer/, unet/, vae/, scheduler/, each with its config.json and weights as
// model.safetensors / diffusion_pytorch_model.safetensors, optionally .fp16. variants), or a
// single-file checkpoint in the original layout (model.diffusion_model.*,
// first_stage_model.*, cond_stage_model.transformer.* for SD 1.x or cond_stage_model.model.*
// for SD 2.x's OpenCLIP, whose fused attention in_proj is split into q/k/v), mapped to the
// diffusers names with the configs inferred from the tensor shapes.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "common/status.h"
#include "image/image.h"
#include "image/models.h"
#include "image/tokenizer.h"
#include "image/weights.h"

namespace basalt::image {

// diffusers' scheduler_config.json fields that the samplers use.
struct SchedulerConfig {
  int num_train_timesteps = 1000;
  float beta_start = 0.00085f;
  float beta_end = 0.012f;
  std::string beta_schedule = "scaled_linear";  // or "linear"
  std::string prediction_type = "epsilon";      // or "v_prediction"
  std::string timestep_spacing = "leading";     // "leading", "trailing" or "linspace"
  int steps_offset = 1;
};

// Configs only (no weights read): enough for Describe() and request validation.
struct CheckpointInfo {
  std::string variant;  // "sd1", "sd2", "sd-turbo"
  ClipConfig clip;
  int clip_skip = 0;  // layers skipped at the end of the text encoder (1 for SD 2.x)
  UNetConfig unet;
  VaeConfig vae;
  SchedulerConfig scheduler;
};

struct Checkpoint {
  CheckpointInfo info;
  ClipTokenizer tokenizer;
  WeightMap text_encoder;  // names under text_model. kept ("text_model.encoder...")
  WeightMap unet;
  WeightMap vae;  // "decoder.*", "post_quant_conv.*" (encoder parts may be present)
};

// Reads the configs of `config.path` (and variant overrides). kNotFound when the path does not
// exist; kFailedPrecondition naming the missing or malformed file.
StatusOr<CheckpointInfo> ReadCheckpointInfo(const ImageModelConfig& config);
// Opens every weight file and maps it into WeightMaps in `dtype`. kFailedPrecondition naming
// the file on corrupt/truncated files, missing tokenizer files, or unknown layouts.
StatusOr<Checkpoint> LoadCheckpoint(const ImageModelConfig& config, at::ScalarType dtype);

}  // namespace basalt::image
