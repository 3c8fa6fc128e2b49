// Text-to-image over one loaded model (pipeline.h): validate, tokenize and encode the prompts
// once, then per image: noise from seed + i, the sampler over the UNet with classifier-free
// guidance, decode (VAE or tiny decoder), 8-bit RGB, PNG.
#include "image/pipeline.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>
#include <string>
#include <utility>

#include "image/png.h"
#include "image/sampler.h"
#include "image/weights.h"

namespace basalt::image {
namespace {

constexpr int kMinSize = 64, kMaxSize = 2048;
constexpr int kMaxCount = 5, kMaxSteps = 150;
constexpr float kMaxCfg = 30;
constexpr int kContext = 77;

// 2^(levels - 1): the VAE's downscale (8 for every SD VAE).
int VaeFactor(const VaeConfig& vae) {
  return 1 << std::max<int>(0, static_cast<int>(vae.block_out_channels.size()) - 1);
}

// [H, W, 3] uint8 from [3, H, W] in [0, 1].
RgbImage ToRgb(const at::Tensor& chw01) {
  const at::Tensor px = (chw01.to(at::kFloat).clamp(0, 1) * 255)
                            .round()
                            .to(at::kByte)
                            .permute({1, 2, 0})
                            .contiguous();
  RgbImage img;
  img.height = static_cast<int>(px.size(0));
  img.width = static_cast<int>(px.size(1));
  const uint8_t* p = px.data_ptr<uint8_t>();
  img.rgb.assign(p, p + px.numel());
  return img;
}

}  // namespace

ImageModelInfo DescribeCheckpoint(const ImageModelConfig& config, const CheckpointInfo& info) {
  ImageModelInfo out;
  out.variant = config.variant.empty() || config.variant == "auto" ? info.variant : config.variant;
  out.native_size = info.unet.sample_size * VaeFactor(info.vae);
  const bool turbo = out.variant == "sd-turbo";
  out.default_steps = config.default_steps > 0 ? config.default_steps : (turbo ? 1 : 25);
  out.default_cfg_scale =
      config.default_cfg_scale > 0 ? config.default_cfg_scale : (turbo ? 0.0f : 7.5f);
  out.default_sampler = !config.default_sampler.empty() ? config.default_sampler
                                                        : (turbo ? "euler_a" : "dpmpp_2m_karras");
  return out;
}

StatusOr<std::unique_ptr<Pipeline>> Pipeline::Load(const ImageModelConfig& config,
                                                   at::ScalarType dtype) {
  if (config.variant != "auto" && !config.variant.empty() && config.variant != "sd1" &&
      config.variant != "sd2" && config.variant != "sd-turbo") {
    return Status::InvalidArgument("image model " + config.name + ": unknown variant '" +
                                   config.variant + "' (auto, sd1, sd2 or sd-turbo)");
  }
  if (!config.default_sampler.empty()) {
    BASALT_RETURN_IF_ERROR(ParseSampler(config.default_sampler).status());
  }
  c10::InferenceMode guard;
  BASALT_ASSIGN_OR_RETURN(Checkpoint ckpt, LoadCheckpoint(config, dtype));
  auto p = std::unique_ptr<Pipeline>(new Pipeline());
  p->dtype_ = dtype;
  p->checkpoint_info_ = ckpt.info;
  p->info_ = DescribeCheckpoint(config, ckpt.info);
  if (p->info_.variant == "sd-turbo") {
    // SD-Turbo samples 1-4 steps from the last training timestep (diffusers' "trailing").
    p->checkpoint_info_.scheduler.timestep_spacing = "trailing";
  }
  // A scheduler config the samplers cannot follow fails now, not on the first request.
  BASALT_RETURN_IF_ERROR(MakeSchedule(p->checkpoint_info_.scheduler, Sampler::kEuler, 1).status());
  p->tokenizer_ = std::move(ckpt.tokenizer);
  BASALT_ASSIGN_OR_RETURN(p->text_encoder_,
                          ClipTextModel::Create(ckpt.info.clip, std::move(ckpt.text_encoder)));
  BASALT_ASSIGN_OR_RETURN(p->unet_, UNet::Create(ckpt.info.unet, std::move(ckpt.unet)));
  if (!config.tae_decoder_path.empty()) {
    auto file = SafetensorsFile::Open(config.tae_decoder_path);
    if (!file.ok()) {
      return Status::FailedPrecondition("tiny decoder " + config.tae_decoder_path + ": " +
                                        file.status().message());
    }
    WeightMap tae;
    tae.set_description(config.tae_decoder_path);
    BASALT_RETURN_IF_ERROR(tae.Add(std::shared_ptr<SafetensorsFile>(std::move(*file)), dtype));
    // Published files name the layers "0.weight", ...; some prefix "decoder." (both read).
    BASALT_ASSIGN_OR_RETURN(p->tae_, TaeDecoder::Create(std::move(tae)));
    if (p->tae_->config().latent_channels != ckpt.info.unet.out_channels) {
      return Status::FailedPrecondition("tiny decoder " + config.tae_decoder_path + " takes " +
                                        std::to_string(p->tae_->config().latent_channels) +
                                        " latent channels, the UNet makes " +
                                        std::to_string(ckpt.info.unet.out_channels));
    }
  } else {
    BASALT_ASSIGN_OR_RETURN(p->vae_, VaeDecoder::Create(ckpt.info.vae, std::move(ckpt.vae)));
  }
  return p;
}

Status CheckRequest(const ImageRequest& r) {
  // Every SD VAE scales by 8 and the UNet halves the latents 3 times: multiples of 64.
  constexpr int kFactor = 64;
  for (auto [what, v] : {std::pair{"width", r.width}, std::pair{"height", r.height}}) {
    if (v < kMinSize || v > kMaxSize || v % kFactor != 0) {
      return Status::InvalidArgument(std::string(what) + " must be a multiple of " +
                                     std::to_string(kFactor) + " between " +
                                     std::to_string(kMinSize) + " and " + std::to_string(kMaxSize) +
                                     ", got " + std::to_string(v));
    }
  }
  if (r.count < 1 || r.count > kMaxCount) {
    return Status::InvalidArgument("the number of images must be between 1 and " +
                                   std::to_string(kMaxCount) + ", got " + std::to_string(r.count));
  }
  if (r.steps < 0 || r.steps > kMaxSteps) {
    return Status::InvalidArgument("steps must be between 1 and " + std::to_string(kMaxSteps) +
                                   ", got " + std::to_string(r.steps));
  }
  if (!std::isfinite(r.cfg_scale) || r.cfg_scale > kMaxCfg) {
    return Status::InvalidArgument("cfg scale must be between 0 and 30, got " +
                                   std::to_string(r.cfg_scale));
  }
  return Status::Ok();
}

Status Pipeline::Validate(const ImageRequest& r, int* steps, float* cfg, Sampler* sampler) const {
  BASALT_RETURN_IF_ERROR(CheckRequest(r));
  const int factor = 8 * VaeFactor(checkpoint_info_.vae);
  for (auto [what, v] : {std::pair{"width", r.width}, std::pair{"height", r.height}}) {
    if (v % factor != 0) {
      return Status::InvalidArgument(std::string(what) + " must be a multiple of " +
                                     std::to_string(factor) + " for this model, got " +
                                     std::to_string(v));
    }
  }
  *steps = r.steps > 0 ? r.steps : info_.default_steps;
  if (r.steps < 0 || *steps < 1 || *steps > kMaxSteps) {
    return Status::InvalidArgument("steps must be between 1 and " + std::to_string(kMaxSteps) +
                                   ", got " + std::to_string(r.steps));
  }
  *cfg = r.cfg_scale < 0 ? info_.default_cfg_scale : r.cfg_scale;
  if (!std::isfinite(r.cfg_scale) || *cfg > kMaxCfg) {
    return Status::InvalidArgument("cfg scale must be between 0 and 30, got " +
                                   std::to_string(r.cfg_scale));
  }
  if (r.sampler == Sampler::kDefault) {
    BASALT_ASSIGN_OR_RETURN(*sampler, ParseSampler(info_.default_sampler));
  } else {
    *sampler = r.sampler;
  }
  return Status::Ok();
}

StatusOr<ImageResult> Pipeline::Generate(const ImageRequest& r,
                                         std::vector<at::Tensor>* latents) const {
  int steps = 0;
  float cfg = 0;
  Sampler sampler = Sampler::kDefault;
  BASALT_RETURN_IF_ERROR(Validate(r, &steps, &cfg, &sampler));
  try {
    return Run(r, steps, cfg, sampler, latents);
  } catch (const c10::Error& e) {
    return Status::Internal(std::string("image generation failed: ") + e.what_without_backtrace());
  }
}

StatusOr<ImageResult> Pipeline::Run(const ImageRequest& r, int steps, float cfg, Sampler sampler,
                                    std::vector<at::Tensor>* latents_out) const {
  const auto start = std::chrono::steady_clock::now();
  c10::InferenceMode guard;
  BASALT_ASSIGN_OR_RETURN(SigmaSchedule schedule,
                          MakeSchedule(checkpoint_info_.scheduler, sampler, steps));
  const bool guided = cfg > 1;

  ImageResult result;
  result.width = r.width;
  result.height = r.height;
  result.steps = steps;
  result.sampler = SamplerName(sampler);
  result.cfg_scale = guided ? cfg : 0;
  // Stable Diffusion conditions on 77 tokens: longer prompts are cut (as diffusers does);
  // prompt_tokens counts them all so the caller can say so.
  result.prompt_tokens = static_cast<int>(tokenizer_.Tokenize(r.prompt).size()) + 2;
  result.prompt_truncated = result.prompt_tokens > kContext;

  auto ids_of = [&](const std::string& text) {
    const std::vector<int> ids = tokenizer_.Encode(text, kContext);
    at::Tensor t = at::empty({1, kContext}, at::TensorOptions(at::kLong));
    for (int i = 0; i < kContext; ++i) t[0][i] = static_cast<int64_t>(ids[i]);
    return t;
  };
  const int skip = checkpoint_info_.clip_skip;
  at::Tensor context = text_encoder_->Encode(ids_of(r.prompt), skip);
  if (guided) {
    // [uncond, cond], one UNet batch of two per step.
    context = at::cat({text_encoder_->Encode(ids_of(r.negative_prompt), skip), context}, 0);
  }
  context = context.to(dtype_);

  const std::string& prediction = checkpoint_info_.scheduler.prediction_type;
  const int factor = VaeFactor(checkpoint_info_.vae);
  const int64_t channels = checkpoint_info_.unet.in_channels;
  const int64_t batch = guided ? 2 : 1;
  Denoiser denoise = [&](const at::Tensor& x, double sigma, double timestep) {
    at::Tensor in = (x * InputScale(sigma)).to(dtype_);
    if (guided) in = at::cat({in, in}, 0);
    const at::Tensor t = at::full({batch}, timestep, at::TensorOptions(at::kFloat));
    at::Tensor out = unet_->Forward(in, t, context).to(at::kFloat);
    if (guided) {
      const at::Tensor uncond = out[0].unsqueeze(0), cond = out[1].unsqueeze(0);
      out = uncond + (cond - uncond) * cfg;
    }
    return DenoisedFromModelOutput(prediction, x, out, sigma);
  };

  for (int i = 0; i < r.count; ++i) {
    const uint64_t seed = r.seed + static_cast<uint64_t>(i);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    const at::Tensor noise = at::randn({1, channels, r.height / factor, r.width / factor}, gen,
                                       at::TensorOptions(at::kFloat));
    BASALT_ASSIGN_OR_RETURN(at::Tensor latents,
                            Sample(sampler, schedule, noise, denoise, gen, r.cancelled));
    if (r.cancelled && r.cancelled()) return Status::Cancelled("image generation cancelled");
    if (latents_out) latents_out->push_back(latents);
    BASALT_ASSIGN_OR_RETURN(std::string png, EncodePng(ToRgb(Decode(latents)[0])));
    result.png.push_back(std::move(png));
    result.seeds.push_back(seed);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

at::Tensor Pipeline::Decode(const at::Tensor& latents) const {
  c10::InferenceMode guard;
  if (tae_) return tae_->Decode(latents.to(dtype_)).to(at::kFloat);  // [0, 1]
  const at::Tensor z = latents / checkpoint_info_.vae.scaling_factor;
  const at::Tensor image = vae_->Decode(z.to(dtype_)).to(at::kFloat);  // [-1, 1]
  return image / 2 + 0.5;
}

}  // namespace basalt::image
