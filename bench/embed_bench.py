#!/usr/bin/env python3
"""Embeddings/s of Basalt (InvokeModel with Cohere Embed bodies, SigV4-signed) against
llama.cpp's own `llama-server --embeddings` (/v1/embeddings) on the same GGUF, with the same
threads and batch, measured in the same run. Two workloads, each from 8 concurrent clients:
requests of 32 short texts, and requests of a single text.

The model defaults to a random-weight BERT with bge-small's shapes (384 dims, 12 layers,
12 heads), written by make_random_embed_gguf.py; random weights run at the trained model's
speed. --model uses a real GGUF instead.

usage: embed_bench.py [--basalt build/src/server/basalt] [--model GGUF] [--threads N]
                      [--clients 8] [--seconds 10] [--batch 32]
"""
import argparse
import concurrent.futures
import json
import os
import pathlib
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "integration"))

WORDS = ("the of and to in is it you that he was for on are with as his they be at one have "
         "this from or had by hot word but what some we can out other were all there when up use "
         "your how said an each she which do their time if will way about many then them write "
         "would like so these her long make thing see him two has look more day could go come "
         "water search query document model cloud server").split()


def texts(n, rng):
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))) for _ in range(n)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_clients(call, clients, seconds, per_request):
    """Runs `call()` from `clients` threads for `seconds`; returns embeddings/s."""
    done = [0] * clients

    def worker(i):
        while time.time() < stop:
            call()
            done[i] += per_request
        return done[i]

    call()  # warm-up (loads the model)
    t0 = time.time()
    stop = t0 + seconds
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    return sum(done) / (time.time() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--basalt", default=str(HERE.parent / "build" / "src" / "server" / "basalt"))
    ap.add_argument("--model")
    ap.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2)))
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="embed_bench_"))
    model = args.model
    if model is None:
        model = str(tmp / "bge-small-shape-random.gguf")
        subprocess.run([sys.executable, str(HERE / "make_random_embed_gguf.py"), model,
                        "--embd", "384", "--layers", "12", "--heads", "12", "--ff", "1536",
                        "--ctx", "512"], check=True)
    rng = random.Random(0)
    batch_texts = texts(args.batch, rng)
    single_texts = texts(256, rng)
    # Basalt's step: 512 tokens (the engine's batch_size) and at most 64 texts.
    n_tokens_step = 512

    # llama-server: the same threads, the same 512-token (micro-)batch, a slot per client.
    lport = free_port()
    llama = subprocess.Popen(
        ["llama-server", "-m", model, "--embeddings", "--port", str(lport), "-t", str(args.threads),
         "-tb", str(args.threads), "-b", str(n_tokens_step), "-ub", str(n_tokens_step),
         "-np", str(args.clients), "-c", str(512 * args.clients), "--log-disable"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Basalt: the same GGUF behind Cohere and Titan ids.
    os.environ["BASALT_BINARY"] = str(pathlib.Path(args.basalt).resolve())
    from conftest import BasaltServer
    catalog = {"models": [{"modelId": "bench.embed-v1:0", "weights": model,
                           "requestFamily": "cohere-embed", "contextLength": 512,
                           "aliases": ["cohere.embed-english-v3"]}]}
    basalt = None
    try:
        basalt = BasaltServer(tmp / "data", extra_args=["--threads", str(args.threads)],
                              catalog=catalog)
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{lport}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        import boto3
        from botocore.config import Config
        rt = boto3.client("bedrock-runtime", endpoint_url=basalt.url, region_name="us-east-1",
                          aws_access_key_id=basalt.env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=basalt.env["AWS_SECRET_ACCESS_KEY"],
                          config=Config(retries={"max_attempts": 1}, read_timeout=300,
                                        max_pool_connections=args.clients * 2))
        local = threading.local()

        def basalt_call(items):
            def call():
                body = json.dumps({"texts": items() if callable(items) else items,
                                   "input_type": "search_document"})
                r = rt.invoke_model(modelId="cohere.embed-english-v3", body=body)
                out = json.loads(r["body"].read())
                assert len(out["embeddings"]) >= 1
            return call

        def llama_call(items):
            def call():
                import http.client
                if not hasattr(local, "conn"):
                    local.conn = http.client.HTTPConnection("127.0.0.1", lport, timeout=300)
                body = json.dumps({"input": items() if callable(items) else items})
                local.conn.request("POST", "/v1/embeddings", body=body,
                                   headers={"Content-Type": "application/json"})
                r = local.conn.getresponse()
                out = json.loads(r.read())
                assert r.status == 200 and len(out["data"]) >= 1, out
            return call

        def one():
            return [rng.choice(single_texts)]

        results = {}
        for name, items, per in (("batch of %d" % args.batch, batch_texts, args.batch),
                                 ("single text", one, 1)):
            b = run_clients(basalt_call(items), args.clients, args.seconds, per)
            local.__dict__.clear()
            l = run_clients(llama_call(items), args.clients, args.seconds, per)
            results[name] = (b, l)
        print(f"model {model} ({os.path.getsize(model) / 1e6:.1f} MB), threads {args.threads}, "
              f"{args.clients} clients, {args.seconds:.0f} s per run")
        print(f"{'workload':<16}{'basalt emb/s':>14}{'llama-server emb/s':>20}{'ratio':>8}")
        for name, (b, l) in results.items():
            ratio = f"{b / l:>8.2f}" if l > 0 else "     n/a"
            print(f"{name:<16}{b:>14.1f}{l:>20.1f}{ratio}")
        log = basalt.log_text()
        m = re.search(r"embedding model '[^']+' loaded.*", log)
        if m:
            print("basalt:", m.group(0))
    finally:
        if basalt is not None:
            basalt.stop()
        llama.terminate()
        llama.wait()


if __name__ == "__main__":
    main()
