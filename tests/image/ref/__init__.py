"""Independent PyTorch references for Basalt's image models (see run.py).

Helpers shared by the references: random weights that keep activations O(1) (so a random
model still gives finite, non-trivial outputs) and safetensors loading of a model folder.
"""
import json
import os


def randomize_(module, seed):
    """Fills every parameter with seeded random values: weights of rank >= 2 normal(0,
    1/sqrt(fan_in)), embeddings normal(0, 1), norm weights 1 + 0.1 normal, biases 0.1 normal."""
    import torch
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(module.named_parameters()):
            if p.dim() >= 2:
                std = 1.0 if "embedding" in name else (p[0].numel()) ** -0.5
                p.copy_(torch.randn(p.shape, generator=g) * std)
            elif name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return module


def weights_file(path, names=("model.safetensors", "diffusion_pytorch_model.safetensors")):
    """`path` itself when it is a file, else the first of `names` inside the folder."""
    if os.path.isfile(path):
        return path
    for n in names:
        if os.path.exists(os.path.join(path, n)):
            return os.path.join(path, n)
    raise FileNotFoundError(f"no weights in {path}")


def read_config(path):
    """config.json of the folder `path` (or beside the weights file `path`)."""
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    with open(os.path.join(folder, "config.json")) as f:
        return json.load(f)


def write_config(folder, config):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
