#!/usr/bin/env python3
"""Text-generation benchmark: Basalt against llama.cpp's own llama-server (and llama-bench)
from the same Debian forky root, on the same model, threads and context.

Makes a GGUF with TinyLlama-1.1B's shapes and random weights (Q4_0 and Q8_0) unless given
--model, starts both servers in turn, and prints each figure with the ratio
Basalt / llama-server:
  decode_1      decode tokens/s of one stream (first token to last, client side)
  decode_8      aggregate decode tokens/s of 8 concurrent streams
  ttft_ms       time to first token for a ~200-token prompt (median), lower is better
  rps_1tok      requests/s for 1-token requests from 8 concurrent clients (gateway overhead)

Engine scheduling and speculation scenarios (--only ttft_8,shared_prefix,spec_copy,spec_other):
  ttft_8        8 requests with different ~200-token prompts at once: median and p95 time to
                first token (lower is better) and aggregate tokens/s (all tokens / wall time)
  shared_prefix 8 requests at once sharing a ~1,000-token document, differing after it:
                aggregate tokens/s and median time to first token
  spec_copy     one greedy stream that copies its prompt (stories260K, a trained model: random
                weights never copy): decode tokens/s of Basalt with speculative decoding,
                without it (--no-speculative) and of llama-server
  spec_other    the same on a TinyLlama-shape random-weight model, whose output is not a copy

Run inside the root:  scripts/forky python3 bench/text_bench.py [--quick]
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import pathlib
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
PROMPT = ("Once upon a time, in a quiet village by the sea, there lived an old fisherman who "
          "told stories to the children every evening. ")


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def ensure_models(quick, layers=0):
    OUT.mkdir(exist_ok=True)
    tag = f"tinyllama-{layers}l" if layers else "tinyllama"
    f16 = OUT / f"{tag}-f16.gguf"
    quants = ["Q4_0"] if quick else ["Q4_0", "Q8_0"]
    paths = []
    for q in quants:
        path = OUT / f"{tag}-{q.lower()}.gguf"
        if not path.exists():
            if not f16.exists():
                make = [sys.executable, str(HERE / "make_random_gguf.py"), str(f16)]
                subprocess.run(make + (["--layers", str(layers)] if layers else []),
                               check=True)
            subprocess.run(["llama-quantize", str(f16), str(path), q], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        paths.append(path)
    return paths


# ---- clients -------------------------------------------------------------------------------

class LlamaServerClient:
    def __init__(self, port):
        self.port = port

    def stream(self, prompt, n, t0=None):
        """Returns (t_first, t_last, n_tokens) measured client side, from t0 (default: now)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        body = json.dumps({"prompt": prompt, "n_predict": n, "temperature": 0, "stream": True,
                           "cache_prompt": True})
        t0 = t0 or time.perf_counter()
        conn.request("POST", "/completion", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        first = last = None
        tokens = 0
        buf = b""
        while True:
            data = r.read1(65536)
            if not data:
                break
            buf += data
            while b"\n\n" in buf:
                ev, buf = buf.split(b"\n\n", 1)
                if not ev.startswith(b"data: "):
                    continue
                j = json.loads(ev[6:])
                if j.get("content"):
                    now = time.perf_counter()
                    first = first or now
                    last = now
                    tokens += 1
                if j.get("stop"):
                    tokens = max(tokens, j.get("tokens_predicted", tokens))
        conn.close()
        return (first or time.perf_counter()) - t0, (last or time.perf_counter()) - t0, tokens

    def one_token(self, conn, prompt):
        conn.request("POST", "/completion",
                     json.dumps({"prompt": prompt, "n_predict": 1, "temperature": 0}),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status


def read_frames(resp):
    """Yields (headers, payload) of event-stream frames from an HTTP response."""
    buf = b""
    while True:
        while len(buf) >= 12:
            total, hlen = struct.unpack(">II", buf[:8])
            if len(buf) < total:
                break
            headers_raw = buf[12:12 + hlen]
            payload = buf[12 + hlen:total - 4]
            buf = buf[total:]
            headers, i = {}, 0
            while i < len(headers_raw):
                nl = headers_raw[i]
                name = headers_raw[i + 1:i + 1 + nl].decode()
                i += 1 + nl + 1
                vl = struct.unpack(">H", headers_raw[i:i + 2])[0]
                headers[name] = headers_raw[i + 2:i + 2 + vl].decode()
                i += 2 + vl
            yield headers, payload
        data = resp.read1(65536)
        if not data:
            return
        buf += data


class BasaltClient:
    def __init__(self, port, token):
        self.port = port
        self.headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}

    def stream(self, prompt, n, t0=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        body = json.dumps({"messages": [{"role": "user", "content": [{"text": prompt}]}],
                           "inferenceConfig": {"maxTokens": n, "temperature": 0}})
        t0 = t0 or time.perf_counter()
        conn.request("POST", "/model/bench.model/converse-stream", body, self.headers)
        r = conn.getresponse()
        assert r.status == 200, r.read()
        first = last = None
        tokens = 0
        for headers, payload in read_frames(r):
            et = headers.get(":event-type")
            if et == "contentBlockDelta":
                now = time.perf_counter()
                first = first or now
                last = now
            elif et == "metadata":
                tokens = json.loads(payload)["usage"]["outputTokens"]
        conn.close()
        return (first or time.perf_counter()) - t0, (last or time.perf_counter()) - t0, tokens

    def one_token(self, conn, prompt):
        body = json.dumps({"prompt": prompt, "max_gen_len": 1, "temperature": 0})
        conn.request("POST", "/model/bench.model/invoke", body, self.headers)
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status


# ---- servers -------------------------------------------------------------------------------

def wait_http(port, path="/health", timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            if r.status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not come up")


def start_llama_server(model, threads, parallel, ctx):
    port = free_port()
    p = subprocess.Popen(["llama-server", "-m", str(model), "-t", str(threads), "-tb", str(threads),
                          "-c", str(ctx), "-np", str(parallel), "--port", str(port), "--host",
                          "127.0.0.1", "-ngl", "0"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(port)
    return p, LlamaServerClient(port)


def start_basalt(binary, model, threads, parallel, ctx, tmp, extra=()):
    data = pathlib.Path(tmp) / "basalt-data"
    data.mkdir(parents=True, exist_ok=True)
    catalog = data / "catalog.json"
    catalog.write_text(json.dumps({"models": [{
        "modelId": "bench.model", "weights": str(model), "requestFamily": "meta-llama",
        "contextLength": ctx // parallel, "parallel": parallel}]}))
    p = subprocess.Popen([str(binary), "serve", "--port", "0", "--data-dir", str(data),
                          "--catalog", str(catalog), "--threads", str(threads),
                          "--ctx-size", str(ctx), "--log-level", "warn", *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = None
    for line in p.stdout:
        m = re.search(r"listening on http://[^:]+:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    env = (data / "admin.env").read_text()
    token = re.search(r"AWS_BEARER_TOKEN_BEDROCK=(\S+)", env).group(1)
    wait_http(port)
    return p, BasaltClient(port, token)


def stop(p):
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


# ---- measurements --------------------------------------------------------------------------

ALL_METRICS = ("decode_1", "decode_8", "ttft_ms", "rps_1tok")
SPEED_METRICS = ("ttft_8", "shared_prefix", "spec_copy", "spec_other")
STORY = ("Once upon a time, there was a little girl named Lily. She loved to play outside in "
         "the park. One day, she saw a big red ball under a tree. She ran to the ball and "
         "picked it up. Lily was very happy. She played with the ball all day long. ")


def measure(client, n_decode, n_streams, duration, only=ALL_METRICS):
    res = {}
    client.stream(PROMPT, 4)  # warm up (model load, caches)
    if "decode_1" in only:
        measure_decode_1(client, n_decode, res)
    if "decode_8" in only:
        measure_decode_8(client, n_decode, n_streams, res)
    if "ttft_ms" in only:
        measure_ttft(client, res)
    if "rps_1tok" in only:
        measure_rps(client, duration, res)
    return res


def measure_decode_1(client, n_decode, res):
    rates = []
    for _ in range(2):
        first, last, tokens = client.stream(PROMPT, n_decode)
        rates.append((tokens - 1) / (last - first) if tokens > 1 and last > first else 0)
    res["decode_1"] = max(rates)


def measure_decode_8(client, n_decode, n_streams, res):
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(n_streams) as pool:
        outs = list(pool.map(lambda i: client.stream(f"{PROMPT} Story {i}:", n_decode),
                             range(n_streams)))
    wall = time.perf_counter() - t0
    res["decode_8"] = sum(o[2] for o in outs) / wall


def measure_ttft(client, res):
    long_prompt = PROMPT * 8
    ttfts = []
    for i in range(3):
        first, _, _ = client.stream(f"Variant {i}. " + long_prompt, 2)
        ttfts.append(first * 1000)
    res["ttft_ms"] = statistics.median(ttfts)


def measure_rps(client, duration, res):
    def worker(_):
        conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=120)
        n = 0
        end = time.perf_counter() + duration
        while time.perf_counter() < end:
            client.one_token(conn, "Hi")
            n += 1
        conn.close()
        return n
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        total = sum(pool.map(worker, range(8)))
    res["rps_1tok"] = total / (time.perf_counter() - t0)


def concurrent_streams(client, prompts, n):
    """Starts all prompts at once; returns ([(ttft, t_last, tokens)], wall seconds)."""
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(len(prompts)) as pool:
        outs = list(pool.map(lambda p: client.stream(p, n, t0), prompts))
    return outs, time.perf_counter() - t0


def p95(values):
    v = sorted(values)
    return v[max(0, -(-95 * len(v) // 100) - 1)]  # nearest rank


def measure_ttft_8(client, n_decode, res):
    # Different from the first token on: no prefix to reuse, each prompt ~200 tokens.
    prompts = [f"Request {i}: {i * 7919 % 1000} " + PROMPT * 8 for i in range(8)]
    outs, wall = concurrent_streams(client, prompts, n_decode)
    ttfts = [o[0] * 1000 for o in outs]
    res["ttft_8_med_ms"] = statistics.median(ttfts)
    res["ttft_8_p95_ms"] = p95(ttfts)
    res["ttft_8_tok_s"] = sum(o[2] for o in outs) / wall


def measure_shared_prefix(client, n_decode, res, repeat=40):
    doc = PROMPT * repeat  # the same for every request; 40: ~1,000 Llama-2 tokens
    prompts = [doc + f"\nQuestion {i}: what did the fisherman tell child number {i}?"
               for i in range(8)]
    outs, wall = concurrent_streams(client, prompts, n_decode)
    res["shared_tok_s"] = sum(o[2] for o in outs) / wall
    res["shared_ttft_med_ms"] = statistics.median(o[0] * 1000 for o in outs)


def measure_spec(client, prompt, n_decode, key, res):
    rates = []
    for _ in range(2):
        first, last, tokens = client.stream(prompt, n_decode)
        rates.append((tokens - 1) / (last - first) if tokens > 1 and last > first else 0)
    res[key] = max(rates)


def speed_main(args, only, models):
    """The engine scenarios: each server in turn on the same model, settings and prompts."""
    binary = pathlib.Path(args.binary)
    lower_better = ("ttft_8_med_ms", "ttft_8_p95_ms", "shared_ttft_med_ms")
    # Copy-heavy work: the trained stories260K continues a story it was given twice by
    # copying it. "Other" work: a random-weight model's output is no copy of its prompt.
    copy_prompt = STORY + "\n" + STORY + "\n" + STORY[:80]
    other_prompt = "Request 1: " + PROMPT * 4
    stories = ROOT.parent / "shared" / "models" / "stories260K.gguf"
    plans = []
    for model in models:
        metrics = [m for m in ("ttft_8", "shared_prefix", "spec_other") if m in only]
        if metrics:
            plans.append((model, metrics))
    if "spec_copy" in only:
        plans.append((stories, ["spec_copy"]))
    for model, metrics in plans:
        for run in range(args.repeat):
            print(f"\n== {model.name} run {run + 1}/{args.repeat}: {', '.join(metrics)} ==")
            servers = [("llama-server", None), ("basalt", ())]
            if any(m.startswith("spec") for m in metrics):
                servers.append(("basalt-nospec", ("--no-speculative",)))
            results = {}
            for name, extra in servers:
                with tempfile.TemporaryDirectory() as tmp:
                    if extra is None:
                        p, c = start_llama_server(model, args.threads, args.parallel, args.ctx)
                    else:
                        p, c = start_basalt(binary, model, args.threads, args.parallel,
                                            args.ctx, tmp, extra)
                    res = {}
                    try:
                        c.stream(PROMPT, 4)  # warm up
                        if "ttft_8" in metrics and name != "basalt-nospec":
                            measure_ttft_8(c, args.decode, res)
                        if "shared_prefix" in metrics and name != "basalt-nospec":
                            measure_shared_prefix(c, args.decode, res, args.shared_repeat)
                        if "spec_copy" in metrics:
                            measure_spec(c, copy_prompt, args.spec_decode, "spec_copy_tok_s",
                                         res)
                        if "spec_other" in metrics:
                            measure_spec(c, other_prompt, args.spec_decode, "spec_other_tok_s",
                                         res)
                    finally:
                        stop(p)
                    results[name] = res
            ours, peer = results["basalt"], results["llama-server"]
            nospec = results.get("basalt-nospec", {})
            print(f"{'metric':<20}{'basalt':>10}{'llama-server':>14}{'ratio':>8}"
                  f"{'no-spec':>10}{'spec/no-spec':>14}")
            for k in ours:
                ratio = ours[k] / peer[k] if peer.get(k) else float("nan")
                line = f"{k:<20}{ours[k]:>10.2f}{peer[k]:>14.2f}{ratio:>8.3f}"
                if k in nospec:
                    line += f"{nospec[k]:>10.2f}{ours[k] / nospec[k]:>14.3f}"
                if k in lower_better:
                    line += "   (lower is better)"
                print(line, flush=True)


def llama_bench(model, threads, n):
    out = subprocess.run(["llama-bench", "-m", str(model), "-t", str(threads), "-p", "0", "-n",
                          str(n), "-o", "json"], capture_output=True, text=True)
    try:
        return json.loads(out.stdout)[0]["avg_ts"]
    except (ValueError, IndexError, KeyError):
        return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", help="GGUF to use (default: made here)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--decode", type=int, default=64, help="tokens per stream")
    ap.add_argument("--duration", type=float, default=10, help="seconds of 1-token requests")
    ap.add_argument("--quick", action="store_true", help="Q4_0 only, shorter runs")
    ap.add_argument("--only", default=",".join(ALL_METRICS),
                    help="comma-separated metrics to measure (default: all)")
    ap.add_argument("--binary", default=str(ROOT / "build-release" / "src" / "server" / "basalt"))
    ap.add_argument("--layers", type=int, default=0,
                    help="layers of the made TinyLlama-shape model (default: all 22)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each engine scenario")
    ap.add_argument("--shared-repeat", type=int, default=40,
                    help="shared_prefix document: this many copies of the prompt text "
                         "(40: ~1,000 tokens for Llama-2's vocabulary, 24 for stories260K)")
    ap.add_argument("--spec-decode", type=int, default=200,
                    help="tokens of the spec_copy / spec_other streams")
    args = ap.parse_args()
    if args.quick:
        args.decode, args.duration = 32, 5
    only = tuple(m for m in args.only.split(",") if m)
    for m in only:
        if m not in ALL_METRICS + SPEED_METRICS:
            ap.error(f"unknown metric {m} (choose from "
                     f"{', '.join(ALL_METRICS + SPEED_METRICS)})")
    models = ([pathlib.Path(m).resolve() for m in args.model] if args.model
              else ensure_models(args.quick, args.layers))
    binary = pathlib.Path(args.binary)
    if not binary.exists():
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(binary.parents[2]), "-G", "Ninja",
                        "-DCMAKE_BUILD_TYPE=Release", "-DBASALT_BUILD_TESTS=OFF"], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", str(binary.parents[2]), "--target", "basalt"],
                       check=True)
    print(f"threads={args.threads} parallel={args.parallel} ctx={args.ctx} "
          f"decode={args.decode} tokens/stream")
    if any(m in SPEED_METRICS for m in only):
        speed_main(args, only, models)
        only = tuple(m for m in only if m in ALL_METRICS)
        if not only:
            return
    for model in models:
        print(f"\n== {model.name} ==")
        tg = llama_bench(model, args.threads, args.decode)
        print(f"llama-bench tg{args.decode}: {tg:.2f} t/s")
        with tempfile.TemporaryDirectory() as tmp:
            p, c = start_llama_server(model, args.threads, args.parallel, args.ctx)
            try:
                peer = measure(c, args.decode, args.parallel, args.duration, only)
            finally:
                stop(p)
            p, c = start_basalt(binary, model, args.threads, args.parallel, args.ctx, tmp)
            try:
                ours = measure(c, args.decode, args.parallel, args.duration, only)
            finally:
                stop(p)
        print(f"{'metric':<12}{'basalt':>12}{'llama-server':>14}{'ratio':>8}")
        for k in only:
            ratio = ours[k] / peer[k] if peer[k] else float("nan")
            print(f"{k:<12}{ours[k]:>12.2f}{peer[k]:>14.2f}{ratio:>8.3f}")


if __name__ == "__main__":
    main()
