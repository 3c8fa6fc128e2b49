#!/usr/bin/env python3
"""Image generation benchmark (docs/images.md "Performance").

Seconds per 512x512 image for SD-1.5-shaped and SD-Turbo-shaped random-weight models at 1, 4
and 20 steps through Basalt's own pipeline (basalt-image-bench: ImageEngine::Generate, what
InvokeModel runs), next to the same model, sampler, steps, guidance and dtype run by
python3-torch (the independent references in tests/image/ref) on the same threads in the
same run, as a ratio; and the UNet's achieved FLOP/s (FLOPs per step counted from the UNet's
config) against the machine's matmul peak measured here (torch.mm in bf16 and f32).

Run inside the root (models are made once into --cache with basalt-image-tool, ~1.7 GB each):
    scripts/forky bash -c 'cmake --build build --target basalt-image-bench basalt-image-tool'
    scripts/forky python3 bench/image_bench.py --build build --threads 2

--flops-only prints the FLOP count per UNet step for both shapes (and checks it against
torch.utils.flop_counter on the reference UNet with --check-flops) without running anything.
"""
import argparse
import io
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

VARIANTS = {
    # variant: (tool --variant, sampler, cfg): Basalt's defaults for each family.
    "sd1": ("sd1", "dpmpp_2m_karras", 7.5),
    "sd-turbo": ("sd-turbo", "euler_a", 0.0),
}
PROMPT = "a photograph of an astronaut riding a horse on the moon, detailed, 4k"
NEGATIVE = "blurry, low quality"


# ---- FLOPs -------------------------------------------------------------------------------

def _heads_list(value, n):
    return list(value) if isinstance(value, (list, tuple)) else [value] * n


def unet_flops(config, latent_h, latent_w, batch, context_len=77):
    """2 x multiply-adds of one UNet2DConditionModel forward: convolutions, linear layers,
    attention products (QK^T and PV). Norms, activations and additions are left out."""
    boc = config["block_out_channels"]
    lpb = config.get("layers_per_block", 2)
    ctx_dim = config["cross_attention_dim"]
    down_types = config["down_block_types"]
    up_types = config["up_block_types"]
    tlpb = _heads_list(config.get("transformer_layers_per_block", 1), len(boc))
    temb = boc[0] * 4
    total = 0.0

    def conv(cin, cout, hw, k=3):
        return 2.0 * hw * cin * cout * k * k

    def resnet(cin, cout, hw):
        f = conv(cin, cout, hw) + conv(cout, cout, hw) + 2.0 * temb * cout
        if cin != cout:
            f += conv(cin, cout, hw, 1)
        return f

    def transformer(c, hw, layers):
        t = hw
        lin = 2.0 * t * c * c
        f = 2 * lin  # proj_in, proj_out
        per = (4 * lin + 2 * (2.0 * t * t * c)  # self-attention
               + 2 * lin + 2 * (2.0 * context_len * ctx_dim * c) + 2 * (2.0 * t * context_len * c)
               + 2.0 * t * c * 8 * c + 2.0 * t * 4 * c * c)  # GEGLU feed-forward
        return f + layers * per

    h, w = latent_h, latent_w
    total += conv(config.get("in_channels", 4), boc[0], h * w)
    total += 2.0 * boc[0] * temb + 2.0 * temb * temb  # time embedding MLP
    skips = [boc[0]]
    cin = boc[0]
    for i, kind in enumerate(down_types):
        cout = boc[i]
        for _ in range(lpb):
            total += resnet(cin, cout, h * w)
            if kind.startswith("CrossAttn"):
                total += transformer(cout, h * w, tlpb[i])
            cin = cout
            skips.append(cout)
        if i < len(boc) - 1:
            h, w = (h + 1) // 2, (w + 1) // 2
            total += conv(cout, cout, h * w)  # stride-2 conv: output positions
            skips.append(cout)
    c = boc[-1]
    total += 2 * resnet(c, c, h * w) + transformer(c, h * w, tlpb[-1])
    rev = list(reversed(boc))
    rev_t = list(reversed(tlpb))
    prev = boc[-1]
    for i, kind in enumerate(up_types):
        cout = rev[i]
        for _ in range(lpb + 1):
            skip = skips.pop()
            total += resnet(prev + skip, cout, h * w)
            if kind.startswith("CrossAttn"):
                total += transformer(cout, h * w, rev_t[i])
            prev = cout
        if i < len(boc) - 1:
            h, w = h * 2, w * 2
            total += conv(cout, cout, h * w)  # nearest upsample + 3x3 conv
    total += conv(boc[0], config.get("out_channels", 4), h * w)
    return total * batch


def check_flops(config, h, w, batch):
    """The same count from torch.utils.flop_counter over the reference UNet on meta tensors."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from tests.image.ref import unet as ref_unet
    with torch.device("meta"):
        model = ref_unet.UNet2DConditionModel(config)
        x = torch.zeros(batch, config.get("in_channels", 4), h, w)
        t = torch.zeros(batch)
        ctx = torch.zeros(batch, 77, config["cross_attention_dim"])
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(x, t, ctx)
    return float(counter.get_total_flops())


# ---- models ------------------------------------------------------------------------------

def ensure_model(tool, cache, variant):
    out = os.path.join(cache, f"{variant}-real-f16")
    if os.path.isfile(os.path.join(out, "unet", "diffusion_pytorch_model.safetensors")):
        return out
    os.makedirs(cache, exist_ok=True)
    tmp = out + ".partial"
    subprocess.run([tool, "make-random", "--variant", VARIANTS[variant][0], "--shape", "real",
                    "--layout", "diffusers", "--dtype", "f16", "--seed", "1", "--out", tmp],
                   check=True)
    os.rename(tmp, out)
    return out


def read_json(path):
    with open(path) as f:
        return json.load(f)


# ---- torch side --------------------------------------------------------------------------

class TorchPipeline:
    """The reference modules run as Basalt's pipeline runs them: CLIP, UNet and VAE in the
    compute dtype, [uncond, cond] in one UNet batch when guided, the same sampler schedule,
    decode, 8-bit RGB and PNG encoding (PIL)."""

    def __init__(self, model, variant, dtype):
        import torch
        # Debian's tokenizers 0.23 takes RobertaProcessing's arguments positionally only,
        # which transformers 5.12's CLIPTokenizer does not do (as tests/image/tokenizer_ref.py).
        from tokenizers import processors
        orig = processors.RobertaProcessing
        processors.RobertaProcessing = lambda sep, cls, trim_offsets=True, add_prefix_space=True: \
            orig(sep, cls, trim_offsets, add_prefix_space)
        from transformers import CLIPTokenizer
        from tests.image.ref import clip, unet, vae
        self.torch = torch
        self.variant, self.dtype = variant, dtype
        self.tokenizer = CLIPTokenizer.from_pretrained(os.path.join(model, "tokenizer"))
        self.text = clip.load(os.path.join(model, "text_encoder")).to(dtype)
        self.clip = clip
        self.unet = unet.load(model, dtype)
        self.vae = vae.load(os.path.join(model, "vae"), dtype).eval()
        self.scaling = read_json(os.path.join(model, "vae", "config.json")).get(
            "scaling_factor", 0.18215)
        self.unet_config = read_json(os.path.join(model, "unet", "config.json"))
        self.sched_config = read_json(os.path.join(model, "scheduler", "scheduler_config.json"))
        if variant == "sd-turbo":
            self.sched_config["timestep_spacing"] = "trailing"
        self.skip = 0 if variant == "sd1" else 1

    def ids(self, text):
        return self.torch.tensor([self.tokenizer(text, padding="max_length", max_length=77,
                                                 truncation=True)["input_ids"]])

    def generate(self, steps, sampler, cfg, seed, size=512):
        torch = self.torch
        from PIL import Image
        from tests.image.ref import sampler as ref_sampler
        guided = cfg > 1
        with torch.inference_mode():
            context = self.clip.encode(self.text, self.ids(PROMPT), self.skip)
            if guided:
                context = torch.cat([self.clip.encode(self.text, self.ids(NEGATIVE), self.skip),
                                     context])
            context = context.to(self.dtype)
            g = torch.Generator().manual_seed(seed)
            s = ref_sampler.make(self.sched_config, sampler, steps)
            x = torch.randn([1, 4, size // 8, size // 8], generator=g) * s.init_noise_sigma
            for t in s.timesteps:
                xin = s.scale_model_input(x).to(self.dtype)
                if guided:
                    out = self.unet(torch.cat([xin, xin]), t.float().expand(2), context).float()
                    uncond, cond = out.chunk(2)
                    out = uncond + cfg * (cond - uncond)
                else:
                    out = self.unet(xin, t.float().expand(1), context).float()
                x = s.step(out, x, generator=g)
            image = self.vae.decode((x / self.scaling).to(self.dtype)).float()
            pixels = ((image[0] / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)
            buf = io.BytesIO()
            Image.fromarray(pixels.permute(1, 2, 0).contiguous().numpy()).save(buf, "PNG")
            return len(buf.getvalue())

    def unet_step_seconds(self, batch, runs, size=512):
        torch = self.torch
        x = torch.randn(batch, 4, size // 8, size // 8).to(self.dtype)
        t = torch.full((batch,), 500.0)
        ctx = torch.randn(batch, 77, self.unet_config["cross_attention_dim"]).to(self.dtype)
        best = float("inf")
        with torch.inference_mode():
            self.unet(x, t, ctx)
            for _ in range(runs):
                t0 = time.perf_counter()
                self.unet(x, t, ctx)
                best = min(best, time.perf_counter() - t0)
        return best


def matmul_peak(threads, n=2048, runs=5):
    """GFLOP/s of torch.mm n^3 per dtype: (from the best wall time, from the best CPU time per
    thread)."""
    import torch
    out = {}
    for name, dt in (("bf16", torch.bfloat16), ("f32", torch.float32)):
        a, b = torch.randn(n, n).to(dt), torch.randn(n, n).to(dt)
        c = torch.empty(n, n, dtype=dt)
        torch.mm(a, b, out=c)
        best, cpu = float("inf"), float("inf")
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            torch.mm(a, b, out=c)
            best = min(best, time.perf_counter() - t0)
            cpu = min(cpu, time.process_time() - c0)
        out[name] = (2.0 * n ** 3 / best / 1e9, 2.0 * n ** 3 / (cpu / threads) / 1e9)
    return out


# ---- main --------------------------------------------------------------------------------

def run_basalt(binary, model, variant, steps, sampler, cfg, threads, dtype, runs):
    cmd = [binary, "--model", model, "--variant", variant, "--steps", ",".join(map(str, steps)),
           "--sampler", sampler, "--cfg", str(cfg), "--threads", str(threads), "--dtype", dtype,
           "--runs", str(runs), "--seed", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-4000:]}")
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    load = next(r["load_s"] for r in rows if "load_s" in r)
    return load, {r["steps"]: (r["best"], r["cpu"]) for r in rows if "steps" in r}


def per_step(times, steps, k):
    """Seconds per denoising step from the slope between the smallest and largest counts
    (k = 0: wall time, 1: CPU time)."""
    lo, hi = min(steps), max(steps)
    if lo == hi or lo not in times or hi not in times:
        return None
    return (times[hi][k] - times[lo][k]) / (hi - lo)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="build folder with basalt-image-bench")
    ap.add_argument("--tool", default="", help="basalt-image-tool (default BUILD/src/image/...)")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/basalt-bench/images"))
    ap.add_argument("--variants", default="sd1,sd-turbo")
    ap.add_argument("--steps", default="1,4,20")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", default="bf16", choices=("bf16", "f32"))
    ap.add_argument("--runs", type=int, default=1, help="timed images per step count (best)")
    ap.add_argument("--only", choices=("basalt", "torch"), default=None)
    ap.add_argument("--unet-runs", type=int, default=0,
                    help="also time torch's bare UNet forward this many times (best)")
    ap.add_argument("--flops-only", action="store_true")
    ap.add_argument("--save", default="", help="write the measurements as JSON here")
    ap.add_argument("--merge", nargs="+", default=None,
                    help="print the tables of saved --only basalt / --only torch runs together")
    ap.add_argument("--check-flops", action="store_true")
    args = ap.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    variants = args.variants.split(",")

    if args.flops_only:
        from tests.image.ref import unet as ref_unet
        configs = {"sd1": ref_unet.sd15_config(), "sd-turbo": sd21_config()}
        for name, cfg in configs.items():
            batch = 2 if VARIANTS[name][2] > 1 else 1
            f = unet_flops(cfg, 64, 64, batch)
            line = f"{name}: UNet step at 512x512, batch {batch}: {f / 1e9:.1f} GFLOP"
            if args.check_flops:
                c = check_flops(cfg, 64, 64, batch)
                line += f" (torch flop_counter: {c / 1e9:.1f} GFLOP, ratio {f / c:.4f})"
            print(line)
        return

    if args.merge:
        merged, peak = {}, None
        for path in args.merge:
            saved = read_json(path)
            peak = peak or saved["peak"]
            for r in saved["results"]:
                m = merged.setdefault(r[0], r)
                for i in (5, 6, 7, 8, 9):  # Basalt load/times, torch load/times, bare UNet
                    if r[i]:
                        m[i] = r[i]
        results = [[r[0], r[1], r[2], r[3], r[4], r[5],
                    {int(k): v for k, v in r[6].items()}, r[7],
                    {int(k): v for k, v in r[8].items()}, r[9]] for r in merged.values()]
        report(results, steps, peak, args)
        return

    import torch
    torch.set_num_threads(args.threads)
    binary = os.path.join(args.build, "bench", "basalt-image-bench")
    if not os.path.exists(binary):
        binary = os.path.join(args.build, "src", "image", "basalt-image-bench")
    tool = args.tool or os.path.join(args.build, "src", "image", "basalt-image-tool")
    tdtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32

    with open("/proc/loadavg") as f:
        load0 = f.read().split()[:3]
    print(f"# image_bench {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}: threads "
          f"{args.threads}, dtype {args.dtype}, steps {steps}, load average {' '.join(load0)}")
    peak = matmul_peak(args.threads)
    print(f"# matmul peak (torch.mm 2048^3, best of 5, GFLOP/s from wall time / from CPU time "
          f"per thread): bf16 {peak['bf16'][0]:.0f} / {peak['bf16'][1]:.0f}, "
          f"f32 {peak['f32'][0]:.0f} / {peak['f32'][1]:.0f}")
    results = []
    for variant in variants:
        tool_variant, sampler, cfg = VARIANTS[variant]
        model = ensure_model(tool, args.cache, variant)
        unet_cfg = read_json(os.path.join(model, "unet", "config.json"))
        batch = 2 if cfg > 1 else 1
        flops = unet_flops(unet_cfg, 64, 64, batch)
        b_load, b = (None, {})
        if args.only in (None, "basalt"):
            # A 1-step warm-up image first (one-time kernel set-up), then the timed counts.
            b_load, b = run_basalt(binary, model, variant, [1] + steps, sampler, cfg,
                                   args.threads, args.dtype, args.runs)
        t = {}
        t_load = None
        t_unet = None
        if args.only in (None, "torch"):
            t0 = time.perf_counter()
            pipe = TorchPipeline(model, variant, tdtype)
            t_load = time.perf_counter() - t0
            pipe.generate(1, sampler, cfg, 1)  # warm-up
            for n in steps:
                best, cpu = float("inf"), float("inf")
                for _ in range(args.runs):
                    s0, c0 = time.perf_counter(), time.process_time()
                    pipe.generate(n, sampler, cfg, 1)
                    best = min(best, time.perf_counter() - s0)
                    cpu = min(cpu, time.process_time() - c0)
                t[n] = (best, cpu)
            if args.unet_runs > 0:
                t_unet = pipe.unet_step_seconds(batch, args.unet_runs)
            del pipe
        results.append((variant, sampler, cfg, batch, flops, b_load, b, t_load, t, t_unet))
        report(results[-1:], steps, peak, args)
        if args.save:
            with open(args.save, "w") as f:
                json.dump({"peak": peak, "results": results, "threads": args.threads}, f)
    print()
    print("## summary")
    report(results, steps, peak, args)


def _f(x, fmt="{:.2f}"):
    return "-" if x is None else fmt.format(x)


def report(results, steps, peak, args):
    """Wall seconds per image and CPU seconds per thread (process CPU time / threads: what a
    run would take with the cores to itself, spinning included; the machine may be shared)."""
    pk, pkc = peak["bf16" if args.dtype == "bf16" else "f32"]
    th = args.threads
    print("| model | steps | Basalt s/image | torch s/image | torch/Basalt | "
          "Basalt CPU s/thread | torch CPU s/thread | torch/Basalt (CPU) |")
    print("|---|---|---|---|---|---|---|---|")
    for variant, sampler, cfg, batch, flops, b_load, b, t_load, t, t_unet in results:
        for n in steps:
            bw, bc = b.get(n, (None, None))
            tw, tc = t.get(n, (None, None))
            rw = f"{tw / bw:.2f}x" if bw and tw else "-"
            rc = f"{tc / bc:.2f}x" if bc and tc else "-"
            print(f"| {variant} ({sampler}, cfg {cfg:g}) | {n} | {_f(bw)} | {_f(tw)} | {rw} | "
                  f"{_f(bc and bc / th)} | {_f(tc and tc / th)} | {rc} |")
    for variant, sampler, cfg, batch, flops, b_load, b, t_load, t, t_unet in results:
        line = (f"# {variant}: UNet step (batch {batch}) {flops / 1e9:.0f} GFLOP; "
                f"load Basalt {_f(b_load, '{:.1f}')} s, torch {_f(t_load, '{:.1f}')} s")
        for who, times in (("Basalt", b), ("torch", t)):
            wall, cpu = per_step(times, steps, 0), per_step(times, steps, 1)
            if wall:
                line += (f"; {who} {wall:.2f} s/step wall = {flops / wall / 1e9:.0f} GFLOP/s "
                         f"({flops / wall / 1e9 / pk:.0%} of the measured {args.dtype} peak)")
            if cpu:
                line += (f", {cpu / th:.2f} CPU s/thread/step = "
                         f"{flops / (cpu / th) / 1e9:.0f} GFLOP/s "
                         f"({flops / (cpu / th) / 1e9 / pkc:.0%} of the CPU-time peak)")
        if t_unet:
            line += (f"; torch's bare UNet {t_unet:.2f} s = {flops / t_unet / 1e9:.0f} GFLOP/s")
        print(line)
    sys.stdout.flush()


def sd21_config():
    """SD 2.1-base / SD-Turbo's unet/config.json (the fields the FLOP count reads)."""
    return {"in_channels": 4, "out_channels": 4, "sample_size": 64,
            "block_out_channels": [320, 640, 1280, 1280],
            "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
            "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
            "layers_per_block": 2, "attention_head_dim": [5, 10, 20, 20],
            "cross_attention_dim": 1024, "use_linear_projection": True,
            "norm_num_groups": 32, "norm_eps": 1e-5, "flip_sin_to_cos": True, "freq_shift": 0}


if __name__ == "__main__":
    main()
