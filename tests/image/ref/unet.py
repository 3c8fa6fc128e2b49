"""Independent PyTorch reference of diffusers' UNet2DConditionModel (SD 1.x / 2.x family).

Written from the published architecture (no diffusers package in Debian); state_dict() names
equal diffusers' exactly, so a diffusers checkpoint (unet/diffusion_pytorch_model.safetensors)
loads with strict=True. Built from the unet/config.json dict.

Commands (registered with tests/image/ref/run.py):
    unet              --model DIR --inputs IN --out OUT [--dtype f32|bf16]
                      inputs latents [B,C,h,w], timesteps [B], context [B,77,D] -> out
    unet-make-random  --model CONFIG.json --out WEIGHTS.safetensors [--seed N]
"""
import json
import math
import os

import torch
import torch.nn.functional as F
from torch import nn

COMMANDS = {}
# "math" (matmul, softmax, matmul: what the C++ does) or "sdpa" (torch's fused kernel).
ATTENTION = os.environ.get("BASALT_REF_ATTENTION", "math")


def _command(name, extra_args=()):
    def register(fn):
        COMMANDS[name] = (fn, extra_args)
        return fn
    return register


def _per_block(value, n):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value] * n


class Timesteps(nn.Module):
    """Sinusoidal embedding (diffusers' get_timestep_embedding, scale 1, max_period 10000)."""

    def __init__(self, dim, flip_sin_to_cos, freq_shift):
        super().__init__()
        self.dim, self.flip, self.shift = dim, flip_sin_to_cos, freq_shift

    def forward(self, t):
        half = self.dim // 2
        exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32) / (half - self.shift)
        emb = t.float()[:, None] * torch.exp(exponent)[None, :]
        emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
        if self.flip:
            emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
        if self.dim % 2 == 1:
            emb = F.pad(emb, (0, 1))
        return emb


class TimestepEmbedding(nn.Module):
    def __init__(self, in_dim, dim):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, temb, groups, eps):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps, affine=True)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps, affine=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        return x + h


class Attention(nn.Module):
    def __init__(self, dim, heads, head_dim, context_dim=None, upcast=False):
        super().__init__()
        inner = heads * head_dim
        context_dim = context_dim or dim
        self.heads, self.upcast = heads, upcast
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim, inner, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim), nn.Dropout(0.0)])

    def forward(self, x, context=None):
        context = x if context is None else context
        b, n, _ = x.shape
        q, k, v = self.to_q(x), self.to_k(context), self.to_v(context)

        def split(t):
            return t.reshape(b, t.shape[1], self.heads, -1).transpose(1, 2)  # [b, h, n, d]
        q, k, v = split(q), split(k), split(v)
        if ATTENTION == "sdpa" and not self.upcast:
            out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, -1)
            return self.to_out[1](self.to_out[0](out))
        scale = q.shape[-1] ** -0.5
        if self.upcast:
            q, k = q.float(), k.float()
        scores = torch.matmul(q, k.transpose(-1, -2)) * scale
        probs = scores.softmax(dim=-1).to(v.dtype)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(b, n, -1)
        return self.to_out[1](self.to_out[0](out))


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, dim * 4), nn.Dropout(0.0), nn.Linear(dim * 4, dim)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, heads, head_dim, context_dim, upcast):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads, head_dim, None, upcast)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, heads, head_dim, context_dim, upcast)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x, context):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        return self.ff(self.norm3(x)) + x


class Transformer2DModel(nn.Module):
    def __init__(self, heads, head_dim, channels, layers, context_dim, groups, linear, upcast):
        super().__init__()
        inner = heads * head_dim
        self.linear = linear
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6, affine=True)
        self.proj_in = nn.Linear(channels, inner) if linear else nn.Conv2d(channels, inner, 1)
        self.transformer_blocks = nn.ModuleList(
            [BasicTransformerBlock(inner, heads, head_dim, context_dim, upcast)
             for _ in range(layers)])
        self.proj_out = nn.Linear(inner, channels) if linear else nn.Conv2d(inner, channels, 1)

    def forward(self, x, context):
        b, _, h, w = x.shape
        residual = x
        x = self.norm(x)
        if not self.linear:
            x = self.proj_in(x)
        x = x.permute(0, 2, 3, 1).reshape(b, h * w, -1)
        if self.linear:
            x = self.proj_in(x)
        for block in self.transformer_blocks:
            x = block(x, context)
        if self.linear:
            x = self.proj_out(x)
        x = x.reshape(b, h, w, -1).permute(0, 3, 1, 2).contiguous()
        if not self.linear:
            x = self.proj_out(x)
        return x + residual


class Downsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x, size):
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class DownBlock(nn.Module):
    def __init__(self, cin, cout, temb, layers, groups, eps, attn, downsample):
        super().__init__()
        self.resnets = nn.ModuleList(
            [ResnetBlock2D(cin if i == 0 else cout, cout, temb, groups, eps) for i in range(layers)])
        if attn is not None:
            self.attentions = nn.ModuleList([attn() for _ in range(layers)])
        else:
            self.attentions = None
        self.downsamplers = nn.ModuleList([Downsample2D(cout)]) if downsample else None

    def forward(self, x, temb, context):
        outs = []
        for i, resnet in enumerate(self.resnets):
            x = resnet(x, temb)
            if self.attentions is not None:
                x = self.attentions[i](x, context)
            outs.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            outs.append(x)
        return x, outs


class UpBlock(nn.Module):
    def __init__(self, cin, cout, prev, temb, layers, groups, eps, attn, upsample):
        super().__init__()
        resnets = []
        for i in range(layers):
            skip = cin if i == layers - 1 else cout
            rin = prev if i == 0 else cout
            resnets.append(ResnetBlock2D(rin + skip, cout, temb, groups, eps))
        self.resnets = nn.ModuleList(resnets)
        if attn is not None:
            self.attentions = nn.ModuleList([attn() for _ in range(layers)])
        else:
            self.attentions = None
        self.upsamplers = nn.ModuleList([Upsample2D(cout)]) if upsample else None

    def forward(self, x, skips, temb, context, up_size):
        for i, resnet in enumerate(self.resnets):
            x = torch.cat([x, skips.pop()], dim=1)
            x = resnet(x, temb)
            if self.attentions is not None:
                x = self.attentions[i](x, context)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x, up_size)
        return x


class MidBlock(nn.Module):
    def __init__(self, channels, temb, groups, eps, attn):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(channels, channels, temb, groups, eps),
                                      ResnetBlock2D(channels, channels, temb, groups, eps)])
        self.attentions = nn.ModuleList([attn()])

    def forward(self, x, temb, context):
        x = self.resnets[0](x, temb)
        x = self.attentions[0](x, context)
        return self.resnets[1](x, temb)


class UNet2DConditionModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        c = dict(config)
        boc = list(c.get("block_out_channels", [320, 640, 1280, 1280]))
        down_types = c.get("down_block_types")
        up_types = c.get("up_block_types")
        n = len(boc)
        layers = c.get("layers_per_block", 2)
        groups = c.get("norm_num_groups", 32)
        eps = c.get("norm_eps", 1e-5)
        ctx = c.get("cross_attention_dim", 768)
        linear = c.get("use_linear_projection", False)
        upcast = c.get("upcast_attention", False)
        tlayers = _per_block(c.get("transformer_layers_per_block", 1), n)
        # diffusers' legacy naming: attention_head_dim is the number of heads unless
        # num_attention_heads is given.
        heads = _per_block(c.get("num_attention_heads") or c.get("attention_head_dim", 8), n)
        temb = boc[0] * 4

        self.conv_in = nn.Conv2d(c.get("in_channels", 4), boc[0], 3, padding=1)
        self.time_proj = Timesteps(boc[0], c.get("flip_sin_to_cos", True), c.get("freq_shift", 0))
        self.time_embedding = TimestepEmbedding(boc[0], temb)

        def attn_factory(ch, i):
            return lambda: Transformer2DModel(heads[i], ch // heads[i], ch, tlayers[i], ctx, groups,
                                              linear, upcast)

        self.down_blocks = nn.ModuleList()
        out_ch = boc[0]
        for i, kind in enumerate(down_types):
            in_ch, out_ch = out_ch, boc[i]
            attn = attn_factory(out_ch, i) if kind == "CrossAttnDownBlock2D" else None
            if kind not in ("CrossAttnDownBlock2D", "DownBlock2D"):
                raise ValueError("unsupported down block " + kind)
            self.down_blocks.append(DownBlock(in_ch, out_ch, temb, layers, groups, eps, attn,
                                              i != n - 1))
        self.mid_block = MidBlock(boc[-1], temb, groups, eps, attn_factory(boc[-1], n - 1))

        rboc = list(reversed(boc))
        rheads = list(reversed(heads))
        rtl = list(reversed(tlayers))
        self.up_blocks = nn.ModuleList()
        out_ch = rboc[0]
        for i, kind in enumerate(up_types):
            prev, out_ch, in_ch = out_ch, rboc[i], rboc[min(i + 1, n - 1)]
            if kind == "CrossAttnUpBlock2D":
                attn = (lambda ch=out_ch, h=rheads[i], t=rtl[i]: Transformer2DModel(
                    h, ch // h, ch, t, ctx, groups, linear, upcast))
            elif kind == "UpBlock2D":
                attn = None
            else:
                raise ValueError("unsupported up block " + kind)
            self.up_blocks.append(UpBlock(in_ch, out_ch, prev, temb, layers + 1, groups, eps,
                                          attn, i != n - 1))
        self.conv_norm_out = nn.GroupNorm(groups, boc[0], eps=eps)
        self.conv_out = nn.Conv2d(boc[0], c.get("out_channels", 4), 3, padding=1)

    def forward(self, sample, timesteps, context):
        t = timesteps.reshape(-1).expand(sample.shape[0])
        emb = self.time_embedding(self.time_proj(t).to(sample.dtype))
        x = self.conv_in(sample)
        skips = [x]
        for block in self.down_blocks:
            x, outs = block(x, emb, context)
            skips.extend(outs)
        x = self.mid_block(x, emb, context)
        for block in self.up_blocks:
            n = len(block.resnets)
            mine, skips = skips[-n:], skips[:-n]
            up_size = skips[-1].shape[2:] if skips else None
            x = block(x, mine, emb, context, up_size)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


def init_random(model, seed):
    """normal(0, 1/sqrt(fan_in)) weights, zero biases, unit norm weights: activations stay O(1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.zero_()
            elif p.dim() == 1:
                p.fill_(1.0)
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))
    return model


def _unet_dir(path):
    if os.path.isfile(os.path.join(path, "unet", "config.json")):
        return os.path.join(path, "unet")
    return path


def load(path, dtype=torch.float32):
    """Builds the model from DIR/config.json (DIR or DIR/unet) and loads its weights strictly."""
    from safetensors.torch import load_file
    d = _unet_dir(path)
    with open(os.path.join(d, "config.json")) as f:
        config = json.load(f)
    model = UNet2DConditionModel(config)
    state = load_file(os.path.join(d, "diffusion_pytorch_model.safetensors"))
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return model.to(dtype).eval()


_DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}


@_command("unet", extra_args=((("--dtype",), {"default": "f32"}),))
def _unet_cmd(args):
    """UNet forward: inputs latents, timesteps, context -> out (float32)."""
    from safetensors.torch import load_file, save_file
    dtype = _DTYPES[args.dtype]
    model = load(args.model, dtype)
    inputs = load_file(args.inputs)
    with torch.inference_mode():
        out = model(inputs["latents"].to(dtype), inputs["timesteps"].float(),
                    inputs["context"].to(dtype))
    save_file({"out": out.float().contiguous()}, args.out)


@_command("unet-make-random", extra_args=((("--seed",), {"type": int, "default": 0}),))
def _make_random_cmd(args):
    """Random UNet weights for the config.json given as --model, written to --out."""
    from safetensors.torch import save_file
    with open(args.model) as f:
        config = json.load(f)
    model = init_random(UNet2DConditionModel(config), args.seed)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, args.out)


def sd15_config():
    """SD 1.5's unet/config.json (the fields the model reads)."""
    return {"in_channels": 4, "out_channels": 4, "sample_size": 64,
            "block_out_channels": [320, 640, 1280, 1280],
            "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
            "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
            "layers_per_block": 2, "attention_head_dim": 8, "cross_attention_dim": 768,
            "norm_num_groups": 32, "norm_eps": 1e-5, "flip_sin_to_cos": True, "freq_shift": 0}


@_command("unet-bench", extra_args=(
    (("--threads",), {"type": int, "default": 2}),
    (("--runs",), {"type": int, "default": 3}),
    (("--batch",), {"type": int, "default": 2}),
    (("--size",), {"type": int, "default": 64, "help": "latent height and width"}),
    (("--save",), {"default": "", "help": "also write the weights (bf16) here"}),
    (("--dtype",), {"default": "bf16"})))
def _bench_cmd(args):
    """Times an SD-1.5-shaped UNet forward (random weights); --out gets the inputs/output."""
    import time
    from safetensors.torch import save_file
    torch.set_num_threads(args.threads)
    dtype = _DTYPES[args.dtype]
    model = init_random(UNet2DConditionModel(sd15_config()), 1).to(dtype).eval()
    if args.save:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, args.save)
    g = torch.Generator().manual_seed(2)
    latents = torch.randn((args.batch, 4, args.size, args.size), generator=g)
    t = torch.full((args.batch,), 500.0)
    context = torch.randn((args.batch, 77, 768), generator=g)
    times, cpu = [], []
    with torch.inference_mode():
        for _ in range(args.runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            out = model(latents.to(dtype), t, context.to(dtype))
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    print("torch %s %s attention, %d threads, batch %d, %dx%d latent: best %.3f s (runs %s), "
          "CPU time best %.3f s (runs %s)" % (
              torch.__version__, ATTENTION, args.threads, args.batch, args.size, args.size,
              min(times), " ".join("%.3f" % x for x in times), min(cpu),
              " ".join("%.3f" % x for x in cpu)))
    save_file({"latents": latents, "timesteps": t, "context": context,
               "out": out.float().contiguous()}, args.out)
