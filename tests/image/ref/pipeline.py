"""Reference text-to-image loop (what diffusers' StableDiffusionPipeline does) over the
reference modules: CLIP (transformers), the UNet (unet.py), the VAE (vae.py) and the
schedulers (sampler.py). The prompt ids come from the caller (the tokenizer has its own test).

Per image i: generator = torch.Generator().manual_seed(seed + i); latents = randn([1, 4, H/8,
W/8], generator) * init_noise_sigma; per timestep the UNet runs on [uncond, cond] when
cfg > 1 (on cond alone otherwise), guidance uncond + cfg * (cond - uncond), the scheduler steps
(ancestral noise from the same generator); the VAE decodes latents / scaling_factor; pixels
are round(clamp(x / 2 + 0.5, 0, 1) * 255).
"""
import json
import os

import torch

from tests.image.ref import clip as _clip
from tests.image.ref import sampler as _sampler
from tests.image.ref import unet as _unet
from tests.image.ref import vae as _vae

COMMANDS = {}


def _scheduler_config(model, variant):
    with open(os.path.join(model, "scheduler", "scheduler_config.json")) as f:
        config = json.load(f)
    if variant == "sd-turbo":
        config["timestep_spacing"] = "trailing"
    return config


def generate(model, ids_cond, ids_uncond, variant, sampler, steps, cfg, seed, count, width,
             height):
    """Returns ([latents per image], [uint8 HxWx3 per image])."""
    skip = 0 if variant == "sd1" else 1
    text = _clip.load(os.path.join(model, "text_encoder"))
    unet = _unet.load(model)
    vae = _vae.load(os.path.join(model, "vae"))
    scaling = _vae.read_config(os.path.join(model, "vae")).get("scaling_factor", 0.18215)
    config = _scheduler_config(model, variant)
    guided = cfg > 1
    with torch.inference_mode():
        context = _clip.encode(text, ids_cond, skip)
        if guided:
            context = torch.cat([_clip.encode(text, ids_uncond, skip), context])
        latents_out, pixels_out = [], []
        for i in range(count):
            g = torch.Generator().manual_seed(seed + i)
            s = _sampler.make(config, sampler, steps)
            x = torch.randn([1, 4, height // 8, width // 8], generator=g) * s.init_noise_sigma
            for t in s.timesteps:
                xin = s.scale_model_input(x)
                if guided:
                    out = unet(torch.cat([xin, xin]), t.float().expand(2), context)
                    uncond, cond = out.chunk(2)
                    out = uncond + cfg * (cond - uncond)
                else:
                    out = unet(xin, t.float().expand(1), context)
                x = s.step(out, x, generator=g)
            image = vae.decode(x / scaling)
            pixels = ((image[0] / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)
            latents_out.append(x)
            pixels_out.append(pixels.permute(1, 2, 0).contiguous())
        return latents_out, pixels_out


def _pipeline_cmd(args):
    """Text-to-image with the reference modules: ids -> latents_i, pixels_i."""
    from tests.image.ref.run import load_inputs, save_outputs
    inputs = load_inputs(args.inputs)
    c = json.loads(args.config)
    latents, pixels = generate(args.model, inputs["ids_cond"].long(), inputs["ids_uncond"].long(),
                               c["variant"], c["sampler"], c["steps"], c["cfg"], c["seed"],
                               c["count"], c["width"], c["height"])
    out = {}
    for i, (lat, px) in enumerate(zip(latents, pixels)):
        out[f"latents_{i}"] = lat.float()
        out[f"pixels_{i}"] = px
    save_outputs(out, args.out)


COMMANDS["pipeline"] = (_pipeline_cmd, (
    (("--config",), {"required": True,
                     "help": "JSON: variant, sampler, steps, cfg, seed, count, width, height"}),
))
