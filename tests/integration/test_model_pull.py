"""Weight pulls from the console's Models page (/basalt/models): a catalog entry whose weights
are missing is downloaded from a Hugging Face-style hub (a local fixture here), checked
against its SHA-256, and served without a restart; refusals come in Bedrock's error shape."""
import hashlib
import http.server
import json
import threading
import time

import boto3
import pytest
from botocore.config import Config

from conftest import BasaltServer, MODELS_DIR, TEST_CATALOG, admin_cli, signed_call

WEIGHTS = (MODELS_DIR / "stories260K.gguf").read_bytes()
SHA = hashlib.sha256(WEIGHTS).hexdigest()


class Hub(http.server.ThreadingHTTPServer):
    """Serves WEIGHTS at /test/tiny/resolve/main/<file>, slowly, with Hugging Face's headers."""
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.requests = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class HubHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        if not self.path.startswith("/test/tiny/resolve/main/"):
            self.send_error(404)
            return
        body = WEIGHTS if "corrupt" not in self.path else WEIGHTS[:-1] + b"x"
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.send_header("X-Linked-ETag", f'"{SHA}"')
        self.end_headers()
        # Slow enough that the console can show progress between polls.
        for i in range(start, len(body), 65536):
            self.wfile.write(body[i:i + 65536])
            time.sleep(0.02)


@pytest.fixture
def setup(tmp_path):
    hub = Hub()
    models = tmp_path / "models"
    models.mkdir()
    catalog = json.loads(json.dumps(TEST_CATALOG))
    catalog["models"].append({
        "modelId": "test.pulled-v1:0", "providerName": "Test", "modelName": "Pulled stories",
        "weights": "pulled-stories.gguf", "contextLength": 256,
        "source": {"repo": "test/tiny", "file": "pulled-stories.gguf", "sha256": SHA},
    })
    catalog["models"].append({
        "modelId": "test.corrupt-v1:0", "weights": "corrupt.gguf",
        "source": {"repo": "test/tiny", "file": "corrupt.gguf"},
    })
    catalog["models"].append({"modelId": "test.nosource-v1:0", "weights": "nowhere.gguf"})
    server = BasaltServer(tmp_path / "data", catalog=catalog,
                          models_dirs=f"{models},{MODELS_DIR}",
                          extra_args=["--hub-url", hub.url])
    yield server, hub, models
    server.stop()
    hub.shutdown()


def runtime(server, key=None, secret=None):
    return boto3.client("bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id=key or server.env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=secret or server.env["AWS_SECRET_ACCESS_KEY"],
                        config=Config(retries={"max_attempts": 1}))


def models(server):
    status, _, body = signed_call(server, "GET", "/basalt/models")
    assert status == 200, body
    return {m["modelId"]: m for m in body["models"]}


def test_pull_makes_a_waiting_model_available_without_restart(setup):
    server, hub, folder = setup
    listed = models(server)
    assert listed["test.pulled-v1:0"]["served"] is False
    assert listed["test.pulled-v1:0"]["pull"] is None
    assert listed["tinystories.stories-260k-v1:0"]["served"] is True
    with pytest.raises(Exception) as e:
        runtime(server).converse(modelId="test.pulled-v1:0",
                                 messages=[{"role": "user", "content": [{"text": "Once"}]}])
    assert "ValidationException" in str(e.value) or "ResourceNotFound" in str(e.value)

    status, _, body = signed_call(server, "POST", "/basalt/models/pull", {"modelId": "test.pulled-v1:0"})
    assert status == 202, body
    assert body["pull"]["state"] == "running"
    # A second pull of the same model while one runs is refused.
    status, headers, again = signed_call(server, "POST", "/basalt/models/pull",
                                    {"modelId": "test.pulled-v1:0"})
    assert status in (202, 409, 400), again
    seen_progress = set()
    deadline = time.time() + 60
    while time.time() < deadline:
        pull = models(server)["test.pulled-v1:0"]["pull"]
        seen_progress.add(pull["bytes"])
        if pull["state"] != "running":
            break
        time.sleep(0.05)
    assert pull["state"] == "done", pull
    assert pull["sha256"] == SHA and pull["bytes"] == len(WEIGHTS) == pull["totalBytes"]
    assert len(seen_progress) >= 3, seen_progress  # the bar moved
    assert (folder / "pulled-stories.gguf").read_bytes() == WEIGHTS
    assert models(server)["test.pulled-v1:0"]["served"] is True
    out = runtime(server).converse(modelId="test.pulled-v1:0",
                                   messages=[{"role": "user", "content": [{"text": "Once"}]}],
                                   inferenceConfig={"maxTokens": 8, "temperature": 0})
    assert out["usage"]["outputTokens"] > 0
    ids = [m["modelId"] for m in boto3.client(
        "bedrock", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"]).list_foundation_models()[
            "modelSummaries"]]
    assert "test.pulled-v1:0" in ids
    # Models served before keep working.
    out = runtime(server).converse(modelId="tinystories.stories-260k-v1:0",
                                   messages=[{"role": "user", "content": [{"text": "Once"}]}],
                                   inferenceConfig={"maxTokens": 4})
    assert out["usage"]["outputTokens"] > 0


def test_pull_refusals(setup):
    server, hub, _ = setup
    status, h, body = signed_call(server, "POST", "/basalt/models/pull", {"modelId": "test.nosource-v1:0"})
    assert status == 400 and "no download source" in body["message"], body
    status, h, body = signed_call(server, "POST", "/basalt/models/pull", {"modelId": "no.such-v1:0"})
    assert status == 404 and h["x-amzn-errortype"].startswith("ResourceNotFoundException"), body
    status, h, body = signed_call(server, "POST", "/basalt/models/pull",
                             {"modelId": "tinystories.stories-260k-v1:0"})
    assert status == 400 and "already served" in body["message"], body
    status, h, body = signed_call(server, "POST", "/basalt/models/pull", {})
    assert status == 400 and h["x-amzn-errortype"].startswith("ValidationException"), body
    # A checksum mismatch fails the pull with its reason; the model stays unserved.
    status, _, body = signed_call(server, "POST", "/basalt/models/pull", {"modelId": "test.corrupt-v1:0"})
    assert status == 202, body
    deadline = time.time() + 60
    while time.time() < deadline:
        pull = models(server)["test.corrupt-v1:0"]["pull"]
        if pull["state"] != "running":
            break
        time.sleep(0.05)
    assert pull["state"] == "failed" and "SHA-256" in pull["error"].upper().replace("SHA256", "SHA-256"), pull
    assert models(server)["test.corrupt-v1:0"]["served"] is False


def test_only_administrators_list_or_pull(setup):
    server, _, _ = setup
    acct = admin_cli(server, "list-accounts")["Accounts"]
    admin_account = [a for a in acct if a.get("Name", a.get("AccountName")) == "admin"][0]["AccountId"]
    user = admin_cli(server, "create-user", "--account", admin_account, "dev")["User"]
    key = admin_cli(server, "create-access-key", "--user", user["UserId"])["AccessKey"]
    for method, path, body in (("GET", "/basalt/models", None),
                               ("POST", "/basalt/models/pull", {"modelId": "test.pulled-v1:0"})):
        status, h, out = signed_call(server, method, path, body, key=key["AccessKeyId"],
                                secret=key["SecretAccessKey"])
        assert status == 403 and h["x-amzn-errortype"].startswith("AccessDeniedException"), out
