// Noise schedules and samplers in the k-diffusion formulation that diffusers' Euler,
// Euler-ancestral and DPM-Solver++ (2M, Karras sigmas) schedulers follow: the sampler works on
// x in sigma space and asks a Denoiser for the clean-image estimate at each sigma.
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
};

// The schedule diffusers builds for `steps` with this scheduler config (timestep_spacing,
// steps_offset) and sampler (Karras sigmas for kDpmpp2mKarras). kInvalidArgument for steps
// outside 1..num_train_timesteps.
StatusOr<SigmaSchedule> MakeSchedule(const SchedulerConfig& config, Sampler sampler, int steps);

// Given x at `sigma` and the model timestep, returns the denoised estimate (same shape).
using Denoiser = std::function<at::Tensor(const at::Tensor& x, double sigma, double timestep)>;

// Runs the sampler from `noise` (unit variance) scaled to the first sigma. `generator` draws
// the ancestral noise (seeded per image for reproducibility). `cancelled` is polled before each
// step: kCancelled when it says so. `on_step(i)` is called after step i (progress).
StatusOr<at::Tensor> Sample(Sampler sampler, const SigmaSchedule& schedule, const at::Tensor& noise,
                            const Denoiser& denoise, at::Generator generator,
                            const std::function<bool()>& cancelled,
                            const std::function<void(int)>& on_step = nullptr);

}  // namespace basalt::image
