"""CLIP text encoder reference: transformers' CLIPTextModel itself (eager attention), built
from the same config.json and weights as Basalt's ClipTextModel.

Commands (see run.py):
  clip       inputs {"ids": int64 [B, S]}, --skip N  ->  {"hidden": [B, S, hidden]}:
             final_layer_norm(hidden_states[-1 - N]) (N = 1: SD 2.x's penultimate layer);
             also "hidden_skipK" for every K in [0, layers).
  make-clip  --model DIR --variant sd1|sd2 --seed N: writes DIR/config.json and
             DIR/model.safetensors (names "text_model.*") with random weights (--out: the same
             weights file).
"""
import os

from tests.image.ref import randomize_, read_config, weights_file, write_config

COMMANDS = {}

TINY = {
    "sd1": dict(vocab_size=1000, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                num_attention_heads=4, max_position_embeddings=77, hidden_act="quick_gelu",
                layer_norm_eps=1e-5, bos_token_id=998, eos_token_id=999, pad_token_id=999,
                architectures=["CLIPTextModel"], model_type="clip_text_model"),
}
TINY["sd2"] = dict(TINY["sd1"], hidden_act="gelu")


def build(config):
    from transformers import CLIPTextConfig, CLIPTextModel
    keep = {k: v for k, v in config.items() if k not in ("architectures", "model_type",
                                                          "torch_dtype", "transformers_version")}
    model = CLIPTextModel(CLIPTextConfig(**keep, attn_implementation="eager"))
    return model.eval()


def _strip(state):
    return {k[len("text_model."):] if k.startswith("text_model.") else k: v
            for k, v in state.items()}


def load(path):
    from safetensors.torch import load_file
    model = build(read_config(path))
    state = {k: v.float() for k, v in _strip(load_file(weights_file(path))).items()}
    state.pop("embeddings.position_ids", None)
    model.load_state_dict(state, strict=True)
    return model


def encode(model, ids, skip=0):
    import torch
    with torch.no_grad():
        out = model(input_ids=ids.long(), output_hidden_states=True)
        h = out.hidden_states[-1 - skip]
        return model.final_layer_norm(h)


def _cmd_clip(args):
    """CLIP text encoder: ids -> hidden (final layer norm after layer -1-skip), and
    hidden_skipK for every K in [0, layers)."""
    import torch
    from tests.image.ref.run import load_inputs, save_outputs
    ids = load_inputs(args.inputs)["ids"]
    model = load(args.model)
    with torch.no_grad():
        states = model(input_ids=ids.long(), output_hidden_states=True).hidden_states
        out = {f"hidden_skip{k}": model.final_layer_norm(states[-1 - k])
               for k in range(len(states) - 1)}
    out["hidden"] = out[f"hidden_skip{args.skip}"].clone()
    save_outputs(out, args.out)


def _cmd_make(args):
    """Random-weight tiny CLIP text encoder (config.json + model.safetensors)."""
    from safetensors.torch import save_file
    config = dict(TINY[args.variant])
    model = randomize_(build(config), args.seed)
    write_config(args.model, config)
    state = {"text_model." + k: v.contiguous() for k, v in model.state_dict().items()
             if "position_ids" not in k}
    save_file(state, os.path.join(args.model, "model.safetensors"))
    if args.out and os.path.abspath(args.out) != os.path.join(
            os.path.abspath(args.model), "model.safetensors"):
        save_file(state, args.out)


COMMANDS["clip"] = (_cmd_clip, ((("--skip",), {"type": int, "default": 0}),))
COMMANDS["make-clip"] = (_cmd_make, ((("--variant",), {"default": "sd1"}),
                                     (("--seed",), {"type": int, "default": 0})))
