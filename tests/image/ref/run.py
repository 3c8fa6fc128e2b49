#!/usr/bin/env python3
"""Dispatcher for the image-model references used by the C++ numerics tests.

    python3 tests/image/ref/run.py <what> --model DIR --inputs IN.safetensors --out OUT.safetensors

Each reference registers a function with @command("name"); the function receives the parsed
arguments (args.model, args.inputs, args.out and any extra options it declared) and writes its
outputs to args.out with safetensors. Owners add their own commands in small separate blocks
below (one block per owner) so concurrent edits do not collide. A block looks like:

    from tests.image.ref import unet as _unet

    @command("unet", extra_args=((("--dtype",), {"default": "f32"}),))
    def _unet_cmd(args):
        # UNet forward: inputs latents, timesteps, context -> out.
        inputs = load_inputs(args.inputs)
        save_outputs({"out": _unet.forward(args.model, **inputs)}, args.out)
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))))

COMMANDS = {}


def command(name, extra_args=()):
    """Registers fn(args) as subcommand `name`; extra_args: ((flags...), kwargs) pairs."""
    def register(fn):
        COMMANDS[name] = (fn, extra_args)
        return fn
    return register


def load_inputs(path):
    from safetensors.torch import load_file
    return load_file(path) if path else {}


def save_outputs(tensors, path):
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in tensors.items()}, path)


# ---- textvae: clip, vae-decode, vae-encode, tae-decode, tae-encode, make-* -----------------
from tests.image.ref import clip as _clip  # noqa: E402
from tests.image.ref import vae as _vae  # noqa: E402
from tests.image.ref import tae as _tae  # noqa: E402

for _module in (_clip, _vae, _tae):
    for _name, (_fn, _extra) in _module.COMMANDS.items():
        command(_name, _extra)(_fn)
# ---- end textvae ---------------------------------------------------------------------------

# ---- unet ----------------------------------------------------------------------------------
from tests.image.ref import unet as _unet  # noqa: E402

for _name, (_fn, _extra) in _unet.COMMANDS.items():
    command(_name, _extra)(_fn)
# ---- end unet ------------------------------------------------------------------------------

# ---- pipeline: sampler, pipeline -----------------------------------------------------------
from tests.image.ref import sampler as _sampler  # noqa: E402
from tests.image.ref import pipeline as _pipeline  # noqa: E402

for _module in (_sampler, _pipeline):
    for _name, (_fn, _extra) in _module.COMMANDS.items():
        command(_name, _extra)(_fn)
# ---- end pipeline --------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    for name, (fn, extra) in sorted(COMMANDS.items()):
        p = sub.add_parser(name, help=(fn.__doc__ or "").strip().splitlines()[0:1] and
                           (fn.__doc__ or "").strip().splitlines()[0])
        p.add_argument("--model", help="model folder or weights file")
        p.add_argument("--inputs", help="input tensors (.safetensors)")
        p.add_argument("--out", required=True, help="output tensors (.safetensors)")
        for flags, kwargs in extra:
            p.add_argument(*flags, **kwargs)
        p.set_defaults(fn=fn)
    args = parser.parse_args(argv)
    import torch
    torch.manual_seed(0)
    args.fn(args)


if __name__ == "__main__":
    main()
