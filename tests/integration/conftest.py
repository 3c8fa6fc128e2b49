"""Integration fixtures: start the real basalt binary on a free port with a temporary data
folder and the test models from ../shared/models (like llama.cpp's ServerProcess)."""
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODELS_DIR = pathlib.Path(os.environ.get("BASALT_MODELS_DIR", ROOT.parent / "shared" / "models"))
BINARY = pathlib.Path(os.environ.get("BASALT_BINARY", ROOT / "build" / "src" / "server" / "basalt"))

# stories260K behind several Bedrock ids (each id picks its request family).
TEST_CATALOG = {
    "models": [{
        "modelId": "tinystories.stories-260k-v1:0",
        "providerName": "TinyStories",
        "modelName": "Stories 260K",
        "weights": "stories260K.gguf",
        "requestFamily": "meta-llama",
        "contextLength": 512,
        "price": {"inputPer1kTokens": 0.001, "outputPer1kTokens": 0.002},
        "aliases": [
            "anthropic.claude-v2", "anthropic.claude-v2:1",
            "anthropic.claude-3-haiku-20240307-v1:0",
            "amazon.titan-text-express-v1", "meta.llama3-8b-instruct-v1:0",
            "mistral.mistral-7b-instruct-v0:2",
        ],
    }, {
        "modelId": "test.llama-2-tiny-random-v1:0",
        "providerName": "Test",
        "modelName": "Llama 2 tiny random",
        "weights": "llama-2-tiny-random.gguf",
        "contextLength": 256,
        "parallel": 2,
    }]
}


def signed_call(server, method, path, body=None, key=None, secret=None, region="us-east-1"):
    """A SigV4-signed JSON request (the admin's key by default); returns status, lower-cased
    headers and the parsed body."""
    import http.client
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    data = json.dumps(body).encode() if body is not None else b""
    req = AWSRequest(method=method, url=server.url + path, data=data,
                     headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key or server.env["AWS_ACCESS_KEY_ID"],
                          secret or server.env["AWS_SECRET_ACCESS_KEY"]), "bedrock",
              region).add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request(method, path, body=data, headers=dict(req.headers.items()))
    r = conn.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(r.read() or b"{}")


def admin_cli(server, *args):
    """Runs `basalt admin ARGS --data-dir <server's>` and returns its JSON output."""
    out = subprocess.run([str(BINARY), "admin", *args, "--data-dir", str(server.data_dir)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else None


class BasaltServer:
    def __init__(self, data_dir, extra_args=(), catalog=None, env=None, models_dirs=None):
        self.data_dir = pathlib.Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.catalog_path = self.data_dir / "catalog.json"
        self.catalog_path.write_text(json.dumps(catalog or TEST_CATALOG))
        self.log_path = self.data_dir / "server.log"
        args = [str(BINARY), "serve", "--port", "0", "--data-dir", str(self.data_dir),
                "--catalog", str(self.catalog_path), "--models-dir", models_dirs or str(MODELS_DIR),
                "--log-level", "info", *extra_args]
        if "--threads" not in extra_args:
            # One compute thread: ggml's threads spin at barriers, so as many threads as the
            # CI machine's 2 cores, beside the test client, can stall decoding for seconds.
            args += ["--threads", "1"]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env={**os.environ, **(env or {})})
        self.port = None
        deadline = time.time() + 60
        lines = []
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"listening on (https?)://[^:]+:(\d+)", line)
            if m:
                self.scheme, self.port = m.group(1), int(m.group(2))
                break
        if self.port is None:
            self.stop()
            raise RuntimeError("basalt did not start: " + "".join(lines) + self.log_path.read_text())
        # Keep draining stdout so the server never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        self.env = self._read_env()
        self._wait_healthy()

    def _drain(self):
        for _ in self.proc.stdout:
            pass

    def _read_env(self):
        env = {}
        for line in (self.data_dir / "admin.env").read_text().splitlines():
            m = re.match(r"^(?:# )?export (\w+)=(.*)$", line)
            if m:
                env[m.group(1)] = m.group(2)
        return env

    def _wait_healthy(self):
        if self.scheme != "http":
            return
        for _ in range(100):
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("health check failed")

    def client_env(self):
        """Environment for a client process: endpoint, region and admin credentials only."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": self.env["AWS_ACCESS_KEY_ID"],
            "AWS_SECRET_ACCESS_KEY": self.env["AWS_SECRET_ACCESS_KEY"],
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        })
        return env

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    if not (MODELS_DIR / "stories260K.gguf").exists():
        pytest.skip(f"test models not found in {MODELS_DIR}")
    s = BasaltServer(tmp_path_factory.mktemp("basalt"))
    yield s
    s.stop()
    assert "unhandled exception" not in s.log_text()


@pytest.fixture(scope="session")
def runtime(server):
    import boto3
    from botocore.config import Config
    return boto3.client(
        "bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}, read_timeout=120, max_pool_connections=64))


@pytest.fixture(scope="session")
def control(server):
    import boto3
    return boto3.client(
        "bedrock", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"])


def find(d, *names):
    """First value under any of `names`, searching nested objects (the CLI prints IAM-style
    output such as {"AccessKey": {"AccessKeyId": ...}})."""
    if isinstance(d, dict):
        for n in names:
            if n in d:
                return d[n]
        for v in d.values():
            try:
                return find(v, *names)
            except KeyError:
                pass
    raise KeyError(f"{names} not in {d}")
