"""The Bedrock runtime through Debian forky's boto3, against the real binary."""
import base64
import concurrent.futures
import json
import subprocess
import sys
import textwrap

import pytest
from botocore.exceptions import ClientError, EventStreamError

CLAUDE_V2 = "anthropic.claude-v2"


def invoke(runtime, model_id, body, **kw):
    r = runtime.invoke_model(modelId=model_id, body=json.dumps(body), accept="application/json",
                             contentType="application/json", **kw)
    return r, json.loads(r["body"].read())


def test_issue_program_runs_unchanged(server, tmp_path):
    """The canonical user program, with only endpoint, region and credentials in the env."""
    program = tmp_path / "program.py"
    program.write_text(textwrap.dedent('''
        import boto3, json
        brt = boto3.client(service_name='bedrock-runtime')
        body = json.dumps({"prompt": "\\n\\nHuman: explain black holes to university student\\n\\nAssistant:",
                           "max_tokens_to_sample": 500, "temperature": 0.1, "top_p": 0.9})
        response = brt.invoke_model(body=body, modelId='anthropic.claude-v2',
                                    accept='application/json', contentType='application/json')
        print(json.loads(response.get('body').read()).get('completion'))
    '''))
    env = server.client_env()
    env.pop("AWS_ENDPOINT_URL")
    env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = server.url
    out = subprocess.run([sys.executable, str(program)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.strip()) > 20
    assert out.stdout.strip() != "None"


def test_claude_text_greedy_lily(runtime):
    r, body = invoke(runtime, CLAUDE_V2, {
        "prompt": "\n\nHuman: Once upon a time\n\nAssistant:", "max_tokens_to_sample": 48,
        "temperature": 0})
    assert "Lily" in body["completion"]
    assert body["stop_reason"] in ("stop_sequence", "max_tokens")
    h = r["ResponseMetadata"]["HTTPHeaders"]
    assert int(h["x-amzn-bedrock-input-token-count"]) > 0
    assert 0 < int(h["x-amzn-bedrock-output-token-count"]) <= 48
    assert int(h["x-amzn-bedrock-invocation-latency"]) >= 0
    assert len(r["ResponseMetadata"]["RequestId"]) == 36
    assert r["contentType"] == "application/json"


def test_model_id_forms(runtime):
    body = {"prompt": "\n\nHuman: Once upon a time\n\nAssistant:", "max_tokens_to_sample": 8,
            "temperature": 0}
    for mid in ["anthropic.claude-v2:1",
                "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2",
                "us.anthropic.claude-v2"]:
        _, out = invoke(runtime, mid, body)
        assert out["completion"]


def test_max_tokens_reached(runtime):
    r, body = invoke(runtime, CLAUDE_V2, {
        "prompt": "\n\nHuman: Once upon a time\n\nAssistant:", "max_tokens_to_sample": 5,
        "temperature": 0})
    assert body["stop_reason"] == "max_tokens"
    assert body["stop"] is None
    assert r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-output-token-count"] == "5"


def test_zero_max_tokens(runtime):
    r, body = invoke(runtime, CLAUDE_V2, {
        "prompt": "\n\nHuman: Once upon a time\n\nAssistant:", "max_tokens_to_sample": 0})
    assert body["completion"] == "" and body["stop_reason"] == "max_tokens"
    h = r["ResponseMetadata"]["HTTPHeaders"]
    assert h["x-amzn-bedrock-output-token-count"] == "0"
    assert int(h["x-amzn-bedrock-input-token-count"]) > 0


def test_stop_sequence(runtime):
    _, body = invoke(runtime, CLAUDE_V2, {
        "prompt": "\n\nHuman: Once upon a time\n\nAssistant:", "max_tokens_to_sample": 60,
        "temperature": 0, "stop_sequences": ["Lily"]})
    assert body["stop_reason"] == "stop_sequence"
    assert body["stop"] == "Lily"
    assert "Lily" not in body["completion"]


@pytest.mark.parametrize("model_id,body,extract", [
    ("anthropic.claude-3-haiku-20240307-v1:0",
     {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 48, "temperature": 0,
      "messages": [{"role": "user", "content": "Once upon a time"}]},
     lambda b: b["content"][0]["text"]),
    ("amazon.titan-text-express-v1",
     {"inputText": "Once upon a time", "textGenerationConfig": {"maxTokenCount": 48, "temperature": 0}},
     lambda b: b["results"][0]["outputText"]),
    ("meta.llama3-8b-instruct-v1:0",
     {"prompt": "Once upon a time", "max_gen_len": 48, "temperature": 0},
     lambda b: b["generation"]),
    ("mistral.mistral-7b-instruct-v0:2",
     {"prompt": "Once upon a time", "max_tokens": 48, "temperature": 0},
     lambda b: b["outputs"][0]["text"]),
])
def test_families_greedy_lily(runtime, model_id, body, extract):
    _, out = invoke(runtime, model_id, body)
    assert "Lily" in extract(out), out


def test_family_shapes(runtime):
    _, m = invoke(runtime, "anthropic.claude-3-haiku-20240307-v1:0", {
        "anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "temperature": 0,
        "system": "You tell stories.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Once upon a time"}]}]})
    assert m["type"] == "message" and m["role"] == "assistant"
    assert m["model"] == "claude-3-haiku-20240307"
    assert m["id"].startswith("msg_bdrk_")
    assert m["stop_reason"] == "max_tokens" and m["usage"]["output_tokens"] == 5
    _, t = invoke(runtime, "amazon.titan-text-express-v1", {
        "inputText": "Once upon a time", "textGenerationConfig": {"maxTokenCount": 5}})
    assert t["results"][0]["completionReason"] == "LENGTH"
    assert t["results"][0]["tokenCount"] == 5 and t["inputTextTokenCount"] > 0
    _, l = invoke(runtime, "meta.llama3-8b-instruct-v1:0", {"prompt": "Once", "max_gen_len": 5})
    assert l["stop_reason"] == "length" and l["generation_token_count"] == 5
    assert l["prompt_token_count"] > 0
    _, s = invoke(runtime, "mistral.mistral-7b-instruct-v0:2", {"prompt": "Once", "max_tokens": 5})
    assert s["outputs"][0]["stop_reason"] == "length"


def read_stream(response):
    chunks = []
    for event in response["body"]:
        assert "chunk" in event, event
        chunks.append(json.loads(event["chunk"]["bytes"]))
    return chunks


def test_invoke_stream_matches_non_stream(runtime):
    body = {"prompt": "\n\nHuman: Once upon a time\n\nAssistant:", "max_tokens_to_sample": 40,
            "temperature": 0}
    _, full = invoke(runtime, CLAUDE_V2, body)
    r = runtime.invoke_model_with_response_stream(modelId=CLAUDE_V2, body=json.dumps(body))
    assert r["contentType"] == "application/json"
    chunks = read_stream(r)
    assert len(chunks) > 3
    text = "".join(c["completion"] for c in chunks)
    assert text == full["completion"]
    last = chunks[-1]
    metrics = last["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] > 0 and metrics["inputTokenCount"] > 0
    assert metrics["invocationLatency"] >= metrics["firstByteLatency"] >= 0
    assert last["stop_reason"] in ("stop_sequence", "max_tokens")
    assert all("amazon-bedrock-invocationMetrics" not in c for c in chunks[:-1])


def test_messages_stream_events(runtime):
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20, "temperature": 0,
            "messages": [{"role": "user", "content": "Once upon a time"}]}
    chunks = read_stream(runtime.invoke_model_with_response_stream(
        modelId="anthropic.claude-3-haiku-20240307-v1:0", body=json.dumps(body)))
    types = [c["type"] for c in chunks]
    assert types[0] == "message_start" and types[1] == "content_block_start"
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert chunks[0]["message"]["usage"]["input_tokens"] > 0
    assert chunks[-2]["usage"]["output_tokens"] == 20
    assert chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == 20


def test_titan_and_llama_stream_first_and_last(runtime):
    chunks = read_stream(runtime.invoke_model_with_response_stream(
        modelId="amazon.titan-text-express-v1",
        body=json.dumps({"inputText": "Once upon a time",
                         "textGenerationConfig": {"maxTokenCount": 10}})))
    assert chunks[0]["inputTextTokenCount"] > 0
    assert chunks[-1]["completionReason"] == "LENGTH"
    assert chunks[-1]["totalOutputTextTokenCount"] == 10
    chunks = read_stream(runtime.invoke_model_with_response_stream(
        modelId="meta.llama3-8b-instruct-v1:0",
        body=json.dumps({"prompt": "Once upon a time", "max_gen_len": 10})))
    assert chunks[0]["prompt_token_count"] > 0
    assert all(c["prompt_token_count"] is None for c in chunks[1:])
    assert chunks[-1]["stop_reason"] == "length" and chunks[-1]["generation_token_count"] == 10


def test_converse(runtime):
    r = runtime.converse(modelId=CLAUDE_V2,
                         messages=[{"role": "user", "content": [{"text": "Once upon a time"}]}],
                         inferenceConfig={"maxTokens": 48, "temperature": 0})
    assert "Lily" in r["output"]["message"]["content"][0]["text"]
    assert r["output"]["message"]["role"] == "assistant"
    assert r["stopReason"] in ("end_turn", "max_tokens")
    u = r["usage"]
    assert u["totalTokens"] == u["inputTokens"] + u["outputTokens"]
    assert r["metrics"]["latencyMs"] >= 0


def test_converse_stop_and_max(runtime):
    r = runtime.converse(modelId=CLAUDE_V2,
                         messages=[{"role": "user", "content": [{"text": "Once upon a time"}]}],
                         inferenceConfig={"maxTokens": 60, "temperature": 0,
                                          "stopSequences": ["Lily"]})
    assert r["stopReason"] == "stop_sequence"
    assert "Lily" not in r["output"]["message"]["content"][0]["text"]
    r = runtime.converse(modelId=CLAUDE_V2,
                         messages=[{"role": "user", "content": [{"text": "Once upon a time"}]}],
                         inferenceConfig={"maxTokens": 3})
    assert r["stopReason"] == "max_tokens" and r["usage"]["outputTokens"] == 3


def test_converse_stream(runtime):
    r = runtime.converse_stream(modelId=CLAUDE_V2,
                                messages=[{"role": "user", "content": [{"text": "Once upon a time"}]}],
                                inferenceConfig={"maxTokens": 40, "temperature": 0})
    events = list(r["stream"])
    assert "messageStart" in events[0] and events[0]["messageStart"]["role"] == "assistant"
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events
                   if "contentBlockDelta" in e)
    assert "Lily" in text
    assert "contentBlockStop" in events[-3]
    assert "messageStop" in events[-2]
    meta = events[-1]["metadata"]
    assert meta["usage"]["outputTokens"] > 0 and meta["metrics"]["latencyMs"] >= 0
    full = runtime.converse(modelId=CLAUDE_V2,
                            messages=[{"role": "user", "content": [{"text": "Once upon a time"}]}],
                            inferenceConfig={"maxTokens": 40, "temperature": 0})
    assert full["output"]["message"]["content"][0]["text"] == text
    assert full["usage"] == meta["usage"]


def test_count_tokens(runtime):
    body = json.dumps({"prompt": "\n\nHuman: Once upon a time\n\nAssistant:",
                       "max_tokens_to_sample": 5, "temperature": 0})
    counted = runtime.count_tokens(modelId=CLAUDE_V2,
                                   input={"invokeModel": {"body": body.encode()}})["inputTokens"]
    r = runtime.invoke_model(modelId=CLAUDE_V2, body=body)
    assert counted == int(r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-input-token-count"])
    c2 = runtime.count_tokens(modelId=CLAUDE_V2, input={"converse": {
        "messages": [{"role": "user", "content": [{"text": "Once upon a time"}]}]}})
    conv = runtime.converse(modelId=CLAUDE_V2, inferenceConfig={"maxTokens": 2},
                            messages=[{"role": "user", "content": [{"text": "Once upon a time"}]}])
    assert c2["inputTokens"] == conv["usage"]["inputTokens"]


def test_concurrent_streams_exact_usage(runtime):
    """32 concurrent streams all complete, each with exact usage."""
    body = json.dumps({"prompt": "Once upon a time", "max_gen_len": 24, "temperature": 0})
    expected_in = runtime.count_tokens(
        modelId="meta.llama3-8b-instruct-v1:0",
        input={"invokeModel": {"body": body.encode()}})["inputTokens"]

    def one(_):
        r = runtime.invoke_model_with_response_stream(modelId="meta.llama3-8b-instruct-v1:0",
                                                      body=body)
        chunks = read_stream(r)
        return "".join(c["generation"] for c in chunks), chunks[-1]

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        results = list(pool.map(one, range(32)))
    texts = {t for t, _ in results}
    assert len(texts) == 1, texts  # greedy: every stream the same
    for text, last in results:
        m = last["amazon-bedrock-invocationMetrics"]
        assert m["inputTokenCount"] == expected_in
        assert m["outputTokenCount"] == last["generation_token_count"]
        if last["stop_reason"] == "length":
            assert m["outputTokenCount"] == 24


def test_bearer_api_key(server):
    import boto3
    token = server.env["AWS_BEARER_TOKEN_BEDROCK"]
    env = server.client_env()
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(k)
    env["AWS_BEARER_TOKEN_BEDROCK"] = token
    code = textwrap.dedent('''
        import boto3, json
        brt = boto3.client("bedrock-runtime")
        r = brt.converse(modelId="anthropic.claude-v2",
                         messages=[{"role": "user", "content": [{"text": "Once upon a time"}]}],
                         inferenceConfig={"maxTokens": 4})
        print(r["usage"]["outputTokens"])
    ''')
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "4"
    env["AWS_BEARER_TOKEN_BEDROCK"] = "ABSK" + base64.b64encode(b"BedrockAPIKey-x-at-1:nope").decode()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0 and "UnrecognizedClientException" in out.stderr
