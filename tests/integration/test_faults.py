"""Faults against the real binary: kill -9 under HTTP/1.1 + HTTP/2 streaming load, a client
leaving mid-stream, a data folder turned read-only while serving, and model files truncated
or removed before and after they load. Every test stops its servers and removes its mounts
in finally blocks."""
import copy
import http.client
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.parse

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

import conftest
from conftest import MODELS_DIR, TEST_CATALOG, BasaltServer

ROOT = pathlib.Path(__file__).resolve().parents[2]
NODE_DIR = pathlib.Path(__file__).parent / "node"
H2_HELPER = ROOT / "bench" / "load_h2.mjs"
MSG = [{"role": "user", "content": [{"text": "Once upon a time"}]}]
STORIES = "meta.llama3-8b-instruct-v1:0"  # stories260K, meta-llama body family
TINY = "test.llama-2-tiny-random-v1:0"


@pytest.fixture(autouse=True)
def no_strays(tmp_path):
    """After each test: no process still runs on this test's folders, and no mount is left."""
    yield
    mine = str(tmp_path)
    strays = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if mine in cmd and int(pid) != os.getpid():
            strays.append((pid, cmd))
    for pid, _ in strays:
        os.kill(int(pid), signal.SIGKILL)
    assert not strays, strays
    mounts = [l for l in pathlib.Path("/proc/self/mounts").read_text().splitlines()
              if mine in l]
    assert not mounts, mounts


def runtime(s):
    return boto3.client("bedrock-runtime", endpoint_url=s.url, region_name="us-east-1",
                        aws_access_key_id=s.env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=s.env["AWS_SECRET_ACCESS_KEY"],
                        config=Config(retries={"max_attempts": 1}, read_timeout=60,
                                      connect_timeout=5, max_pool_connections=32))


def signed(s, method, path, body=b""):
    req = AWSRequest(method=method, url=s.url + path, data=body,
                     headers={"Content-Type": "application/json"} if body else {})
    SigV4Auth(Credentials(s.env["AWS_ACCESS_KEY_ID"], s.env["AWS_SECRET_ACCESS_KEY"]), "bedrock",
              "us-east-1").add_auth(req)
    return dict(req.headers.items())


def open_stream(s, model, max_tokens, timeout=30):
    """Starts a ConverseStream over a raw HTTP/1.1 connection; returns (conn, response, rid)."""
    body = json.dumps({"messages": MSG, "inferenceConfig": {"maxTokens": max_tokens}}).encode()
    path = f"/model/{urllib.parse.quote(model, safe='')}/converse-stream"
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=timeout)
    conn.request("POST", path, body=body, headers=signed(s, "POST", path, body))
    r = conn.getresponse()
    assert r.status == 200, r.read()
    return conn, r, r.getheader("x-amzn-RequestId")


def metric(s, name, model):
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    m = re.search(re.escape(name) + r'\{model="' + re.escape(model) + r'"\} ([0-9.e+-]+)', text)
    return float(m.group(1)) if m else None


def records(data_dir):
    """usage.db rows by request id (read with the server stopped or running: WAL)."""
    con = sqlite3.connect(f"file:{data_dir / 'usage.db'}?mode=ro", uri=True)
    try:
        return {rid: {"outcome": o, "output": out, "input": inp} for rid, o, out, inp in
                con.execute("SELECT request_id, outcome, output_tokens, input_tokens "
                            "FROM usage_records")}
    finally:
        con.close()


def integrity(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def stop_all(servers):
    for s in servers:
        try:
            s.stop(timeout=10)
        except Exception:  # noqa: BLE001 - keep stopping the others
            s.proc.kill()
            s.proc.wait()
    for s in servers:
        assert s.proc.poll() is not None


# --- kill -9 under streaming load over both protocols -----------------------------------------

def test_kill_9_under_http1_and_http2_streams(tmp_path):
    """SIGKILL while HTTP/1.1 (raw) and HTTP/2 (JS SDK) streams run. After a restart on the
    same folder both databases pass integrity_check, every stream a client saw complete is on
    record with its tokens, and every stream that was cut is billed: 'interrupted' with the
    tokens generated up to its last checkpoint (or 'success' if it ended server-side)."""
    if not (NODE_DIR / "node_modules" / "@aws-sdk" / "client-bedrock-runtime").exists():
        pytest.skip("npm dependencies not installed (scripts/test installs them)")
    data = tmp_path / "k9"
    servers = []
    node = None
    try:
        s = BasaltServer(data, extra_args=("--usage-checkpoint-ms", "20", "--parallel", "2",
                                           "--threads", "1"))
        servers.append(s)
        max_tokens = 400
        completed = {}   # rid -> output tokens the client saw
        started = {}     # rid -> wall time its first event arrived
        lock = threading.Lock()
        stop = threading.Event()

        def h1_loop():
            for _ in range(200):
                if stop.is_set():
                    return
                try:
                    conn, r, rid = open_stream(s, STORIES, max_tokens, timeout=20)
                except (OSError, http.client.HTTPException, AssertionError):
                    return
                from botocore.eventstream import EventStreamBuffer
                buf, out = EventStreamBuffer(), None
                try:
                    while True:
                        chunk = r.read1(65536)
                        if not chunk:
                            break
                        with lock:
                            started.setdefault(rid, time.time())
                        buf.add_data(chunk)
                        for m in buf:
                            if m.headers.get(":event-type") == "metadata":
                                out = json.loads(m.payload)["usage"]["outputTokens"]
                except (OSError, http.client.HTTPException):
                    return
                finally:
                    conn.close()
                if out is None:
                    return  # cut by the kill
                with lock:
                    completed[rid] = out

        env = s.client_env()
        env.update(MODEL_ID=STORIES, CLIENTS="3", SECONDS="20", MAX_REQUESTS="200",
                   OPS="ConverseStream,InvokeModelWithResponseStream", MAX_TOKENS=str(max_tokens),
                   STOP_ON_ERROR="1", STARTED="1", NODE_MODULES_DIR=str(NODE_DIR),
                   REQUEST_TIMEOUT_MS="20000")
        node = subprocess.Popen(["node", str(H2_HELPER)], cwd=NODE_DIR, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        h2_lines = []
        reader = threading.Thread(target=lambda: h2_lines.extend(node.stdout), daemon=True)
        reader.start()
        threads = [threading.Thread(target=h1_loop) for _ in range(3)]
        for t in threads:
            t.start()
        deadline = time.time() + 20
        h2_done = lambda: sum(1 for l in list(h2_lines) if '"ok":true' in l)  # noqa: E731
        while time.time() < deadline and (len(completed) < 6 or h2_done() < 6):
            time.sleep(0.05)
        # Kill while generating.
        for _ in range(200):
            if (metric(s, "basalt_engine_busy_slots", "tinystories.stories-260k-v1:0") or 0) > 0:
                break
        time.sleep(0.1)  # let the running streams checkpoint at least once
        kill_time = time.time()
        s.proc.send_signal(signal.SIGKILL)
        s.proc.wait()
        stop.set()
        for t in threads:
            t.join(30)
        node.wait(timeout=40)
        reader.join(5)

        for line in h2_lines:
            rec = json.loads(line)
            if "started" in rec:
                started.setdefault(rec["started"], rec["t"] / 1000)
            elif rec.get("ok"):
                completed[rec["rid"]] = rec["out"]
        h2_ok = sum(1 for l in h2_lines if '"ok":true' in l)
        assert h2_ok >= 3 and len(completed) - h2_ok >= 3, (h2_ok, len(completed))

        assert integrity(data / "usage.db") == "ok"
        assert integrity(data / "basalt.db") == "ok"
        s2 = BasaltServer(data)
        servers.append(s2)
        assert "interrupted by a crash" in s2.log_text()
        recs = records(data)
        for rid, out in completed.items():
            assert rid in recs, f"completed stream {rid} lost"
            assert recs[rid]["outcome"] == "success" and recs[rid]["output"] == out, recs[rid]
        cut = {rid: t for rid, t in started.items() if rid not in completed}
        interrupted = {rid: r for rid, r in recs.items() if r["outcome"] == "interrupted"}
        assert interrupted, f"nothing recorded as interrupted; cut streams {len(cut)}"
        print(f"kill -9: {len(completed)} streams completed ({h2_ok} over HTTP/2), "
              f"{len(cut)} cut; interrupted records (output tokens): "
              f"{sorted(r['output'] for r in interrupted.values())}")
        for rid, r in interrupted.items():
            assert rid not in completed
            # Checkpoints start with the first token: a request still queued is not billed.
            assert 0 < r["output"] <= max_tokens and r["input"] > 0, r
        # A stream that had run for well over a checkpoint interval is billed.
        for rid, t in cut.items():
            if t < kill_time - 0.5:
                assert rid in recs, f"stream {rid} cut by the crash has no record"
                assert recs[rid]["outcome"] in ("interrupted", "success"), recs[rid]
                assert recs[rid]["output"] > 0
        # Serving and billing resume on the restarted server.
        r = runtime(s2).converse(modelId=STORIES, messages=MSG, inferenceConfig={"maxTokens": 3})
        assert records(data)[r["ResponseMetadata"]["RequestId"]]["output"] == 3
    finally:
        if node and node.poll() is None:
            node.kill()
            node.wait()
        stop_all(servers)


# --- a client leaving mid-stream ----------------------------------------------------------------

def test_client_gone_frees_the_slot_quickly(tmp_path):
    """One slot, a long generation; the client hangs up mid-stream. The slot is free within
    100 ms (busy_slots gauge, and a request needing that slot completes at once), and the
    usage record says client_gone with the tokens generated so far."""
    catalog = copy.deepcopy(TEST_CATALOG)
    tiny = catalog["models"][1]
    tiny.update(parallel=1, contextLength=4096)  # random weights: practically never ends early
    s = BasaltServer(tmp_path / "gone", catalog=catalog, extra_args=("--threads", "1"))
    try:
        rt = runtime(s)
        rt.converse(modelId=TINY, messages=MSG, inferenceConfig={"maxTokens": 1})  # load it
        conn, r, rid = open_stream(s, TINY, 4000)
        got = 0
        while got < 2000:
            got += len(r.read1(4096))
        assert metric(s, "basalt_engine_busy_slots", TINY) == 1
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        t0 = time.perf_counter()
        freed = None
        while time.perf_counter() - t0 < 5:
            if metric(s, "basalt_engine_busy_slots", TINY) == 0:
                freed = time.perf_counter() - t0
                break
            time.sleep(0.002)
        print(f"slot free {freed * 1000 if freed is not None else -1:.1f} ms after the hang-up")
        assert freed is not None and freed < 0.1, freed
        t1 = time.perf_counter()
        ok = rt.converse(modelId=TINY, messages=MSG, inferenceConfig={"maxTokens": 1})
        assert ok["usage"]["outputTokens"] == 1
        assert time.perf_counter() - t1 < 1.0
        deadline = time.time() + 5
        while time.time() < deadline and rid not in records(s.data_dir):
            time.sleep(0.02)
        rec = records(s.data_dir)[rid]
        assert rec["outcome"] == "client_gone", rec
        assert 0 < rec["output"] < 4000, rec
        assert s.alive()
    finally:
        stop_all([s])


H2_CLIENT_GONE = r"""
import { createRequire } from "node:module";
const require = createRequire(process.env.NODE_MODULES_DIR + "/x.js");
const { BedrockRuntimeClient, ConverseStreamCommand } = require("@aws-sdk/client-bedrock-runtime");
const client = new BedrockRuntimeClient({ maxAttempts: 1 });
const abort = new AbortController();
const r = await client.send(new ConverseStreamCommand({
  modelId: process.env.MODEL_ID, inferenceConfig: { maxTokens: 4000 },
  messages: [{ role: "user", content: [{ text: "Once upon a time" }] }],
}), { abortSignal: abort.signal });
let n = 0;
try {
  for await (const ev of r.stream) {
    if (ev.contentBlockDelta && ++n === 200) {
      console.log(JSON.stringify({ rid: r.$metadata.requestId, t: Date.now() }));
      abort.abort();  // RST_STREAM (CANCEL) on a connection that stays open
    }
  }
} catch (e) {}
await new Promise((ok) => setTimeout(ok, 1500));  // keep the session open meanwhile
client.destroy();
"""


def test_http2_client_gone_frees_the_slot_quickly(tmp_path):
    """The same over HTTP/2: the JS SDK aborts its stream (RST_STREAM) and keeps the
    connection open. The slot is free within 100 ms; the record says client_gone."""
    if not (NODE_DIR / "node_modules" / "@aws-sdk" / "client-bedrock-runtime").exists():
        pytest.skip("npm dependencies not installed (scripts/test installs them)")
    catalog = copy.deepcopy(TEST_CATALOG)
    catalog["models"][1].update(parallel=1, contextLength=4096)
    s = BasaltServer(tmp_path / "gone2", catalog=catalog, extra_args=("--threads", "1"))
    node = None
    try:
        runtime(s).converse(modelId=TINY, messages=MSG, inferenceConfig={"maxTokens": 1})
        script = tmp_path / "gone.mjs"
        script.write_text(H2_CLIENT_GONE)
        env = s.client_env()
        env.update(MODEL_ID=TINY, NODE_MODULES_DIR=str(NODE_DIR))
        node = subprocess.Popen(["node", str(script)], cwd=NODE_DIR, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = node.stdout.readline()
        assert line, node.stderr.read()
        rid = json.loads(line)["rid"]
        t0 = time.perf_counter()
        freed = None
        while time.perf_counter() - t0 < 5:
            if metric(s, "basalt_engine_busy_slots", TINY) == 0:
                freed = time.perf_counter() - t0
                break
            time.sleep(0.002)
        print(f"HTTP/2: slot free {freed * 1000 if freed is not None else -1:.1f} ms "
              f"after the abort was sent")
        assert freed is not None and freed < 0.1, freed
        node.wait(timeout=30)
        deadline = time.time() + 5
        while time.time() < deadline and rid not in records(s.data_dir):
            time.sleep(0.02)
        rec = records(s.data_dir)[rid]
        assert rec["outcome"] == "client_gone", rec
        assert 200 <= rec["output"] < 4000, rec
        assert s.alive()
    finally:
        if node and node.poll() is None:
            node.kill()
            node.wait()
        stop_all([s])


# --- the data folder turns read-only while serving ----------------------------------------------

def _mount(*args):
    return subprocess.run(["mount", *args], capture_output=True, text=True)


class _RawServer(BasaltServer):
    """A BasaltServer that writes nothing into its data folder (which may be read-only)."""

    def __init__(self, data_dir, log_path):  # noqa: super().__init__ writes catalog.json
        self.data_dir = pathlib.Path(data_dir)
        self.log_path = pathlib.Path(log_path)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(conftest.BINARY), "serve", "--port", "0", "--data-dir", str(data_dir),
             "--catalog", str(self.data_dir / "catalog.json"), "--models-dir", str(MODELS_DIR),
             "--threads", "1"], stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.port = None
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(r"listening on (https?)://[^:]+:(\d+)", line)
            if m:
                self.scheme, self.port = m.group(1), int(m.group(2))
                break
        if self.port is None:
            self.proc.wait(timeout=30)
            return
        threading.Thread(target=self._drain, daemon=True).start()
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        self.env = self._read_env()
        self._wait_healthy()


def _start_raw(data_dir, log_path):
    return _RawServer(data_dir, log_path)


def test_read_only_data_folder_while_serving(tmp_path):
    """The data folder turns read-only under a running server. Linux refuses a read-only
    remount of a filesystem with files open for writing (EBUSY: the server holds usage.db),
    so the fault is a read-only bind mount over the folder: new opens fail (EROFS), already
    open descriptors keep writing. Expected: no crash, never a 200 without a usage record (a
    request either is billed or refused with InternalServerException); a server started on the
    read-only folder refuses to start, or refuses every invocation with InternalServerException
    (it cannot bill them); after the folder is writable again, serving and billing resume."""
    data = tmp_path / "ro"
    data.mkdir()
    if _mount("-t", "tmpfs", "-o", "size=64m", "tmpfs", str(data)).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    mounts = [data]
    servers = []
    try:
        s = BasaltServer(data)
        servers.append(s)
        rt = runtime(s)
        rt.converse(modelId=STORIES, messages=MSG, inferenceConfig={"maxTokens": 2})
        # The superblock cannot go read-only while the server writes to it.
        busy = _mount("-o", "remount,ro", str(data))
        if busy.returncode == 0:  # a kernel that allows it: undo, use the bind mount below
            assert _mount("-o", "remount,rw", str(data)).returncode == 0
        r = _mount("--bind", str(data), str(data))
        if r.returncode != 0:
            pytest.skip("bind mount refused: " + r.stderr.strip())
        mounts.append(data)
        r = _mount("-o", "remount,bind,ro", str(data))
        if r.returncode != 0:
            pytest.skip("read-only remount refused: " + r.stderr.strip())
        with pytest.raises(OSError):
            (data / "probe").write_text("x")
        delivered, refused = [], 0
        for i in range(12):
            try:
                if i % 2:
                    out = rt.converse(modelId=STORIES, messages=MSG,
                                      inferenceConfig={"maxTokens": 3})
                    delivered.append((out["ResponseMetadata"]["RequestId"],
                                      out["usage"]["outputTokens"]))
                else:
                    out = rt.converse_stream(modelId=STORIES, messages=MSG,
                                             inferenceConfig={"maxTokens": 3})
                    meta = [e for e in out["stream"] if "metadata" in e]
                    delivered.append((out["ResponseMetadata"]["RequestId"],
                                      meta[0]["metadata"]["usage"]["outputTokens"]))
            except ClientError as e:
                assert e.response["Error"]["Code"] == "InternalServerException", e.response
                refused += 1
            except Exception as e:  # noqa: BLE001 - a stream cut with a modelled error
                assert "InternalServerException" in str(e) or "internalServer" in str(e), e
                refused += 1
        assert s.alive(), s.log_text()[-3000:]
        recs = records(data)
        for rid, out in delivered:
            assert rid in recs and recs[rid]["output"] == out, (rid, recs.get(rid))
        print(f"read-only bind: {len(delivered)} delivered and billed, {refused} refused")
        # A server started on the read-only folder either refuses to start with a clear error
        # or starts and refuses every invocation it cannot bill.
        s.stop()
        servers.remove(s)
        before = len(records(data))
        ro = _start_raw(data, tmp_path / "ro-server.log")
        servers.append(ro)
        if ro.port is None:
            assert ro.proc.returncode > 0, ro.log_text()[-2000:]
            print("server on a read-only folder: refused to start:", ro.log_text()[-300:])
        else:
            rt2 = runtime(ro)
            codes = []
            for i in range(4):
                try:
                    rt2.converse(modelId=STORIES, messages=MSG, inferenceConfig={"maxTokens": 2})
                    codes.append("200")
                except ClientError as e:
                    codes.append(e.response["Error"]["Code"])
            print("server started on a read-only folder answered:", codes)
            assert ro.alive(), ro.log_text()[-2000:]
            assert codes == ["InternalServerException"] * 4, (codes, ro.log_text()[-2000:])
            ro.stop()
        assert len(records(data)) == before
        # Writable again: serving and billing resume.
        assert subprocess.run(["umount", str(data)], capture_output=True).returncode == 0
        mounts.pop()
        s2 = BasaltServer(data)
        servers.append(s2)
        out = runtime(s2).converse(modelId=STORIES, messages=MSG,
                                   inferenceConfig={"maxTokens": 2})
        rid = out["ResponseMetadata"]["RequestId"]
        recs = records(data)
        assert recs[rid]["outcome"] == "success" and recs[rid]["output"] == 2
        for old, n in delivered:
            assert recs[old]["output"] == n
        assert integrity(data / "usage.db") == "ok"
    finally:
        stop_all(servers)
        for m in reversed(mounts):
            subprocess.run(["umount", "-l", str(m)], capture_output=True)


# --- model files truncated or removed -----------------------------------------------------------

def test_model_file_truncated_or_missing_before_load(tmp_path, monkeypatch):
    """A catalog pointing at a truncated GGUF and at a missing one: the server starts, the
    broken models answer with a Bedrock error (no crash), the good model still works."""
    models = tmp_path / "models"
    models.mkdir()
    src = (MODELS_DIR / "stories260K.gguf").read_bytes()
    (models / "stories-truncated.gguf").write_bytes(src[: len(src) // 2])
    (models / "stories-header-only.gguf").write_bytes(src[:64])
    shutil.copy(MODELS_DIR / "llama-2-tiny-random.gguf", models)
    catalog = copy.deepcopy(TEST_CATALOG)
    good = catalog["models"][1]
    catalog["models"] = [
        {**good, "modelId": "test.truncated-v1:0", "weights": "stories-truncated.gguf"},
        {**good, "modelId": "test.header-only-v1:0", "weights": "stories-header-only.gguf"},
        {**good, "modelId": "test.missing-v1:0", "weights": "not-there.gguf"},
        good,
    ]
    data = tmp_path / "data"
    data.mkdir()
    s = None
    try:
        monkeypatch.setattr(conftest, "MODELS_DIR", models)  # the only models folder
        s = BasaltServer(data, catalog=catalog)
        rt = runtime(s)
        for model in ("test.truncated-v1:0", "test.header-only-v1:0", "test.missing-v1:0"):
            for _ in range(2):  # the failure is remembered, not retried into a crash
                with pytest.raises(ClientError) as e:
                    rt.converse(modelId=model, messages=MSG, inferenceConfig={"maxTokens": 2})
                err = e.value.response["Error"]
                status = e.value.response["ResponseMetadata"]["HTTPStatusCode"]
                assert (err["Code"], status) in {
                    ("InternalServerException", 500), ("ModelNotReadyException", 429),
                    ("ResourceNotFoundException", 404), ("ValidationException", 400),
                    ("ServiceUnavailableException", 503)}, (model, err, status)
                assert err["Message"], err
            assert s.alive(), s.log_text()[-3000:]
        out = rt.converse(modelId=TINY, messages=MSG, inferenceConfig={"maxTokens": 2})
        assert out["usage"]["outputTokens"] == 2
        assert "not found in the models folders" in s.log_text()
    finally:
        if s:
            s.stop()


@pytest.mark.parametrize("how", ["truncate", "remove", "rename"])
def test_model_file_changed_while_loaded(tmp_path, monkeypatch, how):
    """The weights file of a loaded model is truncated in place, removed, or replaced by a
    rename (how `basalt models pull` writes). The server keeps serving from the weights it
    read: with memory-mapped weights a truncation used to kill it with SIGBUS."""
    models = tmp_path / "models"
    models.mkdir()
    for name in ("stories260K.gguf", "llama-2-tiny-random.gguf"):
        shutil.copy(MODELS_DIR / name, models)
    data = tmp_path / "data"
    data.mkdir()
    s = None
    try:
        monkeypatch.setattr(conftest, "MODELS_DIR", models)  # the only models folder
        s = BasaltServer(data)
        rt = runtime(s)
        first = rt.converse(modelId=STORIES, messages=MSG,
                            inferenceConfig={"maxTokens": 24, "temperature": 0})
        text = first["output"]["message"]["content"][0]["text"]
        path = models / "stories260K.gguf"
        if how == "truncate":
            os.truncate(path, path.stat().st_size // 2)
            os.truncate(path, path.stat().st_size // 2)  # and again, past more pages
        elif how == "remove":
            os.truncate(path, 0)
            path.unlink()
        else:
            tmp = models / "stories260K.gguf.part"
            shutil.copy(MODELS_DIR / "stories260K.gguf", tmp)
            os.rename(tmp, path)
        for i in range(6):
            out = rt.converse(modelId=STORIES, messages=MSG,
                              inferenceConfig={"maxTokens": 24 + i, "temperature": 0})
            assert out["output"]["message"]["content"][0]["text"].startswith(text[:20])
            stream = rt.converse_stream(modelId=STORIES, messages=MSG,
                                        inferenceConfig={"maxTokens": 40})
            assert [e for e in stream["stream"] if "metadata" in e]
        assert s.alive(), f"server died (exit {s.proc.returncode}): " + s.log_text()[-2000:]
        assert rt.converse(modelId=TINY, messages=MSG,
                           inferenceConfig={"maxTokens": 2})["usage"]["outputTokens"] == 2
    finally:
        if s:
            s.stop()
