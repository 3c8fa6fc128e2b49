"""Reference schedulers, written from diffusers' documented behaviour (EulerDiscreteScheduler,
EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler with algorithm_type "dpmsolver++",
solver_order 2, use_karras_sigmas, final_sigmas_type "zero", lower_order_final).

Unlike the C++ (src/image/sampler.cc, k-diffusion's variance-exploding form throughout), the
DPM-Solver++ reference runs as diffusers does: in the variance-preserving space with
alpha_t / sigma_t and lambda_t = log(alpha_t) - log(sigma_t), and the Euler schedulers with
scale_model_input. A scheduler is used as

    s = make(config, "euler" | "euler_a" | "dpmpp_2m_karras", steps)
    x = torch.randn(shape, generator=g) * s.init_noise_sigma
    for t in s.timesteps: x = s.step(model(s.scale_model_input(x), t), x, generator=g)
"""
import json

import numpy as np
import torch

COMMANDS = {}


def training_alphas_cumprod(config):
    n = config.get("num_train_timesteps", 1000)
    start, end = config.get("beta_start", 0.0001), config.get("beta_end", 0.02)
    schedule = config.get("beta_schedule", "linear")
    if schedule == "scaled_linear":
        betas = torch.linspace(start ** 0.5, end ** 0.5, n, dtype=torch.float32) ** 2
    elif schedule == "linear":
        betas = torch.linspace(start, end, n, dtype=torch.float32)
    else:
        raise ValueError(schedule)
    return torch.cumprod(1.0 - betas, dim=0)


def _to_d_sigma(config, sample, model_output, sigma):
    if config.get("prediction_type", "epsilon") == "v_prediction":
        return model_output * (-sigma / (sigma ** 2 + 1) ** 0.5) + sample / (sigma ** 2 + 1)
    return sample - sigma * model_output


class EulerSchedule:
    """EulerDiscreteScheduler (ancestral=False) / EulerAncestralDiscreteScheduler."""

    def __init__(self, config, steps, ancestral):
        self.config, self.ancestral = config, ancestral
        n = config.get("num_train_timesteps", 1000)
        spacing = config.get("timestep_spacing", "linspace")
        ac = training_alphas_cumprod(config)
        if spacing == "linspace":
            timesteps = np.linspace(0, n - 1, steps, dtype=np.float32)[::-1].copy()
        elif spacing == "leading":
            ratio = n // steps
            timesteps = (np.arange(0, steps) * ratio).round()[::-1].copy().astype(np.float32)
            timesteps += config.get("steps_offset", 0)
        elif spacing == "trailing":
            ratio = n / steps
            timesteps = (np.arange(n, 0, -ratio)).round().copy().astype(np.float32)
            timesteps -= 1
        else:
            raise ValueError(spacing)
        sigmas = np.array(((1 - ac) / ac) ** 0.5)
        sigmas = np.interp(timesteps, np.arange(0, len(sigmas)), sigmas)
        sigmas = np.concatenate([sigmas, [0.0]]).astype(np.float32)
        self.sigmas = torch.from_numpy(sigmas)
        self.timesteps = torch.from_numpy(timesteps.astype(np.float32))
        max_sigma = self.sigmas.max()
        if spacing in ("linspace", "trailing"):
            self.init_noise_sigma = max_sigma
        else:
            self.init_noise_sigma = (max_sigma ** 2 + 1) ** 0.5
        self.index = 0

    def scale_model_input(self, sample):
        sigma = self.sigmas[self.index]
        return sample / ((sigma ** 2 + 1) ** 0.5)

    def step(self, model_output, sample, generator=None):
        sigma = self.sigmas[self.index]
        sigma_next = self.sigmas[self.index + 1]
        denoised = _to_d_sigma(self.config, sample, model_output, sigma)
        derivative = (sample - denoised) / sigma
        if self.ancestral:
            sigma_up = (sigma_next ** 2 * (sigma ** 2 - sigma_next ** 2) / sigma ** 2) ** 0.5
            sigma_down = (sigma_next ** 2 - sigma_up ** 2) ** 0.5
            prev = sample + derivative * (sigma_down - sigma)
            noise = torch.randn(model_output.shape, generator=generator,
                                dtype=model_output.dtype)
            prev = prev + noise * sigma_up
        else:
            prev = sample + derivative * (sigma_next - sigma)
        self.index += 1
        return prev


class DpmSolverSchedule:
    """DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2,
    use_karras_sigmas=True, final_sigmas_type="zero", solver_type="midpoint")."""

    def __init__(self, config, steps):
        self.config = config
        ac = training_alphas_cumprod(config)
        sigmas = np.array(((1 - ac) / ac) ** 0.5)
        log_sigmas = np.log(sigmas)
        sigmas = np.flip(sigmas).copy()
        sigma_min, sigma_max = sigmas[-1].item(), sigmas[0].item()
        rho = 7.0
        ramp = np.linspace(0, 1, steps)
        min_inv, max_inv = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
        sigmas = (max_inv + ramp * (min_inv - max_inv)) ** rho
        timesteps = np.array([self._sigma_to_t(s, log_sigmas) for s in sigmas]).round()
        sigmas = np.concatenate([sigmas, [0.0]]).astype(np.float32)
        self.sigmas = torch.from_numpy(sigmas)
        self.timesteps = torch.from_numpy(timesteps).to(dtype=torch.int64)
        self.init_noise_sigma = 1.0
        self.model_outputs = [None, None]
        self.lower_order_nums = 0
        self.index = 0

    @staticmethod
    def _sigma_to_t(sigma, log_sigmas):
        log_sigma = np.log(np.maximum(sigma, 1e-10))
        dists = log_sigma - log_sigmas[:, np.newaxis]
        low_idx = np.cumsum((dists >= 0), axis=0).argmax(axis=0).clip(max=log_sigmas.shape[0] - 2)
        high_idx = low_idx + 1
        low, high = log_sigmas[low_idx], log_sigmas[high_idx]
        w = np.clip((low - log_sigma) / (low - high), 0, 1)
        t = (1 - w) * low_idx + w * high_idx
        return t.reshape(np.shape(sigma))

    @staticmethod
    def _alpha_sigma(sigma):
        alpha_t = 1 / ((sigma ** 2 + 1) ** 0.5)
        return alpha_t, sigma * alpha_t

    def scale_model_input(self, sample):
        return sample

    def _convert_model_output(self, model_output, sample):
        alpha_t, sigma_t = self._alpha_sigma(self.sigmas[self.index])
        if self.config.get("prediction_type", "epsilon") == "v_prediction":
            return alpha_t * sample - sigma_t * model_output
        return (sample - sigma_t * model_output) / alpha_t

    def step(self, model_output, sample, generator=None):
        lower_order_final = self.index == len(self.timesteps) - 1  # final_sigmas_type "zero"
        x0 = self._convert_model_output(model_output, sample)
        self.model_outputs = [self.model_outputs[1], x0]
        sigma_t, sigma_s0 = self.sigmas[self.index + 1], self.sigmas[self.index]
        alpha_t, sigma_t = self._alpha_sigma(sigma_t)
        alpha_s0, sigma_s0 = self._alpha_sigma(sigma_s0)
        lambda_t = torch.log(alpha_t) - torch.log(sigma_t)
        lambda_s0 = torch.log(alpha_s0) - torch.log(sigma_s0)
        h = lambda_t - lambda_s0
        if self.lower_order_nums < 1 or lower_order_final:
            prev = (sigma_t / sigma_s0) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * x0
        else:
            m0, m1 = self.model_outputs[1], self.model_outputs[0]
            alpha_s1, sigma_s1 = self._alpha_sigma(self.sigmas[self.index - 1])
            lambda_s1 = torch.log(alpha_s1) - torch.log(sigma_s1)
            r0 = (lambda_s0 - lambda_s1) / h
            d0, d1 = m0, (1.0 / r0) * (m0 - m1)
            prev = ((sigma_t / sigma_s0) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * d0
                    - 0.5 * (alpha_t * (torch.exp(-h) - 1.0)) * d1)
        if self.lower_order_nums < 2:
            self.lower_order_nums += 1
        self.index += 1
        return prev


def make(config, sampler, steps):
    if sampler == "euler":
        return EulerSchedule(config, steps, ancestral=False)
    if sampler == "euler_a":
        return EulerSchedule(config, steps, ancestral=True)
    if sampler == "dpmpp_2m_karras":
        return DpmSolverSchedule(config, steps)
    raise ValueError(sampler)


def k_sigmas(schedule):
    """The schedule in the variance-exploding form the C++ reports (sigmas, timesteps, init)."""
    init = schedule.init_noise_sigma
    if isinstance(schedule, DpmSolverSchedule):
        init = float((schedule.sigmas[0].double() ** 2 + 1) ** 0.5)
    return schedule.sigmas.double(), schedule.timesteps.double(), float(init)


def analytic_model(x_in, t):
    """A fixed stand-in for the UNet: depends on the scaled input and the timestep."""
    return 0.5 * torch.tanh(x_in) + 0.3 * torch.sin(x_in * 2.0 + t / 250.0)


def sample(config, sampler, steps, shape, seed, model=analytic_model):
    """Runs the scheduler from torch.randn(shape, generator=manual_seed(seed)); returns the
    final sample in the variance-exploding space (the VP result times 1 for sigma 0)."""
    g = torch.Generator().manual_seed(seed)
    s = make(config, sampler, steps)
    x = torch.randn(shape, generator=g) * s.init_noise_sigma
    for t in s.timesteps:
        x = s.step(model(s.scale_model_input(x), t.to(torch.float32)), x, generator=g)
    return x


def _sampler_cmd(args):
    """Schedules (and samples with the analytic model) for one config, several samplers and
    step counts: outputs <sampler>_sigmas_<steps>, _timesteps_, _init_, _sample_."""
    config = json.loads(args.config)
    out = {}
    for name in args.sampler.split(","):
        for steps in (int(v) for v in args.steps.split(",")):
            s = make(config, name, steps)
            sigmas, timesteps, init = k_sigmas(s)
            key = f"{name}_%s_{steps}"
            out[key % "sigmas"] = sigmas
            out[key % "timesteps"] = timesteps
            out[key % "init"] = torch.tensor([init], dtype=torch.float64)
            if args.shape:
                shape = [int(v) for v in args.shape.split(",")]
                out[key % "sample"] = sample(config, name, steps, shape, int(args.seed))
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in out.items()}, args.out)


COMMANDS["sampler"] = (_sampler_cmd, (
    (("--config",), {"required": True, "help": "scheduler_config.json text"}),
    (("--sampler",), {"required": True, "help": "samplers, comma-separated"}),
    (("--steps",), {"required": True, "help": "step counts, comma-separated"}),
    (("--shape",), {"default": "", "help": "e.g. 1,4,8,8: also run the analytic model"}),
    (("--seed",), {"default": "0"}),
))
