// Schedules and samplers (sampler.h). The schedule code follows diffusers' set_timesteps step by
// step, including its numpy semantics (arange lengths, linspace endpoints, round-half-even,
// float32 storage), so that tests/image/ref/sampler.py agrees to float32 precision.
#include "image/sampler.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

namespace basalt::image {
namespace {

// A config value parsed as float (0.00085f) back to the double that Python read from the
// JSON text (0.00085): the shortest decimal form of the float, read as double.
double FloatAsWritten(float value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf) - 1, value);
  if (ec != std::errc()) return value;
  *end = '\0';
  return std::strtod(buf, nullptr);
}

// numpy.linspace(start, stop, num) in float64.
std::vector<double> Linspace(double start, double stop, int num) {
  std::vector<double> y(num);
  if (num <= 0) return y;
  const int div = num - 1;
  const double delta = stop - start;
  for (int i = 0; i < num; ++i) y[i] = div > 0 ? i * (delta / div) + start : start;
  if (num > 1) y[num - 1] = stop;
  return y;
}

// numpy.arange(start, stop, step) in float64 (length ceil((stop - start) / step)).
std::vector<double> Arange(double start, double stop, double step) {
  const double n = std::ceil((stop - start) / step);
  std::vector<double> y;
  for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) y.push_back(start + i * step);
  return y;
}

// numpy.interp(x, arange(len(fp)), fp).
double InterpIndex(double x, const std::vector<float>& fp) {
  const int64_t n = static_cast<int64_t>(fp.size());
  if (x <= 0) return fp[0];
  if (x >= n - 1) return fp[n - 1];
  const auto lo = static_cast<int64_t>(std::floor(x));
  const double w = x - static_cast<double>(lo);
  const double a = fp[lo], b = fp[lo + 1];
  return w == 0 ? a : a + (b - a) * w;
}

// diffusers' _sigma_to_t: the (fractional) training timestep whose log-sigma interpolates to
// log(sigma). `log_sigmas` ascending with the timestep (float32 values as numpy keeps them).
double SigmaToT(double sigma, const std::vector<float>& log_sigmas) {
  const double log_sigma = std::log(std::max(sigma, 1e-10));
  const int64_t n = static_cast<int64_t>(log_sigmas.size());
  // low_idx = the last index with log_sigma >= log_sigmas[i] (argmax of the running count),
  // clipped to n - 2.
  int64_t count = 0, best = 0, low = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (log_sigma - static_cast<double>(log_sigmas[i]) >= 0) ++count;
    if (count > best) {
      best = count;
      low = i;
    }
  }
  low = std::min(low, n - 2);
  const double lo = log_sigmas[low], hi = log_sigmas[low + 1];
  const double w = std::clamp((lo - log_sigma) / (lo - hi), 0.0, 1.0);
  return (1 - w) * static_cast<double>(low) + w * static_cast<double>(low + 1);
}

double ToFloat(double v) { return static_cast<double>(static_cast<float>(v)); }

}  // namespace

std::vector<float> TrainingSigmas(const SchedulerConfig& config) {
  const int64_t n = config.num_train_timesteps;
  const double start = FloatAsWritten(config.beta_start);
  const double end = FloatAsWritten(config.beta_end);
  at::Tensor betas;
  if (config.beta_schedule == "scaled_linear") {
    betas = at::linspace(std::sqrt(start), std::sqrt(end), n, at::kFloat).pow(2);
  } else {
    betas = at::linspace(start, end, n, at::kFloat);
  }
  const at::Tensor alphas_cumprod = at::cumprod(1.0 - betas, 0);
  const at::Tensor sigmas = ((1 - alphas_cumprod) / alphas_cumprod).pow(0.5).contiguous();
  const float* p = sigmas.data_ptr<float>();
  return std::vector<float>(p, p + n);
}

StatusOr<SigmaSchedule> MakeSchedule(const SchedulerConfig& config, Sampler sampler, int steps) {
  const int n = config.num_train_timesteps;
  if (n < 2 || n > 100000) {
    return Status::InvalidArgument("scheduler num_train_timesteps " + std::to_string(n) +
                                   " is out of range");
  }
  if (steps < 1 || steps > n) {
    return Status::InvalidArgument("steps must be between 1 and " + std::to_string(n) + ", got " +
                                   std::to_string(steps));
  }
  if (config.beta_schedule != "scaled_linear" && config.beta_schedule != "linear") {
    return Status::InvalidArgument("unsupported beta_schedule '" + config.beta_schedule +
                                   "' (scaled_linear or linear)");
  }
  const std::vector<float> train = TrainingSigmas(config);
  SigmaSchedule s;

  if (sampler == Sampler::kDpmpp2mKarras) {
    // DPMSolverMultistepScheduler(use_karras_sigmas=True, final_sigmas_type="zero"): Karras
    // sigmas between the smallest and largest training sigma, whatever the spacing.
    const double sigma_min = train.front(), sigma_max = train.back();
    const double rho = 7.0;
    const double min_inv = std::pow(sigma_min, 1 / rho), max_inv = std::pow(sigma_max, 1 / rho);
    std::vector<float> log_sigmas(train.size());
    for (size_t i = 0; i < train.size(); ++i) log_sigmas[i] = std::log(train[i]);
    for (double r : Linspace(0, 1, steps)) {
      const double sigma = std::pow(max_inv + r * (min_inv - max_inv), rho);
      s.sigmas.push_back(ToFloat(sigma));
      s.timesteps.push_back(std::nearbyint(SigmaToT(sigma, log_sigmas)));
    }
    s.sigmas.push_back(0);
    // The solver starts from unit noise in the variance-preserving space: sqrt(sigma^2 + 1)
    // in this (variance-exploding) formulation.
    s.init_noise_sigma = std::sqrt(s.sigmas[0] * s.sigmas[0] + 1);
    return s;
  }

  // Euler / Euler ancestral: EulerDiscreteScheduler.set_timesteps.
  std::vector<double> t;
  if (config.timestep_spacing == "linspace") {
    t = Linspace(0, n - 1, steps);
    std::reverse(t.begin(), t.end());
  } else if (config.timestep_spacing == "leading") {
    const int ratio = n / steps;
    for (int i = steps - 1; i >= 0; --i) {
      t.push_back(static_cast<double>(i) * ratio + config.steps_offset);
    }
  } else if (config.timestep_spacing == "trailing") {
    const double ratio = static_cast<double>(n) / steps;
    for (double v : Arange(n, 0, -ratio)) t.push_back(std::nearbyint(v) - 1);
  } else {
    return Status::InvalidArgument("unsupported timestep_spacing '" + config.timestep_spacing +
                                   "' (leading, trailing or linspace)");
  }
  for (double& v : t) v = ToFloat(v);
  for (double v : t) s.sigmas.push_back(ToFloat(InterpIndex(v, train)));
  s.sigmas.push_back(0);
  s.timesteps = t;
  float max_sigma = 0;
  for (double v : s.sigmas) max_sigma = std::max(max_sigma, static_cast<float>(v));
  if (config.timestep_spacing == "linspace" || config.timestep_spacing == "trailing") {
    s.init_noise_sigma = max_sigma;
  } else {
    s.init_noise_sigma = std::sqrt(max_sigma * max_sigma + 1.0f);
  }
  return s;
}

double InputScale(double sigma) { return 1.0 / std::sqrt(sigma * sigma + 1); }

at::Tensor DenoisedFromModelOutput(const std::string& prediction_type, const at::Tensor& x,
                                   const at::Tensor& model_output, double sigma) {
  if (prediction_type == "v_prediction") {
    return x / (sigma * sigma + 1) - model_output * (sigma / std::sqrt(sigma * sigma + 1));
  }
  return x - model_output * sigma;
}

StatusOr<at::Tensor> Sample(Sampler sampler, const SigmaSchedule& schedule, const at::Tensor& noise,
                            const Denoiser& denoise, at::Generator generator,
                            const std::function<bool()>& cancelled,
                            const std::function<void(int)>& on_step) {
  const int steps = static_cast<int>(schedule.timesteps.size());
  if (steps < 1 || schedule.sigmas.size() != schedule.timesteps.size() + 1) {
    return Status::InvalidArgument("malformed sigma schedule");
  }
  at::Tensor x = noise.to(at::kFloat) * schedule.init_noise_sigma;
  at::Tensor old_denoised;
  for (int i = 0; i < steps; ++i) {
    if (cancelled && cancelled()) return Status::Cancelled("image generation cancelled");
    const double sigma = schedule.sigmas[i];
    const double sigma_next = schedule.sigmas[i + 1];
    const at::Tensor denoised = denoise(x, sigma, schedule.timesteps[i]).to(at::kFloat);
    switch (sampler) {
      case Sampler::kEuler:
      case Sampler::kDefault: {
        const at::Tensor d = (x - denoised) / sigma;
        x = x + d * (sigma_next - sigma);
        break;
      }
      case Sampler::kEulerAncestral: {
        const double up2 =
            sigma_next * sigma_next * (sigma * sigma - sigma_next * sigma_next) / (sigma * sigma);
        const double sigma_up = std::sqrt(std::max(up2, 0.0));
        const double sigma_down = std::sqrt(std::max(sigma_next * sigma_next - up2, 0.0));
        const at::Tensor d = (x - denoised) / sigma;
        x = x + d * (sigma_down - sigma);
        // diffusers draws the noise on every step, the last (sigma_up 0) included.
        const at::Tensor z = at::randn(x.sizes(), generator, at::TensorOptions(at::kFloat));
        x = x + z * sigma_up;
        break;
      }
      case Sampler::kDpmpp2mKarras: {
        if (sigma_next == 0) {
          x = denoised;  // first order to sigma 0: the estimate itself
        } else {
          const double t = -std::log(sigma), t_next = -std::log(sigma_next);
          const double h = t_next - t;
          at::Tensor d = denoised;
          if (old_denoised.defined()) {
            const double h_last = t + std::log(schedule.sigmas[i - 1]);
            const double r = h_last / h;
            d = denoised * (1 + 1 / (2 * r)) - old_denoised * (1 / (2 * r));
          }
          x = x * (sigma_next / sigma) - d * std::expm1(-h);
        }
        old_denoised = denoised;
        break;
      }
    }
    if (on_step) on_step(i);
  }
  return x;
}

}  // namespace basalt::image
