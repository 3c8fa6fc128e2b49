"""Embeddings through InvokeModel with boto3: Amazon Titan Text Embeddings G1 and V2 bodies and
Cohere Embed v3 bodies, served from a random-weight BERT GGUF (written by
bench/make_random_embed_gguf.py) and from stories260K pooled by mean; the refusals (streaming,
Converse, CountTokens), validation errors, headers, the catalog listing and usage records."""
import concurrent.futures
import json
import math
import subprocess
import sys

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import MODELS_DIR, ROOT, BasaltServer, signed_call

EMBD = 512  # the test model's native size: 256 and 512 fit, 1024 does not
MAX_TOKENS = 64  # catalog contextLength: the longest text in tokens


@pytest.fixture(scope="module")
def emb(tmp_path_factory):
    if not (MODELS_DIR / "stories260K.gguf").exists():
        pytest.skip(f"test models not found in {MODELS_DIR}")
    tmp = tmp_path_factory.mktemp("embed")
    gguf = tmp / "bert-random.gguf"
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_random_embed_gguf.py"), str(gguf),
                    "--embd", str(EMBD), "--heads", "8", "--ff", "256", "--layers", "2"],
                   check=True)
    catalog = {"models": [{
        "modelId": "test.bert-embed-v1:0",
        "providerName": "Test",
        "modelName": "Random BERT embed",
        "weights": str(gguf),
        "requestFamily": "titan-embed-v2",
        "contextLength": MAX_TOKENS,
        "price": {"inputPer1kTokens": 0.02},
        "aliases": [
            {"modelId": "amazon.titan-embed-text-v1", "modelName": "Titan Embeddings G1 - Text"},
            {"modelId": "amazon.titan-embed-text-v2:0", "modelName": "Titan Text Embeddings V2"},
            {"modelId": "cohere.embed-english-v3", "modelName": "Embed English"},
            {"modelId": "cohere.embed-multilingual-v3", "modelName": "Embed Multilingual"},
        ],
    }, {
        "modelId": "tinystories.stories-260k-embed-v1:0",
        "providerName": "TinyStories",
        "modelName": "Stories 260K embed",
        "weights": "stories260K.gguf",
        "requestFamily": "titan-embed-v1",
        "pooling": "mean",
    }, {
        "modelId": "tinystories.stories-260k-v1:0",
        "weights": "stories260K.gguf",
        "requestFamily": "meta-llama",
        "contextLength": 512,
    }]}
    s = BasaltServer(tmp / "data", catalog=catalog)
    cfg = Config(retries={"max_attempts": 1}, read_timeout=120, max_pool_connections=16)
    kw = dict(endpoint_url=s.url, region_name="us-east-1",
              aws_access_key_id=s.env["AWS_ACCESS_KEY_ID"],
              aws_secret_access_key=s.env["AWS_SECRET_ACCESS_KEY"], config=cfg)
    yield s, boto3.client("bedrock-runtime", **kw), boto3.client("bedrock", **kw)
    s.stop()
    assert "unhandled exception" not in s.log_text()


def invoke(rt, model, body):
    r = rt.invoke_model(modelId=model, body=json.dumps(body), contentType="application/json",
                        accept="application/json")
    return json.loads(r["body"].read()), r["ResponseMetadata"]["HTTPHeaders"]


def norm(v):
    return math.sqrt(sum(x * x for x in v))


def error_of(fn):
    with pytest.raises(ClientError) as e:
        fn()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_titan_v1(emb):
    _, rt, _ = emb
    out, headers = invoke(rt, "amazon.titan-embed-text-v1", {"inputText": "the water search query"})
    assert set(out) == {"embedding", "inputTextTokenCount"}
    assert len(out["embedding"]) == EMBD  # v1: the model's own size
    assert out["inputTextTokenCount"] == 6  # [CLS] the water search query [SEP]
    assert headers["x-amzn-bedrock-input-token-count"] == "6"
    assert "x-amzn-bedrock-output-token-count" not in headers
    assert int(headers["x-amzn-bedrock-invocation-latency"]) >= 0
    assert headers["content-type"] == "application/json"


def test_titan_v2_default_is_normalized_and_deterministic(emb):
    _, rt, _ = emb
    a, _ = invoke(rt, "amazon.titan-embed-text-v2:0", {"inputText": "search query about water"})
    b, _ = invoke(rt, "amazon.titan-embed-text-v2:0", {"inputText": "search query about water"})
    c, _ = invoke(rt, "amazon.titan-embed-text-v2:0", {"inputText": "a different text"})
    assert len(a["embedding"]) == EMBD  # no `dimensions`: min(1024, the model's size)
    assert abs(norm(a["embedding"]) - 1) < 1e-5
    assert a["embedding"] == b["embedding"]
    assert a["embedding"] != c["embedding"]
    assert a["embeddingsByType"] == {"float": a["embedding"]}
    assert a["inputTextTokenCount"] == 6


def test_titan_v2_dimensions_normalize_and_binary(emb):
    _, rt, _ = emb
    text = "one two three four"
    d256, _ = invoke(rt, "amazon.titan-embed-text-v2:0", {"inputText": text, "dimensions": 256})
    assert len(d256["embedding"]) == 256 and abs(norm(d256["embedding"]) - 1) < 1e-5
    raw, _ = invoke(rt, "amazon.titan-embed-text-v2:0",
                    {"inputText": text, "dimensions": 512, "normalize": False})
    assert len(raw["embedding"]) == 512 and abs(norm(raw["embedding"]) - 1) > 1e-3
    # Matryoshka: 256 dimensions are the first 256 raw components, renormalized.
    head = raw["embedding"][:256]
    n = norm(head)
    assert max(abs(x / n - y) for x, y in zip(head, d256["embedding"])) < 1e-5
    both, _ = invoke(rt, "amazon.titan-embed-text-v2:0",
                     {"inputText": text, "dimensions": 256, "embeddingTypes": ["binary", "float"]})
    bits = both["embeddingsByType"]["binary"]
    assert len(bits) == 256 and set(bits) <= {0, 1}
    assert bits == [1 if x > 0 else 0 for x in both["embeddingsByType"]["float"]]
    only_bits, _ = invoke(rt, "amazon.titan-embed-text-v2:0",
                          {"inputText": text, "dimensions": 256, "embeddingTypes": ["binary"]})
    assert set(only_bits["embeddingsByType"]) == {"binary"}
    assert len(only_bits["embedding"]) == 256


def test_cohere_floats_batched_equal_single(emb):
    _, rt, _ = emb
    texts = ["the water search query", "search query about water", "Hello, World! 123"]
    out, headers = invoke(rt, "cohere.embed-english-v3",
                          {"texts": texts, "input_type": "search_document"})
    assert out["response_type"] == "embeddings_floats"
    assert out["texts"] == texts and isinstance(out["id"], str) and out["id"]
    assert len(out["embeddings"]) == 3
    for i, t in enumerate(texts):
        v = out["embeddings"][i]
        assert len(v) == EMBD and abs(norm(v) - 1) < 1e-5
        one, h1 = invoke(rt, "cohere.embed-multilingual-v3", {"texts": [t], "input_type": "search_query"})
        # Batched or alone: equal but for flash attention's F16 accumulation (about 4e-5).
        assert max(abs(x - y) for x, y in zip(v, one["embeddings"][0])) < 1e-4
    tokens = int(headers["x-amzn-bedrock-input-token-count"])
    assert tokens == 6 + 6 + int(h1["x-amzn-bedrock-input-token-count"])
    assert "x-amzn-bedrock-output-token-count" not in headers


def test_cohere_embedding_types(emb):
    _, rt, _ = emb
    out, _ = invoke(rt, "cohere.embed-english-v3", {
        "texts": ["a b c", "water fire"], "input_type": "classification",
        "embedding_types": ["float", "int8", "uint8", "binary", "ubinary"]})
    assert out["response_type"] == "embeddings_by_type"
    e = out["embeddings"]
    assert set(e) == {"float", "int8", "uint8", "binary", "ubinary"}
    for i in range(2):
        f = e["float"][i]
        assert len(f) == EMBD
        assert max(abs(x) for x in e["int8"][i]) == 127
        assert all(-127 <= x <= 127 for x in e["int8"][i])
        assert [x + 128 for x in e["int8"][i]] == e["uint8"][i]
        assert len(e["ubinary"][i]) == EMBD // 8
        assert [x - 128 for x in e["ubinary"][i]] == e["binary"][i]
        first = e["ubinary"][i][0]
        assert [(first >> (7 - k)) & 1 for k in range(8)] == [1 if x > 0 else 0 for x in f[:8]]


def test_cohere_truncate(emb):
    _, rt, _ = emb
    long_text = " ".join(["water", "fire"] * 30 + ["sun", "moon"] * 30)  # 120 words > 64 tokens
    code, msg = error_of(lambda: invoke(rt, "cohere.embed-english-v3",
                                        {"texts": [long_text], "input_type": "search_query"}))
    assert code == "ValidationException" and msg == "Input is too long for requested model."
    end, h = invoke(rt, "cohere.embed-english-v3",
                    {"texts": [long_text], "input_type": "search_query", "truncate": "END"})
    assert h["x-amzn-bedrock-input-token-count"] == str(MAX_TOKENS)
    start, _ = invoke(rt, "cohere.embed-english-v3",
                      {"texts": [long_text], "input_type": "search_query", "truncate": "START"})
    # END keeps the first 62 words (mostly water/fire), START the last 62 (mostly sun/moon).
    assert end["embeddings"][0] != start["embeddings"][0]
    head, _ = invoke(rt, "cohere.embed-english-v3", {
        "texts": [" ".join(["water", "fire"] * 30 + ["sun", "moon"])], "input_type": "search_query"})
    assert max(abs(x - y) for x, y in zip(end["embeddings"][0], head["embeddings"][0])) < 1e-5
    # Titan V2 has no truncate: too long is an error.
    code, msg = error_of(lambda: invoke(rt, "amazon.titan-embed-text-v2:0", {"inputText": long_text}))
    assert code == "ValidationException" and msg == "Input is too long for requested model."


def test_validation_errors(emb):
    _, rt, _ = emb
    cases = [
        ("amazon.titan-embed-text-v2:0", {"inputText": "x", "dimensions": 100},
         "Malformed input request: #/dimensions: 100 is not a valid enum value, please reformat "
         "your input and try again."),
        ("amazon.titan-embed-text-v2:0", {"inputText": ""},
         "Malformed input request: #/inputText: expected minLength: 1, actual: 0, please reformat "
         "your input and try again."),
        ("amazon.titan-embed-text-v2:0", {"inputText": "x", "dimensions": 1024},
         "Malformed input request: #/dimensions: 1024 is more than this model's 512 dimensions, "
         "please reformat your input and try again."),
        ("amazon.titan-embed-text-v1", {"inputText": "x", "normalize": True},
         "Malformed input request: #: extraneous key [normalize] is not permitted, please "
         "reformat your input and try again."),
        ("cohere.embed-english-v3", {"texts": ["t"] * 97, "input_type": "search_query"},
         "Malformed input request: #/texts: expected maxItems: 96, actual: 97, please reformat "
         "your input and try again."),
        ("cohere.embed-english-v3", {"texts": ["t"]},
         "Malformed input request: #: required key [input_type] not found, please reformat your "
         "input and try again."),
        ("cohere.embed-english-v3", {"texts": ["t"], "input_type": "search_query",
                                     "truncate": "MIDDLE"},
         "Malformed input request: #/truncate: MIDDLE is not a valid enum value, please reformat "
         "your input and try again."),
    ]
    for model, body, message in cases:
        code, msg = error_of(lambda: invoke(rt, model, body))
        assert (code, msg) == ("ValidationException", message), body


def test_streaming_converse_and_count_tokens_are_refused(emb):
    s, rt, _ = emb
    code, msg = error_of(lambda: rt.invoke_model_with_response_stream(
        modelId="amazon.titan-embed-text-v2:0", body=json.dumps({"inputText": "x"})))
    assert (code, msg) == ("ValidationException", "The model is unsupported for streaming")
    code, msg = error_of(lambda: rt.converse(
        modelId="cohere.embed-english-v3",
        messages=[{"role": "user", "content": [{"text": "hi"}]}]))
    assert (code, msg) == ("ValidationException",
                           "This action doesn't support the model that you provided. Try again "
                           "with a supported text or chat model.")
    code, _ = error_of(lambda: rt.count_tokens(
        modelId="amazon.titan-embed-text-v2:0",
        input={"invokeModel": {"body": json.dumps({"inputText": "x"}).encode()}}))
    assert code == "ValidationException"
    # The text model beside them still generates.
    r = rt.converse(modelId="tinystories.stories-260k-v1:0",
                    messages=[{"role": "user", "content": [{"text": "Once upon a time"}]}],
                    inferenceConfig={"maxTokens": 4})
    assert r["usage"]["outputTokens"] > 0


def test_generative_model_pooled_by_mean(emb):
    _, rt, _ = emb
    out, h = invoke(rt, "tinystories.stories-260k-embed-v1:0", {"inputText": "Once upon a time"})
    assert len(out["embedding"]) == 64
    assert out["inputTextTokenCount"] == int(h["x-amzn-bedrock-input-token-count"]) > 1


def test_catalog_lists_embedding_models(emb):
    _, _, ctl = emb
    listed = ctl.list_foundation_models(byOutputModality="EMBEDDING")["modelSummaries"]
    ids = {m["modelId"] for m in listed}
    assert {"amazon.titan-embed-text-v1", "amazon.titan-embed-text-v2:0",
            "cohere.embed-english-v3", "cohere.embed-multilingual-v3",
            "tinystories.stories-260k-embed-v1:0"} <= ids
    assert "tinystories.stories-260k-v1:0" not in ids
    for m in listed:
        assert m["outputModalities"] == ["EMBEDDING"]
        assert m["responseStreamingSupported"] is False
    d = ctl.get_foundation_model(modelIdentifier="cohere.embed-english-v3")["modelDetails"]
    assert d["providerName"] == "Cohere" and d["outputModalities"] == ["EMBEDDING"]
    text = {m["modelId"] for m in ctl.list_foundation_models(byOutputModality="TEXT")["modelSummaries"]}
    assert "tinystories.stories-260k-v1:0" in text and "cohere.embed-english-v3" not in text


def test_concurrent_clients_and_usage_records(emb):
    s, rt, _ = emb
    texts = ["the water search query", "water fire", "model server cloud"]
    ref, _ = invoke(rt, "cohere.embed-english-v3", {"texts": texts, "input_type": "clustering"})

    def call(i):
        r = rt.invoke_model(modelId="cohere.embed-english-v3", body=json.dumps(
            {"texts": texts, "input_type": "clustering"}))
        out = json.loads(r["body"].read())
        diff = max(abs(x - y) for a, b in zip(out["embeddings"], ref["embeddings"])
                   for x, y in zip(a, b))
        return (r["ResponseMetadata"]["RequestId"],
                int(r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-input-token-count"]), diff)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(24)))
    # Batched with other requests' texts into bigger steps, the vectors stay the same (within
    # flash attention's F16 accumulation).
    assert all(d < 1e-4 for _, _, d in results), max(d for _, _, d in results)
    st, _, report = signed_call(s, "GET", "/basalt/usage?records=true")
    assert st == 200
    records = {r["requestId"]: r for r in report["records"]}
    for rid, tokens, _ in results:
        rec = records[rid]
        assert rec["modelId"] == "cohere.embed-english-v3"
        assert rec["operation"] == "InvokeModel" and rec["outcome"] == "success"
        assert rec["inputTokens"] == tokens and rec["outputTokens"] == 0
        assert rec["cost"] == pytest.approx(tokens / 1000 * 0.02)


def test_js_sdk(emb):
    s, _, _ = emb
    node_dir = ROOT / "tests" / "integration" / "node"
    if not (node_dir / "node_modules" / "@aws-sdk" / "client-bedrock-runtime").exists():
        pytest.skip("npm dependencies not installed (scripts/test installs them)")
    out = subprocess.run(["node", "--test", "--test-reporter=spec", "embed.test.mjs"],
                         cwd=node_dir, env=s.client_env(), capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-3000:]
