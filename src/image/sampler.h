// Noise schedules and samplers in the k-diffusion formulation that diffusers' Euler,
// Euler-ancestral and DPM-Solver++ (2M, Karras sigmas) schedulers follow: the sampler works on
// x in sigma space and asks a Denoiser for the clean-image estimate at each sigma.
//
// The schedules reproduce diffusers' set_timesteps to float32 precision: EulerDiscreteScheduler
// / EulerAncestralDiscreteScheduler (timestep_spacing leading/trailing/linspace, sigmas
// interpolated at the timesteps, init_noise_sigma sqrt(sigma_max^2 + 1) except for linspace and
// trailing) and DPMSolverMultistepScheduler with use_karras_sigmas (rho 7 over the training
// sigmas, timesteps mapped back by log-sigma interpolation and rounded, final sigma 0).
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "common/status.h"
#include "image/checkpoint.h"
#include "image/image.h"

namespace basalt::image {

struct SigmaSchedule {
  std::vector<double> sigmas;     // steps + 1 values, the last 0
  std::vector<double> timesteps;  // steps values: the model timestep of each sigma
  // What the unit-variance starting noise is multiplied by (diffusers' init_noise_sigma).
  double init_noise_sigma = 1;
};

// The training noise levels sqrt((1 - alphas_cumprod) / alphas_cumprod), computed with the same
// float32 tensor operations as diffusers (num_train_timesteps values).
std::vector<float> TrainingSigmas(const SchedulerConfig& config);

// The schedule diffusers builds for `steps` with this scheduler config (timestep_spacing,
// steps_offset) and sampler (Karras sigmas for kDpmpp2mKarras). kInvalidArgument for steps
// outside 1..num_train_timesteps or an unknown spacing / beta schedule.
StatusOr<SigmaSchedule> MakeSchedule(const SchedulerConfig& config, Sampler sampler, int steps);

// Given x at `sigma` and the model timestep, returns the denoised estimate (same shape).
using Denoiser = std::function<at::Tensor(const at::Tensor& x, double sigma, double timestep)>;

// The model's input scale c_in = 1 / sqrt(sigma^2 + 1) and the denoised estimate from its
// output: epsilon: x - sigma * eps; v_prediction: x / (sigma^2 + 1) - sigma / sqrt(sigma^2 + 1) *
// v.
double InputScale(double sigma);
at::Tensor DenoisedFromModelOutput(const std::string& prediction_type, const at::Tensor& x,
                                   const at::Tensor& model_output, double sigma);

// Runs the sampler from `noise` (unit variance) scaled by schedule.init_noise_sigma.
// `generator` draws the ancestral noise (seeded per image for reproducibility). `cancelled` is
// polled before each step: kCancelled when it says so. `on_step(i)` is called after step i.
// Works in float32 whatever the denoiser computes in.
StatusOr<at::Tensor> Sample(Sampler sampler, const SigmaSchedule& schedule, const at::Tensor& noise,
                            const Denoiser& denoise, at::Generator generator,
                            const std::function<bool()>& cancelled,
                            const std::function<void(int)>& on_step = nullptr);

}  // namespace basalt::image
