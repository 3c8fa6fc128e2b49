"""AutoencoderKL (the Stable Diffusion VAE) written independently in PyTorch, with module
names that give exactly diffusers' state_dict() names (encoder.*, decoder.*, quant_conv,
post_quant_conv), built from diffusers' vae/config.json.

Commands (see run.py):
  vae-decode  inputs {"z": [B, latent, h, w]} (already divided by scaling_factor)
              -> {"image": [B, 3, 8h, 8w]}: decoder(post_quant_conv(z)), not clamped.
  vae-encode  inputs {"image": [B, 3, H, W]} in [-1, 1] -> {"mean": [B, latent, H/8, W/8]}
              (the posterior's mean, before scaling_factor); with "z" in the inputs too, also
              {"image": decode(z)} (one run for both).
  make-vae    --model DIR --shape tiny|real --seed N: config.json and
              diffusion_pytorch_model.safetensors with random weights.
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from tests.image.ref import randomize_, read_config, weights_file, write_config

COMMANDS = {}

CONFIGS = {
    "tiny": dict(in_channels=3, out_channels=3, latent_channels=4,
                 block_out_channels=[8, 16, 16, 16], layers_per_block=1, norm_num_groups=4,
                 scaling_factor=0.18215, act_fn="silu", sample_size=64,
                 down_block_types=["DownEncoderBlock2D"] * 4,
                 up_block_types=["UpDecoderBlock2D"] * 4, _class_name="AutoencoderKL"),
}
CONFIGS["real"] = dict(CONFIGS["tiny"], block_out_channels=[128, 256, 512, 512],
                       layers_per_block=2, norm_num_groups=32, sample_size=512)

EPS = 1e-6  # every GroupNorm of the SD VAE


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=EPS)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=EPS)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class Attention(nn.Module):
    """One head over all channels, GroupNorm first, residual added."""

    def __init__(self, c, groups):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, c, eps=EPS)
        self.to_q = nn.Linear(c, c)
        self.to_k = nn.Linear(c, c)
        self.to_v = nn.Linear(c, c)
        self.to_out = nn.ModuleList([nn.Linear(c, c), nn.Dropout(0.0)])

    def forward(self, x):
        b, c, h, w = x.shape
        t = self.group_norm(x).view(b, c, h * w).transpose(1, 2)
        q, k, v = self.to_q(t), self.to_k(t), self.to_v(t)
        a = torch.softmax((q @ k.transpose(1, 2)).float() * c ** -0.5, dim=-1).to(v.dtype)
        o = self.to_out[0](a @ v)
        return x + o.transpose(1, 2).reshape(b, c, h, w)


class MidBlock(nn.Module):
    def __init__(self, c, groups):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(c, c, groups), ResnetBlock2D(c, c, groups)])
        self.attentions = nn.ModuleList([Attention(c, groups)])

    def forward(self, x):
        x = self.resnets[0](x)
        return self.resnets[1](self.attentions[0](x))


class Upsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Downsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class UpDecoderBlock2D(nn.Module):
    def __init__(self, cin, cout, layers, groups, upsample):
        super().__init__()
        self.resnets = nn.ModuleList(
            [ResnetBlock2D(cin if i == 0 else cout, cout, groups) for i in range(layers)])
        self.upsamplers = nn.ModuleList([Upsample2D(cout)]) if upsample else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        return self.upsamplers[0](x) if self.upsamplers is not None else x


class DownEncoderBlock2D(nn.Module):
    def __init__(self, cin, cout, layers, groups, downsample):
        super().__init__()
        self.resnets = nn.ModuleList(
            [ResnetBlock2D(cin if i == 0 else cout, cout, groups) for i in range(layers)])
        self.downsamplers = nn.ModuleList([Downsample2D(cout)]) if downsample else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        return self.downsamplers[0](x) if self.downsamplers is not None else x


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch = list(reversed(cfg["block_out_channels"]))
        g, n = cfg["norm_num_groups"], cfg["layers_per_block"]
        self.conv_in = nn.Conv2d(cfg["latent_channels"], ch[0], 3, padding=1)
        self.mid_block = MidBlock(ch[0], g)
        self.up_blocks = nn.ModuleList([
            UpDecoderBlock2D(ch[max(i - 1, 0)], ch[i], n + 1, g, i + 1 < len(ch))
            for i in range(len(ch))])
        self.conv_norm_out = nn.GroupNorm(g, ch[-1], eps=EPS)
        self.conv_out = nn.Conv2d(ch[-1], cfg["out_channels"], 3, padding=1)

    def forward(self, z):
        x = self.mid_block(self.conv_in(z))
        for b in self.up_blocks:
            x = b(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch = cfg["block_out_channels"]
        g, n = cfg["norm_num_groups"], cfg["layers_per_block"]
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch[0], 3, padding=1)
        self.down_blocks = nn.ModuleList([
            DownEncoderBlock2D(ch[max(i - 1, 0)], ch[i], n, g, i + 1 < len(ch))
            for i in range(len(ch))])
        self.mid_block = MidBlock(ch[-1], g)
        self.conv_norm_out = nn.GroupNorm(g, ch[-1], eps=EPS)
        self.conv_out = nn.Conv2d(ch[-1], 2 * cfg["latent_channels"], 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for b in self.down_blocks:
            x = b(x)
        return self.conv_out(F.silu(self.conv_norm_out(self.mid_block(x))))


class AutoencoderKL(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg["latent_channels"]
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quant_conv = nn.Conv2d(2 * c, 2 * c, 1)
        self.post_quant_conv = nn.Conv2d(c, c, 1)

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))

    def encode_mean(self, x):
        return self.quant_conv(self.encoder(x)).chunk(2, dim=1)[0]


def load(path, dtype=torch.float32):
    from safetensors.torch import load_file
    model = AutoencoderKL(read_config(path)).eval()
    state = load_file(weights_file(path, ("diffusion_pytorch_model.safetensors",
                                          "model.safetensors")))
    # Without the encoder in the file, decode still works (strict only for the decoder).
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in state.items()},
                                                strict=False)
    bad = [k for k in missing if not k.startswith(("encoder.", "quant_conv."))]
    if bad or unexpected:
        raise ValueError(f"vae weights: missing {bad}, unexpected {unexpected}")
    return model.to(dtype)


def _cmd_decode(args):
    """VAE decode: z -> image (--dtype bf16: weights and activations in bf16, channels-last;
    --repeat N: also "seconds", the wall and CPU time of the fastest of N decodes)."""
    import time
    from tests.image.ref.run import load_inputs, save_outputs
    z = load_inputs(args.inputs)["z"].float()
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    model = load(args.model, dtype)
    if args.dtype == "bf16":
        model = model.to(memory_format=torch.channels_last)
    best = None
    with torch.no_grad():
        for _ in range(max(args.repeat, 1)):
            wall, cpu = time.perf_counter(), time.process_time()
            image = model.decode(z.to(dtype)).float()
            took = (time.perf_counter() - wall, time.process_time() - cpu)
            best = took if best is None or took[0] < best[0] else best
    out = {"image": image}
    if args.repeat > 0:
        out["seconds"] = torch.tensor(best, dtype=torch.float32)
    save_outputs(out, args.out)


def _cmd_encode(args):
    """VAE encode: image -> posterior mean (and z -> image when the inputs have z too)."""
    from tests.image.ref.run import load_inputs, save_outputs
    inputs = load_inputs(args.inputs)
    model = load(args.model)
    out = {}
    with torch.no_grad():
        out["mean"] = model.encode_mean(inputs["image"].float())
        if "z" in inputs:
            out["image"] = model.decode(inputs["z"].float())
    save_outputs(out, args.out)


def _cmd_make(args):
    """Random-weight VAE (config.json + diffusion_pytorch_model.safetensors)."""
    from safetensors.torch import save_file
    cfg = dict(CONFIGS[args.shape])
    model = randomize_(AutoencoderKL(cfg), args.seed)
    write_config(args.model, cfg)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(args.model, "diffusion_pytorch_model.safetensors"))


COMMANDS["vae-decode"] = (_cmd_decode, ((("--dtype",), {"default": "f32"}),
                                        (("--repeat",), {"type": int, "default": 0})))
COMMANDS["vae-encode"] = (_cmd_encode, ())
COMMANDS["make-vae"] = (_cmd_make, ((("--shape",), {"default": "tiny"}),
                                    (("--seed",), {"type": int, "default": 0})))
