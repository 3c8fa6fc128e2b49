"""Image generation through InvokeModel with boto3 (and the JS SDK, the AWS CLI): Amazon Titan
Image Generator and Stability SDXL bodies served by a tiny random-weight SD-Turbo-shaped model
in the diffusers layout, made at test time by the project's own tool (basalt-image-tool
make-random). Determinism (same seed, same bytes), counts, validation wording, a truncated
checkpoint (a clear error, the server keeps serving), the refusals (streaming, Converse,
CountTokens), usage records, metrics, the images-per-minute quota, invocation logs without
image data, and the translation of a Korean prompt by a text model (stories260K, whose
"English" is junk: the test checks the mechanism)."""
import base64
import json
import os
import pathlib
import shutil
import struct
import subprocess
import urllib.parse
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import BINARY, MODELS_DIR, ROOT, BasaltServer, signed_call

TOOL = pathlib.Path(os.environ.get("BASALT_IMAGE_TOOL", BINARY.parent.parent / "image" /
                                   "basalt-image-tool"))
TITAN_V1 = "amazon.titan-image-generator-v1"
TITAN_V2 = "amazon.titan-image-generator-v2:0"
SDXL = "stability.stable-diffusion-xl-v1"
BROKEN = "test.broken-image-v1:0"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_tiny_model(out):
    if not TOOL.exists():
        pytest.skip(f"{TOOL} not built")
    r = subprocess.run([str(TOOL), "make-random", "--variant", "sd-turbo", "--shape", "tiny",
                        "--layout", "diffusers", "--dtype", "f32", "--seed", "1", "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        pytest.skip("basalt-image-tool make-random failed: " + r.stderr[-2000:])


@pytest.fixture(scope="module")
def img(tmp_path_factory):
    if not (MODELS_DIR / "stories260K.gguf").exists():
        pytest.skip(f"test models not found in {MODELS_DIR}")
    tmp = tmp_path_factory.mktemp("images")
    tiny = tmp / "tiny-sd-turbo"
    make_tiny_model(tiny)
    # A copy whose UNet weights are cut in half: loading it must fail clearly.
    broken = tmp / "broken-sd-turbo"
    shutil.copytree(tiny, broken)
    unet = next((broken / "unet").glob("*.safetensors"))
    with open(unet, "r+b") as f:
        f.truncate(unet.stat().st_size // 2)
    catalog = {"models": [{
        "modelId": "test.sd-turbo-tiny-v1:0",
        "providerName": "Test",
        "modelName": "Tiny SD-Turbo",
        "weights": str(tiny),
        "requestFamily": "titan-image-v2",
        "image": {"variant": "sd-turbo", "steps": {"standard": 1, "premium": 2}},
        "price": {"perImage": {"*/standard": 0.01, "*/premium": 0.02}},
        "aliases": [
            {"modelId": TITAN_V1, "modelName": "Titan Image Generator G1"},
            {"modelId": TITAN_V2, "modelName": "Titan Image Generator G1 v2"},
            {"modelId": SDXL, "modelName": "SDXL 1.0"},
        ],
    }, {
        "modelId": BROKEN,
        "weights": str(broken),
        "requestFamily": "titan-image-v1",
    }, {
        "modelId": "tinystories.stories-260k-v1:0",
        "weights": "stories260K.gguf",
        "requestFamily": "meta-llama",
        "contextLength": 512,
        "price": {"inputPer1kTokens": 0.001, "outputPer1kTokens": 0.002},
    }]}
    s = BasaltServer(tmp / "data", catalog=catalog,
                     extra_args=["--prompt-translator", "tinystories.stories-260k-v1:0",
                                 "--image-threads", "1", "--image-dtype", "f32"])
    cfg = Config(retries={"max_attempts": 1}, read_timeout=300, max_pool_connections=16)
    kw = dict(endpoint_url=s.url, region_name="us-east-1",
              aws_access_key_id=s.env["AWS_ACCESS_KEY_ID"],
              aws_secret_access_key=s.env["AWS_SECRET_ACCESS_KEY"], config=cfg)
    yield s, boto3.client("bedrock-runtime", **kw), boto3.client("bedrock", **kw)
    s.stop()
    assert "unhandled exception" not in s.log_text()


def invoke(rt, model, body, headers=None):
    if headers:
        def add(request, **_):
            for k, v in headers.items():
                request.headers[k] = v
        rt.meta.events.register_first("before-sign.bedrock-runtime.InvokeModel", add)
    try:
        r = rt.invoke_model(modelId=model, body=json.dumps(body), contentType="application/json",
                            accept="application/json")
    finally:
        if headers:
            rt.meta.events.unregister("before-sign.bedrock-runtime.InvokeModel", add)
    return json.loads(r["body"].read()), r["ResponseMetadata"]["HTTPHeaders"]


def titan(text, **config):
    body = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": text}}
    if config:
        body["imageGenerationConfig"] = config
    return body


def png_size(data):
    assert data[:8] == PNG_MAGIC
    w, h = struct.unpack(">II", data[16:24])
    return w, h


def error_of(fn):
    with pytest.raises(ClientError) as e:
        fn()
    err = e.value.response["Error"]
    return err["Code"], err["Message"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_listing(img):
    _, _, ctl = img
    models = ctl.list_foundation_models(byOutputModality="IMAGE")["modelSummaries"]
    ids = {m["modelId"] for m in models}
    assert {TITAN_V1, TITAN_V2, SDXL, "test.sd-turbo-tiny-v1:0", BROKEN} <= ids
    for m in models:
        assert m["outputModalities"] == ["IMAGE"]
        assert m["responseStreamingSupported"] is False
    assert "tinystories.stories-260k-v1:0" not in ids
    text_ids = {m["modelId"] for m in
                ctl.list_foundation_models(byOutputModality="TEXT")["modelSummaries"]}
    assert TITAN_V1 not in text_ids and "tinystories.stories-260k-v1:0" in text_ids
    d = ctl.get_foundation_model(modelIdentifier=SDXL)["modelDetails"]
    assert d["providerName"] == "Stability AI" and d["outputModalities"] == ["IMAGE"]


def test_titan_same_seed_same_bytes_other_seed_differs(img):
    _, rt, _ = img
    a, headers = invoke(rt, TITAN_V1, titan("a red fox in the snow", seed=7))
    b, _ = invoke(rt, TITAN_V1, titan("a red fox in the snow", seed=7))
    c, _ = invoke(rt, TITAN_V1, titan("a red fox in the snow", seed=8))
    assert a["error"] is None and len(a["images"]) == 1
    pa, pb, pc = (base64.b64decode(x["images"][0]) for x in (a, b, c))
    assert pa[:8] == PNG_MAGIC
    assert pa == pb
    assert pa != pc
    assert headers["content-type"] == "application/json"
    assert int(headers["x-amzn-bedrock-invocation-latency"]) >= 0
    assert headers["x-basalt-image-steps"] == "1"
    assert "x-basalt-prompt-translation" not in headers


def test_titan_count_size_and_premium(img):
    _, rt, _ = img
    r, headers = invoke(rt, TITAN_V2, titan("three boats", numberOfImages=3, seed=11,
                                            width=384, height=576, quality="premium",
                                            cfgScale=8.0))
    pngs = [base64.b64decode(x) for x in r["images"]]
    assert len(pngs) == 3 and len(set(pngs)) == 3  # seeds 11, 12, 13
    assert all(png_size(p) == (384, 576) for p in pngs)
    assert headers["x-basalt-image-steps"] == "2"  # premium
    # SD-Turbo runs without guidance: the Titan cfgScale is not applied, and the reply says so.
    assert "SD-Turbo" in headers["x-basalt-ignored"]


def test_stability_body(img):
    _, rt, _ = img
    body = {"text_prompts": [{"text": "a lighthouse", "weight": 1},
                             {"text": "fog", "weight": -1}],
            "cfg_scale": 7, "seed": 1234, "steps": 2, "samples": 2, "sampler": "K_EULER",
            "style_preset": "photographic"}
    r, headers = invoke(rt, SDXL, body)
    assert r["result"] == "success"
    assert [a["seed"] for a in r["artifacts"]] == [1234, 1235]
    assert all(a["finishReason"] == "SUCCESS" for a in r["artifacts"])
    assert base64.b64decode(r["artifacts"][0]["base64"])[:8] == PNG_MAGIC
    assert headers["x-basalt-image-steps"] == "2"
    assert "style_preset photographic" in headers["x-basalt-ignored"]
    again, _ = invoke(rt, SDXL, body)
    assert again["artifacts"][1]["base64"] == r["artifacts"][1]["base64"]


@pytest.mark.parametrize("body,message", [
    (titan("a", width=1000, height=1000),
     "#/imageGenerationConfig: 1000x1000 (width x height) is not a supported image size"),
    (titan("a", width=1173, height=640), "needs sides in multiples of 64"),
    (titan("a", numberOfImages=6), "#/imageGenerationConfig/numberOfImages: 6 is not less or "
                                   "equal to 5"),
    (titan("a", numberOfImages=0), "numberOfImages: 0 is not greater or equal to 1"),
    (titan(""), "#/textToImageParams/text: expected minLength: 1, actual: 0"),
    (titan("x" * 513), "#/textToImageParams/text: expected maxLength: 512, actual: 513"),
    (titan("a", cfgScale=11), "cfgScale: 11 is not less or equal to 10"),
    (titan("a", seed=2147483647), "seed: 2147483647 is not less or equal to 2147483646"),
    ({"taskType": "INPAINTING"}, "Basalt does not support the taskType INPAINTING yet"),
    ({**titan("a"), "extra": 1}, "#: extraneous key [extra] is not permitted"),
])
def test_titan_validation(img, body, message):
    _, rt, _ = img
    code, msg, status = error_of(lambda: invoke(rt, TITAN_V1, body))
    assert (code, status) == ("ValidationException", 400)
    assert message in msg
    assert msg.startswith("Malformed input request") or "Basalt does not support" in msg


def test_stability_validation(img):
    _, rt, _ = img
    for body, message in [
        ({"text_prompts": []}, "#/text_prompts: expected minItems: 1, actual: 0"),
        ({"text_prompts": [{"text": "a"}], "width": 500}, "#/width: 500 is not a multiple of 64"),
        ({"text_prompts": [{"text": "a"}], "samples": 6}, "at most 5"),
        ({"text_prompts": [{"text": "a"}], "sampler": "K_HEUN"}, "K_HEUN is not available"),
    ]:
        code, msg, _ = error_of(lambda: invoke(rt, SDXL, body))
        assert code == "ValidationException" and message in msg, msg


def test_refusals(img):
    s, rt, _ = img
    code, msg, _ = error_of(lambda: rt.invoke_model_with_response_stream(
        modelId=TITAN_V1, body=json.dumps(titan("a"))))
    assert (code, msg) == ("ValidationException", "The model is unsupported for streaming")
    code, msg, _ = error_of(lambda: rt.converse(
        modelId=TITAN_V1, messages=[{"role": "user", "content": [{"text": "a"}]}]))
    assert code == "ValidationException" and "supported text or chat model" in msg
    code, msg, _ = error_of(lambda: rt.count_tokens(
        modelId=SDXL, input={"converse": {"messages": [{"role": "user",
                                                       "content": [{"text": "a"}]}]}}))
    assert (code, msg) == ("ValidationException",
                           "The provided model doesn't support counting tokens.")


def test_truncated_checkpoint_is_a_clear_error_and_the_server_keeps_serving(img):
    s, rt, _ = img
    for _ in range(2):  # the second call must not crash either
        code, msg, status = error_of(lambda: invoke(rt, BROKEN, titan("a cat", seed=1)))
        assert (code, status) == ("ModelErrorException", 424), msg
        assert "unet" in msg and ".safetensors" in msg, msg
    assert s.alive()
    r, _ = invoke(rt, TITAN_V1, titan("a cat", seed=1))
    assert len(r["images"]) == 1


def test_korean_prompt_is_translated(img):
    s, rt, _ = img
    r, headers = invoke(rt, TITAN_V1, titan("눈 속의 붉은 여우", seed=3))
    assert len(r["images"]) == 1
    # stories260K answers greedily with (junk) English: the mechanism is what is checked.
    assert headers["x-basalt-prompt-translation"] == "translated"
    used = urllib.parse.unquote(headers["x-basalt-prompt-used"])
    assert used and "여우" not in used and not any(0xAC00 <= ord(c) <= 0xD7A3 for c in used)
    # The translation's tokens are on the call's usage.
    assert int(headers["x-amzn-bedrock-input-token-count"]) > 0
    request_id = headers["x-amzn-requestid"]
    status, _, body = signed_call(s, "GET", "/basalt/usage?records=true")
    assert status == 200
    rec = next(x for x in body["records"] if x["requestId"] == request_id)
    assert rec["images"] == 1 and rec["inputTokens"] > 0 and rec["outputTokens"] >= 0
    assert rec["promptUsed"] == used
    # Opting out keeps the prompt as it is.
    r, headers = invoke(rt, TITAN_V1, titan("눈 속의 붉은 여우", seed=3),
                        headers={"X-Basalt-Prompt-Translation": "off"})
    assert headers["x-basalt-prompt-translation"] == "off"
    assert "x-basalt-prompt-used" not in headers
    assert "x-amzn-bedrock-input-token-count" not in headers


def test_usage_records_and_metrics_count_images(img):
    s, rt, _ = img
    r, headers = invoke(rt, TITAN_V1, titan("two owls", numberOfImages=2, seed=5))
    request_id = headers["x-amzn-requestid"]
    w, h = png_size(base64.b64decode(r["images"][0]))
    status, _, body = signed_call(s, "GET", "/basalt/usage?records=true")
    assert status == 200
    rec = next(x for x in body["records"] if x["requestId"] == request_id)
    assert rec["images"] == 2
    assert rec["imageSize"] == f"{w}x{h}"
    assert rec["imageQuality"] == "standard"
    assert rec["imageSteps"] == 1
    assert rec["outcome"] == "success"
    assert abs(rec["cost"] - 0.02) < 1e-9  # 2 x "*/standard" 0.01
    with urllib.request.urlopen(s.url + "/metrics") as m:
        metrics = m.read().decode()
    line = next(x for x in metrics.splitlines()
                if x.startswith("bedrock_output_image_count_total") and TITAN_V1 in x)
    assert float(line.split()[-1]) >= 2


def test_invocation_log_omits_images_without_image_delivery(img):
    s, rt, _ = img
    status, _, _ = signed_call(s, "PUT", "/logging/modelinvocations", {"loggingConfig": {
        "s3Config": {"bucketName": "logs"}, "textDataDeliveryEnabled": True,
        "imageDataDeliveryEnabled": False}})
    assert status == 200
    try:
        _, headers = invoke(rt, TITAN_V1, titan("a logged fox", seed=9))
        request_id = headers["x-amzn-requestid"]
        files = list((s.data_dir / "invocation-logs").rglob("model-invocations.jsonl"))
        lines = [json.loads(x) for f in files for x in f.read_text().splitlines()]
        entry = next(x for x in lines if x["requestId"] == request_id)
        assert entry["input"]["inputBodyJson"]["textToImageParams"]["text"] == "a logged fox"
        assert entry["output"]["outputBodyJson"]["images"][0].startswith("<image omitted")
    finally:
        signed_call(s, "DELETE", "/logging/modelinvocations")


def test_images_per_minute_quota(tmp_path, img):
    # A second server over the same tiny model, with 3 images per minute per account.
    s0, _, _ = img
    catalog = json.loads(s0.catalog_path.read_text())
    catalog["models"] = catalog["models"][:1]
    s = BasaltServer(tmp_path / "data", catalog=catalog,
                     extra_args=["--ipm-per-account", "3", "--image-threads", "1",
                                 "--image-dtype", "f32"])
    try:
        rt = boto3.client("bedrock-runtime", endpoint_url=s.url, region_name="us-east-1",
                          aws_access_key_id=s.env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=s.env["AWS_SECRET_ACCESS_KEY"],
                          config=Config(retries={"max_attempts": 1}, read_timeout=300))
        invoke(rt, TITAN_V1, titan("a", numberOfImages=2, seed=1))
        code, msg, status = error_of(lambda: invoke(rt, TITAN_V1, titan("a", numberOfImages=2)))
        assert (code, status) == ("ThrottlingException", 429)
        assert msg == "Too many images, please wait before trying again."
        invoke(rt, TITAN_V1, titan("a", seed=2))  # the third image still fits
    finally:
        s.stop()


def test_js_sdk(img):
    s, _, _ = img
    node_dir = ROOT / "tests" / "integration" / "node"
    if not (node_dir / "node_modules" / "@aws-sdk" / "client-bedrock-runtime").exists():
        pytest.skip("npm dependencies not installed (scripts/test installs them)")
    out = subprocess.run(["node", "--test", "--test-reporter=spec", "image.test.mjs"],
                         cwd=node_dir, env=s.client_env(), capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-3000:]


def test_aws_cli(img, tmp_path):
    s, _, _ = img
    if shutil.which("aws") is None:
        pytest.skip("aws CLI not installed")
    outfile = tmp_path / "out.json"
    r = subprocess.run(["aws", "bedrock-runtime", "invoke-model", "--model-id", TITAN_V2,
                        "--body", json.dumps(titan("a cabin", seed=4)),
                        "--cli-binary-format", "raw-in-base64-out", str(outfile)],
                       env=s.client_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert base64.b64decode(json.loads(outfile.read_text())["images"][0])[:8] == PNG_MAGIC


def test_long_job_leaves_other_requests_flowing_and_a_client_that_leaves_cancels_it(img):
    """A long image job runs on its own worker: /health, a text call and listing answer while
    it runs; the client going away stops it (recorded as client_gone)."""
    import http.client
    import threading
    import time
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    s, rt, ctl = img
    # 250 denoising steps at 512x512: long on the tiny model, with short steps between polls.
    body = json.dumps({"text_prompts": [{"text": "a very long job"}], "width": 512,
                       "height": 512, "steps": 50, "samples": 5, "seed": 99}).encode()
    path = "/model/" + urllib.parse.quote(SDXL, safe="") + "/invoke"
    req = AWSRequest(method="POST", url=s.url + path, data=body,
                     headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(s.env["AWS_ACCESS_KEY_ID"], s.env["AWS_SECRET_ACCESS_KEY"]), "bedrock",
              "us-east-1").add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=300)
    conn.request("POST", path, body=body, headers=dict(req.headers.items()))
    time.sleep(0.5)
    with urllib.request.urlopen(s.url + "/health", timeout=10) as h:
        assert h.status == 200
    r = rt.converse(modelId="tinystories.stories-260k-v1:0",
                    messages=[{"role": "user", "content": [{"text": "Once upon a time"}]}],
                    inferenceConfig={"maxTokens": 8, "temperature": 0})
    assert r["usage"]["outputTokens"] > 0
    assert ctl.list_foundation_models(byOutputModality="IMAGE")["modelSummaries"]
    conn.sock.close()  # the client goes away
    conn.close()
    closed_at = time.time()
    deadline = time.time() + 120
    rec = None
    while time.time() < deadline and rec is None:
        status, _, usage = signed_call(s, "GET", "/basalt/usage?records=true")
        assert status == 200
        rec = next((x for x in usage["records"]
                    if x["modelId"] == SDXL and x["outcome"] == "client_gone"), None)
        time.sleep(0.2)
    assert rec is not None, "the abandoned job was not recorded"
    print(f"abandoned job recorded {time.time() - closed_at:.1f} s after the close, "
          f"images {rec['images']}")
    # Cancelled part-way: no image is billed (all five finished before the close is possible
    # on a very fast machine; then all are).
    assert rec["images"] in (0, 5)
    assert s.alive()
