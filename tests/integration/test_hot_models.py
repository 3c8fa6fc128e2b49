"""Models change without a restart (issue 11): a model added, replaced and removed under load
with no failed request; reloads by POST /basalt/models/reload, `basalt models reload` (SIGHUP)
and the watch on the catalog and models folders; a replacement file that is cut short keeps
the old model serving; a model that does not fit the memory limit is refused with
ServiceUnavailableException."""
import http.client
import json
import os
import shutil
import subprocess
import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import BINARY, MODELS_DIR, BasaltServer, admin_cli, signed_call

STORIES = MODELS_DIR / "stories260K.gguf"
RANDOM = MODELS_DIR / "llama-2-tiny-random.gguf"


def entry(model_id, weights, **extra):
    return {"modelId": model_id, "providerName": "Test", "modelName": model_id,
            "weights": weights, "requestFamily": "meta-llama", "contextLength": 256,
            "parallel": 2, **extra}


def put_file(src, dest, cut=None):
    """Writes a copy of `src` beside `dest` and renames it into place (what a careful copy or
    `basalt models pull` does)."""
    tmp = dest.with_name(dest.name + ".incoming")
    data = src.read_bytes()
    tmp.write_bytes(data if cut is None else data[:cut])
    os.replace(tmp, dest)


def write_catalog(server, models):
    tmp = server.catalog_path.with_name("catalog.json.new")
    tmp.write_text(json.dumps({"models": models}))
    os.replace(tmp, server.catalog_path)


def client(server):
    return boto3.client(
        "bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}, read_timeout=120))


def converse(c, model_id, max_tokens=12, stream=False):
    args = dict(modelId=model_id,
                messages=[{"role": "user", "content": [{"text": "Once upon a time"}]}],
                inferenceConfig={"maxTokens": max_tokens, "temperature": 0})
    if not stream:
        r = c.converse(**args)
        return r["output"]["message"]["content"][0]["text"], r["stopReason"]
    text, stop = "", None
    for ev in c.converse_stream(**args)["stream"]:
        if "contentBlockDelta" in ev:
            text += ev["contentBlockDelta"]["delta"]["text"]
        if "messageStop" in ev:
            stop = ev["messageStop"]["stopReason"]
    return text, stop


def reload_http(server):
    status, _, body = signed_call(server, "POST", "/basalt/models/reload")
    assert status == 200, body
    return body


class Load:
    """Client threads calling `model_id` (Converse and ConverseStream in turn) until stopped;
    every failure is kept."""

    def __init__(self, server, model_id, threads):
        self.model_id, self.stop, self.ok, self.failures = model_id, threading.Event(), 0, []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(server, i % 2 == 1), daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, server, stream):
        c = client(server)
        while not self.stop.is_set():
            try:
                _, stop = converse(c, self.model_id, stream=stream)
                assert stop in ("max_tokens", "end_turn"), stop
                with self.lock:
                    self.ok += 1
            except Exception as e:  # noqa: BLE001 - every failure counts
                with self.lock:
                    self.failures.append(f"{self.model_id}: {e!r}")
            stream = not stream

    def wait_for(self, n, timeout=120):
        deadline = time.time() + timeout
        start = self.ok
        while self.ok < start + n and time.time() < deadline:
            time.sleep(0.05)
        assert self.ok >= start + n, f"{self.model_id}: no progress ({self.failures[:3]})"

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=180)
        return self.failures


@pytest.fixture
def models(tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    for name in ("keep.gguf", "swap.gguf", "gone.gguf"):
        shutil.copy(STORIES, d / name)
    return d


BASE = [entry("test.keep-v1:0", "keep.gguf"), entry("test.swap-v1:0", "swap.gguf"),
        entry("test.gone-v1:0", "gone.gguf")]


def test_add_replace_remove_under_load(tmp_path, models):
    server = BasaltServer(tmp_path / "data", catalog={"models": BASE}, models_dirs=str(models),
                          extra_args=["--no-model-watch"])
    try:
        c = client(server)
        swap_before, _ = converse(c, "test.swap-v1:0", max_tokens=16)
        keep = Load(server, "test.keep-v1:0", 3)
        swap = Load(server, "test.swap-v1:0", 2)
        gone = Load(server, "test.gone-v1:0", 1)
        keep.wait_for(4)
        swap.wait_for(2)
        gone.wait_for(2)

        # Added: a new file and catalog entry, by the admin operation over HTTP.
        put_file(STORIES, models / "added.gguf")
        write_catalog(server, BASE + [entry("test.added-v1:0", "added.gguf")])
        diff = reload_http(server)
        assert diff["added"] == ["test.added-v1:0"], diff
        assert diff["replaced"] == [] and diff["removed"] == [] and diff["errors"] == [], diff
        added = Load(server, "test.added-v1:0", 1)
        added.wait_for(2)

        # Replaced: another model's weights renamed over swap.gguf, by `basalt models reload`
        # (SIGHUP to the server of the data dir).
        put_file(RANDOM, models / "swap.gguf")
        out = subprocess.run([str(BINARY), "models", "reload", "--data-dir", str(server.data_dir)],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        diff = json.loads(out.stdout)
        assert diff["replaced"] == ["test.swap-v1:0"], diff
        swap.wait_for(4)
        swap_after, _ = converse(c, "test.swap-v1:0", max_tokens=16)
        assert swap_after != swap_before  # the random-weight model answers now

        # Removed: a long stream in flight on it finishes; new requests get Bedrock's error.
        long_result = {}

        def long_stream():
            try:
                long_result["value"] = converse(client(server), "test.gone-v1:0", max_tokens=150,
                                                stream=True)
            except Exception as e:  # noqa: BLE001
                long_result["error"] = repr(e)

        t = threading.Thread(target=long_stream)
        t.start()
        time.sleep(0.3)
        gone_failures = gone.finish()
        write_catalog(server, [e for e in BASE if e["modelId"] != "test.gone-v1:0"]
                      + [entry("test.added-v1:0", "added.gguf")])
        diff = reload_http(server)
        assert diff["removed"] == ["test.gone-v1:0"], diff
        t.join(timeout=180)
        assert "error" not in long_result, long_result
        assert long_result["value"][1] == "max_tokens"
        with pytest.raises(ClientError) as e:
            converse(c, "test.gone-v1:0")
        assert e.value.response["Error"]["Code"] == "ValidationException"
        assert e.value.response["Error"]["Message"] == "The provided model identifier is invalid."
        keep.wait_for(4)

        failures = keep.finish() + swap.finish() + added.finish() + gone_failures
        assert failures == [], failures[:5]
        # The removed model's runner unloaded once drained.
        deadline = time.time() + 30
        while "model 'test.gone-v1:0' unloaded" not in server.log_text() and time.time() < deadline:
            time.sleep(0.1)
        assert "model 'test.gone-v1:0' unloaded" in server.log_text()
        # The served list and the metrics follow the change.
        status, _, body = signed_call(server, "GET", "/basalt/models")
        assert status == 200
        served = {m["modelId"] for m in body["models"] if m["served"]}
        assert served == {"test.keep-v1:0", "test.swap-v1:0", "test.added-v1:0"}
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        assert 'basalt_engine_total_slots{model="test.added-v1:0"}' in text, text
        assert 'basalt_engine_total_slots{model="test.gone-v1:0"}' not in text
    finally:
        server.stop()
    assert "unhandled exception" not in server.log_text()


def test_reload_refusals(tmp_path, models):
    server = BasaltServer(tmp_path / "data", catalog={"models": BASE}, models_dirs=str(models),
                          extra_args=["--no-model-watch"])
    try:
        c = client(server)
        before, _ = converse(c, "test.swap-v1:0", max_tokens=16)
        # A cut replacement: refused, the old file keeps serving.
        put_file(RANDOM, models / "swap.gguf", cut=RANDOM.stat().st_size // 2)
        diff = reload_http(server)
        assert diff["replaced"] == [] and [e["modelId"] for e in diff["errors"]] == \
            ["test.swap-v1:0"], diff
        assert "cut short" in diff["errors"][0]["message"]
        assert converse(c, "test.swap-v1:0", max_tokens=16)[0] == before
        # A new model whose file is not a GGUF: reported, and not served.
        (models / "junk.gguf").write_bytes(b"not a model")
        write_catalog(server, BASE + [entry("test.junk-v1:0", "junk.gguf")])
        diff = reload_http(server)
        assert sorted(e["modelId"] for e in diff["errors"]) == \
            ["test.junk-v1:0", "test.swap-v1:0"], diff
        with pytest.raises(ClientError) as e:
            converse(c, "test.junk-v1:0")
        assert e.value.response["Error"]["Code"] == "ValidationException"
        # Once the whole file is there, the next reload picks it up.
        put_file(RANDOM, models / "swap.gguf")
        diff = reload_http(server)
        assert diff["replaced"] == ["test.swap-v1:0"], diff
        assert converse(c, "test.swap-v1:0", max_tokens=16)[0] != before
        # A catalog that does not parse changes nothing.
        server.catalog_path.write_text("{not json")
        status, headers, body = signed_call(server, "POST", "/basalt/models/reload")
        assert status == 400 and headers["x-amzn-errortype"] == "ValidationException", body
        assert converse(c, "test.keep-v1:0")[1] == "max_tokens"
        # Administrators only.
        acct = admin_cli(server, "list-accounts")["Accounts"]
        admin_account = [a for a in acct
                         if a.get("Name", a.get("AccountName")) == "admin"][0]["AccountId"]
        user = admin_cli(server, "create-user", "--account", admin_account, "dev")["User"]
        key = admin_cli(server, "create-access-key", "--user", user["UserId"])["AccessKey"]
        status, h, out = signed_call(server, "POST", "/basalt/models/reload",
                                     key=key["AccessKeyId"], secret=key["SecretAccessKey"])
        assert status == 403 and h["x-amzn-errortype"].startswith("AccessDeniedException"), out
    finally:
        server.stop()


def test_watch_picks_up_copied_and_replaced_files(tmp_path, models):
    server = BasaltServer(tmp_path / "data", catalog={"models": BASE}, models_dirs=str(models),
                          extra_args=["--model-watch-debounce-ms", "300"])
    try:
        c = client(server)
        before, _ = converse(c, "test.swap-v1:0", max_tokens=16)
        # A plain copy (written in place, not renamed) and a catalog edit.
        shutil.copy(STORIES, models / "copied.gguf")
        write_catalog(server, BASE + [entry("test.copied-v1:0", "copied.gguf")])
        deadline = time.time() + 30
        while True:
            try:
                assert converse(c, "test.copied-v1:0")[1] == "max_tokens"
                break
            except ClientError:
                assert time.time() < deadline, server.log_text()[-2000:]
                time.sleep(0.2)
        # A replaced file.
        shutil.copy(RANDOM, models / "swap.gguf")
        deadline = time.time() + 30
        while converse(c, "test.swap-v1:0", max_tokens=16)[0] == before:
            assert time.time() < deadline, server.log_text()[-2000:]
            time.sleep(0.2)
        # SIGHUP reloads too (here: a removal).
        write_catalog(server, BASE)
        server.proc.send_signal(1)
        deadline = time.time() + 30
        while True:
            try:
                converse(c, "test.copied-v1:0")
                assert time.time() < deadline
                time.sleep(0.2)
            except ClientError as e:
                assert e.response["Error"]["Code"] == "ValidationException"
                break
    finally:
        server.stop()


def test_memory_limit_refuses_a_model_that_does_not_fit(tmp_path, models):
    server = BasaltServer(tmp_path / "data", catalog={"models": BASE}, models_dirs=str(models),
                          extra_args=["--no-model-watch", "--memory-limit", "60M"])
    try:
        c = client(server)
        before, _ = converse(c, "test.swap-v1:0", max_tokens=16)
        # The random-weight model's 32k vocabulary needs more than what is left.
        put_file(RANDOM, models / "swap.gguf")
        diff = reload_http(server)
        assert [e["modelId"] for e in diff["errors"]] == ["test.swap-v1:0"], diff
        assert "Not enough memory to load model 'test.swap-v1:0'" in diff["errors"][0]["message"]
        assert converse(c, "test.swap-v1:0", max_tokens=16)[0] == before
        # A model loaded on first use: the request that triggers the load gets the error.
        put_file(RANDOM, models / "big.gguf")
        write_catalog(server, BASE + [entry("test.big-v1:0", "big.gguf")])
        assert reload_http(server)["added"] == ["test.big-v1:0"]
        with pytest.raises(ClientError) as e:
            converse(c, "test.big-v1:0")
        assert e.value.response["Error"]["Code"] == "ServiceUnavailableException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert "Not enough memory to load model 'test.big-v1:0'" in \
            e.value.response["Error"]["Message"]
        assert server.alive()
    finally:
        server.stop()
