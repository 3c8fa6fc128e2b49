"""The tiny autoencoders of the taesd project (TAESD: 4 latent channels; TAEF2: 32, with a
GroupNorm "pool" branch in the blocks next to the latent), in PyTorch with the published
Sequential index names ("0.weight", "1.conv.0.weight", ...). The architecture is read from
the tensors, as Basalt's TaeDecoder / TaeEncoder do.

Commands (see run.py):
  tae-decode  --model FILE  inputs {"z": [B, latent, h, w]} -> {"image": decoder(z) clamped
              to [0, 1], [B, 3, 8h, 8w]}
  tae-encode  --model FILE  inputs {"image": [B, 3, H, W] in [0, 1]} -> {"latent": ...}
  make-tae    --model DIR --latent N --channels C --pool 0|1 --seed S: DIR/tae_encoder.safetensors
              and DIR/tae_decoder.safetensors with random weights.
"""
import os

import torch
import torch.nn as nn

from tests.image.ref import randomize_

COMMANDS = {}


def conv(cin, cout, stride=1, bias=True):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=bias)


class Clamp(nn.Module):
    def forward(self, x):
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    """conv-ReLU-conv-ReLU-conv plus skip, ReLU; the pool branch (1x1 to 4C, GroupNorm(4),
    ReLU, 1x1 back) is added to the input first."""

    def __init__(self, cin, cout, pool=False):
        super().__init__()
        self.conv = nn.Sequential(conv(cin, cout), nn.ReLU(), conv(cout, cout), nn.ReLU(),
                                  conv(cout, cout))
        self.skip = nn.Conv2d(cin, cout, 1, bias=False) if cin != cout else nn.Identity()
        self.fuse = nn.ReLU()
        self.pool = None
        if pool:
            self.pool = nn.Sequential(nn.Conv2d(cin, 4 * cin, 1, bias=False),
                                      nn.GroupNorm(4, 4 * cin), nn.ReLU(),
                                      nn.Conv2d(4 * cin, cin, 1, bias=False))

    def forward(self, x):
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + self.skip(x))


def decoder(latent, c=64, pool=False):
    return nn.Sequential(
        Clamp(), conv(latent, c), nn.ReLU(),
        Block(c, c, pool), Block(c, c, pool), Block(c, c, pool),
        nn.Upsample(scale_factor=2), conv(c, c, bias=False),
        Block(c, c), Block(c, c), Block(c, c), nn.Upsample(scale_factor=2), conv(c, c, bias=False),
        Block(c, c), Block(c, c), Block(c, c), nn.Upsample(scale_factor=2), conv(c, c, bias=False),
        Block(c, c), conv(c, 3))


def encoder(latent, c=64, pool=False):
    return nn.Sequential(
        conv(3, c), Block(c, c),
        conv(c, c, 2, False), Block(c, c), Block(c, c), Block(c, c),
        conv(c, c, 2, False), Block(c, c), Block(c, c), Block(c, c),
        conv(c, c, 2, False), Block(c, c, pool), Block(c, c, pool), Block(c, c, pool),
        conv(c, latent))


def load(path, which):
    from safetensors.torch import load_file
    state = {k: v.float() for k, v in load_file(path).items()}
    for prefix in ("decoder.", "encoder."):
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    pool = any(".pool." in k for k in state)
    if which == "decoder":
        model = decoder(state["1.weight"].shape[1], state["1.weight"].shape[0], pool)
    else:
        model = encoder(state["14.weight"].shape[0], state["0.weight"].shape[0], pool)
    model.load_state_dict(state, strict=True)
    return model.eval()


def _cmd_decode(args):
    """TAE decode: z -> image in [0, 1]."""
    from tests.image.ref.run import load_inputs, save_outputs
    z = load_inputs(args.inputs)["z"].float()
    with torch.no_grad():
        save_outputs({"image": load(args.model, "decoder")(z).clamp(0, 1)}, args.out)


def _cmd_encode(args):
    """TAE encode: image in [0, 1] -> latent."""
    from tests.image.ref.run import load_inputs, save_outputs
    x = load_inputs(args.inputs)["image"].float()
    with torch.no_grad():
        save_outputs({"latent": load(args.model, "encoder")(x)}, args.out)


def _cmd_make(args):
    """Random-weight TAE pair (tae_encoder.safetensors, tae_decoder.safetensors)."""
    from safetensors.torch import save_file
    os.makedirs(args.model, exist_ok=True)
    for i, (name, fn) in enumerate((("encoder", encoder), ("decoder", decoder))):
        m = randomize_(fn(args.latent, args.channels, bool(args.pool)), args.seed + i)
        save_file({k: v.contiguous() for k, v in m.state_dict().items()},
                  os.path.join(args.model, f"tae_{name}.safetensors"))


COMMANDS["tae-decode"] = (_cmd_decode, ())
COMMANDS["tae-encode"] = (_cmd_encode, ())
COMMANDS["make-tae"] = (_cmd_make, ((("--latent",), {"type": int, "default": 4}),
                                    (("--channels",), {"type": int, "default": 64}),
                                    (("--pool",), {"type": int, "default": 0}),
                                    (("--seed",), {"type": int, "default": 0})))
