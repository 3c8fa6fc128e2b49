"""Server behaviour: TLS with ALPN, graceful shutdown, bounded queue, context overflow,
tool use, an empty catalog, and `basalt models pull`."""
import hashlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import BINARY, MODELS_DIR, BasaltServer, TEST_CATALOG

ROOT = pathlib.Path(__file__).resolve().parents[2]


def client(server, **kw):
    return boto3.client("bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"],
                        config=Config(retries={"max_attempts": 1}, read_timeout=120,
                                      max_pool_connections=32), **kw)


MSG = [{"role": "user", "content": [{"text": "Once upon a time"}]}]


@pytest.fixture
def fresh(tmp_path):
    servers = []

    def start(*args, **kw):
        s = BasaltServer(tmp_path / f"s{len(servers)}", extra_args=args, **kw)
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.stop()


def test_tls_alpn_h2_and_http1(fresh, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI missing")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    s = fresh("--tls-cert", str(cert), "--tls-key", str(key))
    assert s.url.startswith("https://")
    c = client(s, verify=str(cert))
    r = c.converse(modelId="anthropic.claude-v2", messages=MSG,
                   inferenceConfig={"maxTokens": 40, "temperature": 0})
    assert "Lily" in r["output"]["message"]["content"][0]["text"]
    if shutil.which("curl"):
        for flag, version in (("--http2", "2"), ("--http1.1", "1.1")):
            out = subprocess.run(["curl", "-s", "--cacert", str(cert), flag, "-o", "/dev/null",
                                  "-w", "%{http_version}", s.url + "/health"],
                                 capture_output=True, text=True)
            assert out.stdout == version
    node_dir = pathlib.Path(__file__).parent / "node"
    if (node_dir / "node_modules" / "@aws-sdk").exists():
        env = s.client_env()
        env["NODE_EXTRA_CA_CERTS"] = str(cert)
        code = """
          import { BedrockRuntimeClient, ConverseCommand } from "@aws-sdk/client-bedrock-runtime";
          const c = new BedrockRuntimeClient({});
          const r = await c.send(new ConverseCommand({ modelId: "anthropic.claude-v2",
            messages: [{ role: "user", content: [{ text: "Once upon a time" }] }],
            inferenceConfig: { maxTokens: 3 } }));
          console.log(r.usage.outputTokens);
        """
        out = subprocess.run(["node", "--input-type=module", "-e", code], cwd=node_dir, env=env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "3"


def test_graceful_shutdown_finishes_streams(fresh):
    s = fresh()
    c = client(s)
    result = {}

    def run():
        r = c.converse_stream(modelId="meta.llama3-8b-instruct-v1:0", messages=MSG,
                              inferenceConfig={"maxTokens": 200})
        events = list(r["stream"])
        result["last"] = events[-1]

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGTERM)
    t.join(60)
    assert "metadata" in result["last"]
    assert s.proc.wait(30) == 0


def test_queue_full_is_throttling(fresh):
    s = fresh("--parallel", "1", "--max-queue", "1", "--threads", "1")
    c = client(s)
    errors, ok = [], []
    n = 12
    barrier = threading.Barrier(n)

    def run():
        barrier.wait()
        try:
            c.converse(modelId="meta.llama3-8b-instruct-v1:0", messages=MSG,
                       inferenceConfig={"maxTokens": 400})
            ok.append(1)
        except ClientError as e:
            errors.append(e.response)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert ok, "some requests must be served"
    assert errors, "a full queue must refuse requests"
    for e in errors:
        assert e["Error"]["Code"] == "ThrottlingException"
        assert e["Error"]["Message"] == "Too many requests, please wait before trying again."
        assert e["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_context_overflow(server, runtime):
    long = "word " * 2000
    with pytest.raises(ClientError) as e:
        runtime.converse(modelId="test.llama-2-tiny-random-v1:0",
                         messages=[{"role": "user", "content": [{"text": long}]}])
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"] == "Input is too long for requested model."
    # The stream operation reports it as an HTTP error before any event.
    with pytest.raises(ClientError) as e:
        runtime.converse_stream(modelId="test.llama-2-tiny-random-v1:0",
                                messages=[{"role": "user", "content": [{"text": long}]}])
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_forced_tool_use(runtime):
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather of a city",
                                     "inputSchema": {"json": {"type": "object", "properties": {
                                         "city": {"type": "string"}}}}}}],
             "toolChoice": {"tool": {"name": "get_weather"}}}
    r = runtime.converse(modelId="anthropic.claude-v2", messages=MSG, toolConfig=tools,
                         inferenceConfig={"maxTokens": 300, "temperature": 0})
    assert r["stopReason"] == "tool_use", r
    use = [b["toolUse"] for b in r["output"]["message"]["content"] if "toolUse" in b]
    assert use and use[0]["name"] == "get_weather"
    assert isinstance(use[0]["input"], dict)
    assert use[0]["toolUseId"].startswith("tooluse_")
    # Send the result back: the conversation continues.
    r2 = runtime.converse(modelId="anthropic.claude-v2", toolConfig={"tools": tools["tools"]},
                          inferenceConfig={"maxTokens": 5},
                          messages=MSG + [r["output"]["message"], {"role": "user", "content": [
                              {"toolResult": {"toolUseId": use[0]["toolUseId"],
                                              "content": [{"json": {"sky": "clear"}}]}}]}])
    assert r2["usage"]["inputTokens"] > r["usage"]["inputTokens"]
    stream = runtime.converse_stream(modelId="anthropic.claude-v2", messages=MSG, toolConfig=tools,
                                     inferenceConfig={"maxTokens": 300, "temperature": 0})
    events = list(stream["stream"])
    starts = [e["contentBlockStart"] for e in events if "contentBlockStart" in e]
    assert starts and starts[0]["start"]["toolUse"]["name"] == "get_weather"
    deltas = [e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in events
              if "contentBlockDelta" in e and "toolUse" in e["contentBlockDelta"]["delta"]]
    assert json.loads("".join(deltas)) == use[0]["input"]
    assert [e for e in events if "messageStop" in e][0]["messageStop"]["stopReason"] == "tool_use"


def test_empty_catalog_still_serves(tmp_path):
    data = tmp_path / "empty"
    data.mkdir()
    p = subprocess.Popen([str(BINARY), "serve", "--port", "0", "--data-dir", str(data),
                          "--models-dir", str(tmp_path / "no-models")],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out = ""
        for line in p.stdout:
            out += line
            if "listening on" in line:
                break
        assert "basalt models pull Qwen/Qwen2.5-0.5B-Instruct-GGUF" in out
        port = int(out.rsplit(":", 1)[1])
        env = {}
        for line in (data / "admin.env").read_text().splitlines():
            if line.startswith("export "):
                k, v = line[7:].split("=", 1)
                env[k] = v
        c = boto3.client("bedrock", endpoint_url=f"http://127.0.0.1:{port}",
                         region_name="us-east-1", aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                         aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
        assert c.list_foundation_models()["modelSummaries"] == []
        assert json.loads((data / "catalog.json").read_text())["models"]
        creds = (data / "admin-credentials").read_text()
        assert "aws_access_key_id = " + env["AWS_ACCESS_KEY_ID"] in creds
        assert oct(os.stat(data / "admin-credentials").st_mode & 0o777) == "0o600"
    finally:
        p.terminate()
        p.wait(30)


def test_models_pull_cli(tmp_path):
    src = tmp_path / "hub" / "org" / "repo"
    src.mkdir(parents=True)
    blob = os.urandom(3 * 1024 * 1024 + 17)
    (src / "model.gguf").write_bytes(blob)
    hub = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fixtures" / "hf_server.py"),
                            "--dir", str(tmp_path / "hub")], stdout=subprocess.PIPE, text=True)
    try:
        port = int(hub.stdout.readline().strip())
        dest = tmp_path / "models"
        out = subprocess.run([str(BINARY), "models", "pull", "org/repo", "model.gguf", "--dir",
                              str(dest), "--base-url", f"http://127.0.0.1:{port}", "--quiet"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert (dest / "model.gguf").read_bytes() == blob
        assert hashlib.sha256(blob).hexdigest() in out.stdout
        bad = subprocess.run([str(BINARY), "models", "pull", "org/repo", "nope.gguf", "--dir",
                              str(dest), "--base-url", f"http://127.0.0.1:{port}", "--quiet"],
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode != 0
        assert "nope.gguf" in bad.stderr
    finally:
        hub.terminate()
        hub.wait(10)
