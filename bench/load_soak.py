#!/usr/bin/env python3
"""Bounded load and soak run against a Basalt this script starts on loopback.

Half the clients speak HTTP/1.1 (raw http.client, SigV4 from botocore, one keep-alive
connection each), half HTTP/2 (the AWS SDK for JavaScript v3 through bench/load_h2.mjs, h2c
with prior knowledge). Each rotates InvokeModel, InvokeModelWithResponseStream, Converse and
ConverseStream on stories260K with 1..32 output tokens, for --seconds (every loop is bounded
in count and time). Then it prints requests/s, p50/p95/p99 latency, errors by Bedrock type,
and checks:
  - every request either completed or failed with a modelled Bedrock error;
  - usage.db (read after the server stops) holds exactly the requests the clients saw
    complete: same request ids, outcome success, same output tokens, and no other successes;
  - server RSS (VmRSS) and open descriptors return to near their starting level once the
    load ends and connections close.
Exits 1 when a check fails.

Run inside the root, from the repo root:
  scripts/forky python3 bench/load_soak.py [--seconds 60] [--clients 8]
"""
import argparse
import collections
import concurrent.futures
import http.client
import json
import os
import pathlib
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import conftest  # noqa: E402  (BasaltServer, the test catalog and models)

MODEL = "meta.llama3-8b-instruct-v1:0"  # stories260K, meta-llama body family
NODE_DIR = ROOT / "tests" / "integration" / "node"
OPS = ["InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream"]
BEDROCK_ERRORS = {
    "AccessDeniedException", "InternalServerException", "ModelErrorException",
    "ModelNotReadyException", "ModelStreamErrorException", "ModelTimeoutException",
    "ResourceNotFoundException", "ServiceQuotaExceededException", "ServiceUnavailableException",
    "ThrottlingException", "ValidationException",
}
REQUEST_TIMEOUT_S = 60


class Unmodelled(Exception):
    pass


class Modelled(Exception):
    def __init__(self, kind, status, rid, message):
        super().__init__(f"{kind} ({status}): {message}")
        self.kind, self.status, self.rid = kind, status, rid


def proc_figures(pid):
    rss_kb = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    threads = len(os.listdir(f"/proc/{pid}/task"))
    return rss_kb, fds, threads


class H1Client:
    """One keep-alive HTTP/1.1 connection with SigV4-signed Bedrock runtime calls."""

    def __init__(self, server):
        self.server = server
        self.creds = Credentials(server.env["AWS_ACCESS_KEY_ID"],
                                 server.env["AWS_SECRET_ACCESS_KEY"])
        self.conn = None

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def _send(self, path, body):
        req = AWSRequest(method="POST", url=self.server.url + path, data=body,
                         headers={"Content-Type": "application/json",
                                  "Accept": "application/json"})
        SigV4Auth(self.creds, "bedrock", "us-east-1").add_auth(req)
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port,
                                                   timeout=REQUEST_TIMEOUT_S)
        try:
            self.conn.request("POST", path, body=body, headers=dict(req.headers.items()))
            return self.conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise Unmodelled(f"{type(e).__name__}: {e}") from e

    def _error(self, r):
        body = r.read()
        kind = (r.getheader("x-amzn-ErrorType") or "").split(":")[0]
        try:
            msg = json.loads(body).get("message", "") if body else ""
        except ValueError:
            msg = body[:200].decode(errors="replace")
        if kind in BEDROCK_ERRORS:
            raise Modelled(kind, r.status, r.getheader("x-amzn-RequestId"), msg)
        raise Unmodelled(f"HTTP {r.status} type={kind!r}: {body[:200]!r}")

    def _events(self, r):
        buf = EventStreamBuffer()
        while True:
            try:
                data = r.read1(65536)
            except (OSError, http.client.HTTPException) as e:
                self.close()
                raise Unmodelled(f"stream cut: {type(e).__name__}: {e}") from e
            if not data:
                return
            buf.add_data(data)
            for msg in buf:
                h = msg.headers
                if h.get(":message-type") == "exception":
                    kind = h.get(":exception-type", "")
                    text = json.loads(msg.payload or b"{}").get("message", "")
                    if kind in BEDROCK_ERRORS:
                        raise Modelled(kind, 200, r.getheader("x-amzn-RequestId"), text)
                    raise Unmodelled(f"stream exception {kind!r}: {text}")
                yield h.get(":event-type"), json.loads(msg.payload)

    def call(self, op, max_tokens):
        """Returns (request id, output tokens) or raises Modelled / Unmodelled."""
        if op.startswith("Invoke"):
            body = json.dumps({"prompt": "Once upon a time", "max_gen_len": max_tokens}).encode()
            path = f"/model/{MODEL}/" + ("invoke" if op == "InvokeModel"
                                         else "invoke-with-response-stream")
        else:
            body = json.dumps({"messages": [{"role": "user",
                                             "content": [{"text": "Once upon a time"}]}],
                               "inferenceConfig": {"maxTokens": max_tokens}}).encode()
            path = f"/model/{MODEL}/" + ("converse" if op == "Converse" else "converse-stream")
        r = self._send(path, body)
        rid = r.getheader("x-amzn-RequestId")
        if r.status != 200:
            self._error(r)
        try:
            if op == "InvokeModel":
                return rid, json.loads(r.read())["generation_token_count"]
            if op == "Converse":
                return rid, json.loads(r.read())["usage"]["outputTokens"]
            out = None
            for kind, payload in self._events(r):
                if op == "InvokeModelWithResponseStream":
                    chunk = json.loads(__import__("base64").b64decode(payload["bytes"]))
                    m = chunk.get("amazon-bedrock-invocationMetrics")
                    if m:
                        out = m["outputTokenCount"]
                elif kind == "metadata":
                    out = payload["usage"]["outputTokens"]
            if out is None:
                raise Unmodelled("stream ended without usage")
            return rid, out
        except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
            self.close()
            raise Unmodelled(f"{type(e).__name__}: {e}") from e


def h1_loop(server, idx, deadline, max_requests, results):
    c = H1Client(server)
    try:
        for i in range(max_requests):
            if time.time() >= deadline:
                break
            op = OPS[(idx + i) % len(OPS)]
            max_tokens = 1 + (idx * 7 + i * 5) % 32
            t0 = time.perf_counter()
            rec = {"proto": "h1", "op": op}
            try:
                rid, out = c.call(op, max_tokens)
                rec.update(ok=True, rid=rid, out=out)
            except Modelled as e:
                rec.update(ok=False, modelled=True, error=e.kind, status=e.status, rid=e.rid,
                           message=str(e)[:200])
            except Unmodelled as e:
                rec.update(ok=False, modelled=False, error="unmodelled", message=str(e)[:200])
            rec["ms"] = (time.perf_counter() - t0) * 1000
            results.append(rec)
    finally:
        c.close()


def run_h2(server, clients, seconds, max_requests, results):
    if clients == 0:
        return None
    if not (NODE_DIR / "node_modules" / "@aws-sdk" / "client-bedrock-runtime").exists():
        print("HTTP/2: skipped, npm dependencies not installed in tests/integration/node")
        return None
    env = server.client_env()
    env.update(MODEL_ID=MODEL, CLIENTS=str(clients), SECONDS=str(seconds),
               MAX_REQUESTS=str(max_requests), NODE_MODULES_DIR=str(NODE_DIR))
    p = subprocess.Popen(["node", str(HERE / "load_h2.mjs")], cwd=NODE_DIR, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=seconds + REQUEST_TIMEOUT_S + 30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        results.append({"proto": "h2", "op": "?", "ok": False, "modelled": False,
                        "error": "unmodelled", "message": "node helper timed out", "ms": 0})
    done = False
    for line in out.splitlines():
        rec = json.loads(line)
        if "started" in rec:
            continue
        if rec.get("done"):
            done = True
            continue
        if not rec["ok"]:
            rec["modelled"] = bool(rec.get("modelled")) and rec["error"] in BEDROCK_ERRORS
            if not rec["modelled"]:
                rec["error"] = "unmodelled"
        results.append(rec)
    if not done or p.returncode != 0:
        print("HTTP/2 helper failed:", p.returncode, err[-2000:])
        results.append({"proto": "h2", "op": "?", "ok": False, "modelled": False,
                        "error": "unmodelled", "message": "node helper failed", "ms": 0})
    return p.returncode


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100 * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=8,
                    help="clients in all: half HTTP/1.1, half HTTP/2 (default 8)")
    ap.add_argument("--h2-clients", type=int, default=None,
                    help="of --clients, how many speak HTTP/2 (default half)")
    ap.add_argument("--max-requests", type=int, default=100000, help="per client")
    ap.add_argument("--binary", default=str(conftest.BINARY))
    ap.add_argument("--rss-slack-mib", type=float, default=32,
                    help="RSS after may exceed RSS at start by this much")
    ap.add_argument("--fd-slack", type=int, default=2,
                    help="descriptors after may exceed descriptors at start by this much")
    ap.add_argument("--rss-drift-mib", type=float, default=8,
                    help="RSS may grow by this much over the second half of the run")
    ap.add_argument("--server-arg", action="append", default=[],
                    help="extra `basalt serve` argument (repeat), e.g. --server-arg=--threads --server-arg=1")
    ap.add_argument("--keep", action="store_true", help="keep the data folder")
    args = ap.parse_args()
    args.seconds = max(1.0, min(args.seconds, 3600.0))
    conftest.BINARY = pathlib.Path(args.binary)
    h2 = args.clients // 2 if args.h2_clients is None else min(args.h2_clients, args.clients)
    h1 = args.clients - h2

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="basalt-soak-"))
    server = conftest.BasaltServer(tmp / "data", extra_args=tuple(args.server_arg))
    failures = []

    def check(ok, what):
        print(("PASS " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    try:
        pid = server.proc.pid
        # Warm up: load the model and touch every operation once on each protocol path.
        warm = H1Client(server)
        warm_ids = {warm.call(op, 2)[0] for op in OPS}
        warm.close()
        warm_results = []
        run_h2(server, 1 if h2 else 0, 1, len(OPS), warm_results)
        bad_warm = [r for r in warm_results if not r["ok"]]
        if bad_warm:
            raise SystemExit(f"HTTP/2 warm-up failed: {bad_warm}")
        warm_ids |= {r["rid"] for r in warm_results}
        time.sleep(1.0)
        start = proc_figures(pid)
        peak = list(start)
        timeline = []  # (seconds since the load started, RSS kB, fds)
        stop_sampling = threading.Event()

        def sample():
            while not stop_sampling.wait(0.2):
                try:
                    cur = proc_figures(pid)
                except OSError:
                    return
                timeline.append((time.time() - t0, cur[0], cur[1]))
                for i in range(3):
                    peak[i] = max(peak[i], cur[i])

        t0 = time.time()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

        print(f"basalt pid {pid} at {server.url}; {h1} HTTP/1.1 + {h2} HTTP/2 clients for "
              f"{args.seconds:g} s on {MODEL} (stories260K)")
        results = []
        deadline = time.time() + args.seconds
        with concurrent.futures.ThreadPoolExecutor(h1 + 1) as pool:
            futs = [pool.submit(h1_loop, server, i, deadline, args.max_requests, results)
                    for i in range(h1)]
            futs.append(pool.submit(run_h2, server, h2, args.seconds, args.max_requests,
                                    results))
            for f in futs:
                f.result(timeout=args.seconds + REQUEST_TIMEOUT_S + 60)
        elapsed = time.time() - t0

        # Connections are closed; give the server a moment to reap them.
        after = None
        settle_deadline = time.time() + 10
        while time.time() < settle_deadline:
            time.sleep(0.5)
            after = proc_figures(pid)
            if after[1] <= start[1] + args.fd_slack:
                break
        stop_sampling.set()
        sampler.join(5)
        alive = server.alive()

        # Figures.
        ok = [r for r in results if r["ok"]]
        lat = sorted(r["ms"] for r in ok)
        print(f"\nrequests: {len(results)} in {elapsed:.1f} s = {len(results) / elapsed:.1f}/s; "
              f"completed {len(ok)} = {len(ok) / elapsed:.1f}/s; "
              f"output tokens {sum(r['out'] for r in ok)}")
        print(f"latency of completed requests (ms): p50 {pct(lat, 50):.1f}  "
              f"p95 {pct(lat, 95):.1f}  p99 {pct(lat, 99):.1f}  max {lat[-1] if lat else 0:.1f}")
        by = collections.defaultdict(list)
        for r in ok:
            by[(r["proto"], r["op"])].append(r["ms"])
        for (proto, op), v in sorted(by.items()):
            v.sort()
            print(f"  {proto} {op:31s} n={len(v):6d}  p50 {pct(v, 50):7.1f}  "
                  f"p95 {pct(v, 95):7.1f}  p99 {pct(v, 99):7.1f}")
        errors = collections.Counter(r["error"] for r in results if not r["ok"])
        print("errors by type:", dict(errors) if errors else "none")
        for r in [r for r in results if not r["ok"]][:5]:
            print("  e.g.", r["proto"], r["op"], r["error"], r.get("message", ""))
        mib = lambda kb: kb / 1024  # noqa: E731
        print(f"server RSS MiB: start {mib(start[0]):.1f}  peak {mib(peak[0]):.1f}  "
              f"after {mib(after[0]):.1f}")
        print(f"server fds:     start {start[1]}  peak {peak[1]}  after {after[1]}")
        print(f"server threads: start {start[2]}  peak {peak[2]}  after {after[2]}")
        during = [x for x in timeline if x[0] <= elapsed]
        step = max(1, len(during) // 6)
        print("RSS MiB over the run:", "  ".join(f"{x[0]:.0f}s {mib(x[1]):.1f}"
                                                for x in during[::step] + during[-1:]))
        half = [x[1] for x in during if x[0] >= elapsed / 2]
        drift = mib(max(half) - half[0]) if len(half) > 1 else 0.0

        check(alive, "server alive after the load")
        unmodelled = [r for r in results if not r["ok"] and not r["modelled"]]
        check(not unmodelled, f"every request completed or failed with a modelled Bedrock error "
                              f"({len(unmodelled)} did not)")
        check(len(ok) > 0, "some requests completed")
        check(after[1] <= start[1] + args.fd_slack,
              f"open descriptors back near the start ({after[1]} <= {start[1]} + {args.fd_slack})")
        check(drift <= args.rss_drift_mib,
              f"RSS steady over the second half of the run (+{drift:.1f} MiB <= "
              f"{args.rss_drift_mib:g} MiB)")
        check(mib(after[0] - start[0]) <= args.rss_slack_mib,
              f"RSS back near the start (+{mib(after[0] - start[0]):.1f} MiB <= "
              f"{args.rss_slack_mib:g} MiB)")

        server.stop()
        check(server.proc.returncode == 0, f"server stopped cleanly (exit {server.proc.returncode})")
        db = sqlite3.connect(server.data_dir / "usage.db")
        check(db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "usage.db integrity_check")
        rows = {rid: (outcome, out) for rid, outcome, out in db.execute(
            "SELECT request_id, outcome, output_tokens FROM usage_records")}
        db.close()
        seen = {r["rid"]: r["out"] for r in ok}
        # Warm-up requests are on record too; count only what the measured run saw.
        warm_missing = warm_ids - set(rows)
        missing = [rid for rid in seen if rid not in rows]
        wrong = [(rid, seen[rid], rows[rid]) for rid in seen
                 if rid in rows and rows[rid] != ("success", seen[rid])]
        extra = [rid for rid, (outcome, _) in rows.items()
                 if outcome == "success" and rid not in seen and rid not in warm_ids]
        n_warm = len(warm_ids)
        billed_run = {rid: v for rid, v in rows.items() if rid not in warm_ids}
        print(f"usage records: {len(rows)} ({n_warm} from the warm-up); run records "
              f"{len(billed_run)}, of them success "
              f"{sum(1 for v in billed_run.values() if v[0] == 'success')}; "
              f"outcomes {dict(collections.Counter(v[0] for v in billed_run.values()))}")
        print(f"output tokens: clients saw {sum(seen.values())}, records of those requests "
              f"{sum(rows[rid][1] for rid in seen if rid in rows)}")
        check(len(seen) == len(ok), f"request ids unique ({len(seen)} of {len(ok)})")
        check(not missing, f"every completed request has a usage record ({len(missing)} missing)")
        check(not wrong, f"each record says success with the output tokens the client saw "
                         f"({len(wrong)} differ{': ' + str(wrong[:3]) if wrong else ''})")
        check(not extra, f"no success record the clients did not see complete ({len(extra)})")
        check(not warm_missing, f"warm-up requests on record ({len(warm_missing)} missing)")
    finally:
        server.stop(sig=signal.SIGKILL) if server.alive() else server.stop()
        if args.keep:
            print("data kept in", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\nRESULT:", "FAIL (" + "; ".join(failures) + ")" if failures else "PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
