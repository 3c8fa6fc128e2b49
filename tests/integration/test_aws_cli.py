"""The AWS CLI v2 (Debian forky's awscli) against the server."""
import json
import shutil
import subprocess

import pytest


def aws(server, *args, check=True):
    if shutil.which("aws") is None:
        pytest.skip("aws CLI not installed")
    out = subprocess.run(["aws", *args, "--output", "json"], env=server.client_env(),
                         capture_output=True, text=True, timeout=120)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def test_cli_invoke_model(server, tmp_path):
    outfile = tmp_path / "out.json"
    body = json.dumps({"prompt": "\n\nHuman: Once upon a time\n\nAssistant:",
                       "max_tokens_to_sample": 48, "temperature": 0})
    aws(server, "bedrock-runtime", "invoke-model", "--model-id", "anthropic.claude-v2",
        "--body", body, "--cli-binary-format", "raw-in-base64-out", str(outfile))
    assert "Lily" in json.loads(outfile.read_text())["completion"]


def test_cli_converse(server):
    out = aws(server, "bedrock-runtime", "converse", "--model-id", "anthropic.claude-v2",
              "--messages", json.dumps([{"role": "user", "content": [{"text": "Once upon a time"}]}]),
              "--inference-config", json.dumps({"maxTokens": 48, "temperature": 0}))
    r = json.loads(out.stdout)
    assert "Lily" in r["output"]["message"]["content"][0]["text"]
    assert r["usage"]["outputTokens"] > 0


def test_cli_count_tokens(server):
    out = aws(server, "bedrock-runtime", "count-tokens", "--model-id", "anthropic.claude-v2",
              "--input", json.dumps({"converse": {"messages": [
                  {"role": "user", "content": [{"text": "Once upon a time"}]}]}}))
    assert json.loads(out.stdout)["inputTokens"] > 0


def test_cli_list_foundation_models(server):
    out = aws(server, "bedrock", "list-foundation-models")
    ids = {m["modelId"] for m in json.loads(out.stdout)["modelSummaries"]}
    assert {"anthropic.claude-v2", "amazon.titan-text-express-v1"} <= ids
    out = aws(server, "bedrock", "get-foundation-model", "--model-identifier", "anthropic.claude-v2")
    d = json.loads(out.stdout)["modelDetails"]
    assert d["modelArn"] == "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2"


def test_cli_error(server):
    out = aws(server, "bedrock-runtime", "converse", "--model-id", "nope.nope", "--messages",
              json.dumps([{"role": "user", "content": [{"text": "x"}]}]), check=False)
    assert out.returncode != 0
    assert "ValidationException" in out.stderr and "model identifier is invalid" in out.stderr
