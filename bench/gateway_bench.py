#!/usr/bin/env python3
"""Gateway overhead: 1-token requests/s from 8 concurrent clients on stories260K.

Run inside the root: `scripts/forky python3 bench/gateway_bench.py [--binary B] [--runs N]`.

Three servers are measured in the same run, one after another, with the same model, threads,
slots and context:
  llama-server   unsigned POST /completion {"prompt": "Hi", "n_predict": 1}
  basalt-sigv4   POST /model/bench.model/invoke (meta-llama body, max_gen_len 1), SigV4-signed
  basalt-apikey  the same request with `Authorization: Bearer ABSK...` (a long-term API key)

The client is the same for all three: 8 worker processes (multiprocessing, fork), each with one
keep-alive HTTP/1.1 connection (http.client), sending requests back to back for --duration
seconds. Basalt's SigV4 requests are signed afresh for each request as botocore does it (hash of
the body, canonical request, signing key derived from the secret, date, region and service,
then the signature) with hashlib/hmac, so no signature is ever replayed; the signer is
checked against botocore's own once at start. Each figure is the total of completed requests
over the wall time of the 8 workers; the ratio is Basalt / llama-server in the same run.

Every Basalt request still writes a durable usage record (group-committed with fsync before
the response completes): after each Basalt run the script counts the records with
`basalt usage report`, a separate process reading usage.db, and prints them beside the
requests the clients saw.
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import text_bench as tb  # noqa: E402  (free ports, server start/stop, wait_http)

ROOT = HERE.parent
MODEL = ROOT.parent / "shared" / "models" / "stories260K.gguf"
REGION = "us-east-1"
MODEL_ID = "bench.model"
INVOKE_PATH = f"/model/{MODEL_ID}/invoke"
BASALT_BODY = json.dumps({"prompt": "Hi", "max_gen_len": 1, "temperature": 0}).encode()
LLAMA_BODY = json.dumps({"prompt": "Hi", "n_predict": 1, "temperature": 0}).encode()


# ---- the client ------------------------------------------------------------------------------

def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_headers(access_key, secret, host, method, path, body, now=None):
    """Headers of a request signed the way botocore signs bedrock-runtime calls."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    payload_hash = hashlib.sha256(body).hexdigest()
    # botocore quotes the path once more for SigV4 (`/` kept); our paths need no quoting.
    canonical = "\n".join([method, path, "", "content-type:application/json", f"host:{host}",
                           f"x-amz-date:{amz_date}", "", "content-type;host;x-amz-date",
                           payload_hash])
    scope = f"{day}/{REGION}/bedrock/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    k = _hmac(("AWS4" + secret).encode(), day)
    k = _hmac(k, REGION)
    k = _hmac(k, "bedrock")
    k = _hmac(k, "aws4_request")
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Amz-Date": amz_date,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                         "SignedHeaders=content-type;host;x-amz-date, Signature=" + signature,
    }


def check_signer_against_botocore(access_key, secret, host):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    req = AWSRequest(method="POST", url=f"http://{host}{INVOKE_PATH}", data=BASALT_BODY,
                     headers={"Content-Type": "application/json"})
    auth = SigV4Auth(Credentials(access_key, secret), "bedrock", REGION)
    auth._get_utc_now = lambda: now  # noqa: SLF001  (fix the clock for the comparison)
    auth.add_auth(req)
    ours = sigv4_headers(access_key, secret, host, "POST", INVOKE_PATH, BASALT_BODY, now)
    if req.headers["Authorization"] != ours["Authorization"]:
        raise SystemExit("the bench's SigV4 signer disagrees with botocore:\n  " +
                         req.headers["Authorization"] + "\n  " + ours["Authorization"])


def _worker(args):
    kind, port, cred, duration, start_at = args
    host = f"127.0.0.1:{port}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    if kind == "llama":
        path, body = "/completion", LLAMA_BODY
        fixed = {"Content-Type": "application/json"}
    elif kind == "apikey":
        path, body = INVOKE_PATH, BASALT_BODY
        fixed = {"Content-Type": "application/json", "Authorization": "Bearer " + cred}
    else:
        path, body = INVOKE_PATH, BASALT_BODY
        access_key, secret = cred
    while time.time() < start_at:
        time.sleep(0.001)
    n = errors = 0
    end = time.perf_counter() + duration
    while time.perf_counter() < end:
        headers = fixed if kind != "sigv4" else sigv4_headers(access_key, secret, host, "POST",
                                                               path, body)
        conn.request("POST", path, body, headers)
        r = conn.getresponse()
        r.read()
        if r.status == 200:
            n += 1
        else:
            errors += 1
    conn.close()
    return n, errors


def rps(kind, port, cred, duration, clients=8):
    start_at = time.time() + 0.5
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        t0 = time.perf_counter()
        outs = pool.map(_worker, [(kind, port, cred, duration, start_at)] * clients)
        wall = time.perf_counter() - t0 - max(0.0, start_at - time.time())
    n = sum(o[0] for o in outs)
    errors = sum(o[1] for o in outs)
    # Workers start together at start_at; measure over the duration they ran.
    return n / duration, n, errors, wall


# ---- servers ---------------------------------------------------------------------------------

def start_basalt(binary, threads, parallel, ctx, tmp):
    p, client = tb.start_basalt(binary, MODEL, threads, parallel, ctx, tmp)
    env = (pathlib.Path(tmp) / "basalt-data" / "admin.env").read_text()
    key = re.search(r"AWS_ACCESS_KEY_ID=(\S+)", env).group(1)
    secret = re.search(r"AWS_SECRET_ACCESS_KEY=(\S+)", env).group(1)
    return p, client.port, client.headers["Authorization"][len("Bearer "):], (key, secret)


def usage_records(binary, tmp):
    today = datetime.datetime.now(datetime.timezone.utc).date()
    out = subprocess.run([str(binary), "usage", "report", "--data-dir",
                          str(pathlib.Path(tmp) / "basalt-data"), "--from",
                          (today - datetime.timedelta(days=1)).isoformat(), "--to",
                          (today + datetime.timedelta(days=1)).isoformat(), "--group-by",
                          "model"], capture_output=True, text=True)
    try:
        return json.loads(out.stdout)["total"]["requests"]
    except (ValueError, KeyError):
        return None


def warm(kind, port, cred):
    return _worker((kind, port, cred, 0.5, 0))[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=str(ROOT / "build" / "src" / "server" / "basalt"))
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    ap.add_argument("--runs", type=int, default=3, help="rounds of the three measurements")
    # One compute thread: the model costs nothing, and ggml's threads spin at barriers, which
    # on a small shared machine steals the CPU that the gateways and the clients need.
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--ctx", type=int, default=2048)
    args = ap.parse_args()

    print(f"model {MODEL.name}, 8 client processes with keep-alive connections, "
          f"{args.duration:.0f} s per figure, --threads {args.threads} --parallel "
          f"{args.parallel} --ctx {args.ctx}")
    lp, lclient = tb.start_llama_server(MODEL, args.threads, args.parallel, args.ctx)
    tmp = tempfile.mkdtemp(prefix="gateway-bench-")
    bp, bport, token, cred = start_basalt(args.binary, args.threads, args.parallel, args.ctx, tmp)
    check_signer_against_botocore(cred[0], cred[1], f"127.0.0.1:{bport}")
    try:
        warm("llama", lclient.port, None)
        warmed = warm("sigv4", bport, cred) + warm("apikey", bport, token)
        rows = []
        for run in range(args.runs):
            # Alternate the order so a drift of the machine does not favour one server.
            order = ["llama", "sigv4", "apikey"] if run % 2 == 0 else ["apikey", "sigv4", "llama"]
            fig = {}
            for kind in order:
                if kind == "llama":
                    fig[kind] = rps("llama", lclient.port, None, args.duration)
                else:
                    fig[kind] = rps(kind, bport, cred if kind == "sigv4" else token,
                                    args.duration)
            rows.append(fig)
            errs = sum(f[2] for f in fig.values())
            print(f"run {run + 1}: llama-server {fig['llama'][0]:8.1f} req/s | basalt sigv4 "
                  f"{fig['sigv4'][0]:8.1f} ({fig['sigv4'][0] / fig['llama'][0]:.2f}x) | basalt "
                  f"api key {fig['apikey'][0]:8.1f} ({fig['apikey'][0] / fig['llama'][0]:.2f}x)"
                  + (f" | {errs} errors" if errs else ""), flush=True)
        med = lambda k: sorted(r[k][0] for r in rows)[len(rows) // 2]  # noqa: E731
        print(f"median: llama-server {med('llama'):.1f}, basalt sigv4 {med('sigv4'):.1f} "
              f"({med('sigv4') / med('llama'):.2f}x), basalt api key {med('apikey'):.1f} "
              f"({med('apikey') / med('llama'):.2f}x)")
    finally:
        tb.stop(lp)
        tb.stop(bp)
    records = usage_records(args.binary, tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    ok = sum(r[k][1] for r in rows for k in ("sigv4", "apikey")) + warmed
    print(f"usage records in usage.db (read by `basalt usage report`): {records} for {ok} "
          "successful Basalt requests")


if __name__ == "__main__":
    main()
