"""Speculative decoding through the real binary: a server with it (the default) and one
started with --no-speculative give byte-identical greedy output and usage to boto3 clients,
also for concurrent requests sharing a long prefix, with stop sequences and token limits."""
import concurrent.futures

import boto3
import pytest
from botocore.config import Config

from conftest import MODELS_DIR, BasaltServer

MODEL = "tinystories.stories-260k-v1:0"
STORY = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the "
         "park. One day, she saw a big red ball under a tree. She ran to the ball and picked it "
         "up. Lily was very happy. She played with the ball all day long. ")

CASES = [
    (STORY + "\n" + STORY + "\n" + STORY[:60], 150, []),
    (STORY + "\n" + STORY[:40], 90, ["ball all"]),
    (STORY + "\n" + STORY[:40], 90, ["happy. She"]),
    (STORY + "\n" + STORY[:30], 17, []),
    (STORY + "\nTom and Sue", 60, []),
    ("Once upon a time", 120, []),
]


def client(server):
    return boto3.client(
        "bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}, read_timeout=120, max_pool_connections=16))


def converse(rt, prompt, max_tokens, stop):
    config = {"maxTokens": max_tokens, "temperature": 0}
    if stop:
        config["stopSequences"] = stop
    r = rt.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": prompt}]}],
                    inferenceConfig=config)
    return (r["output"]["message"]["content"][0]["text"], r["stopReason"],
            r["usage"]["inputTokens"], r["usage"]["outputTokens"])


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    if not (MODELS_DIR / "stories260K.gguf").exists():
        pytest.skip(f"test models not found in {MODELS_DIR}")
    spec = BasaltServer(tmp_path_factory.mktemp("spec"))
    plain = BasaltServer(tmp_path_factory.mktemp("plain"), extra_args=("--no-speculative",))
    yield spec, plain
    for s in (spec, plain):
        s.stop()
        assert "unhandled exception" not in s.log_text()


def test_flag_is_logged(servers):
    spec, plain = servers
    converse(client(spec), "Hi", 2, [])
    converse(client(plain), "Hi", 2, [])
    assert "speculative on" in spec.log_text()
    assert "speculative off" in plain.log_text()


def test_same_output_and_usage_one_at_a_time(servers):
    spec, plain = (client(s) for s in servers)
    for prompt, max_tokens, stop in CASES:
        expected = converse(plain, prompt, max_tokens, stop)
        assert converse(spec, prompt, max_tokens, stop) == expected, prompt[:40]


def test_same_output_and_usage_concurrently(servers):
    spec, plain = (client(s) for s in servers)
    expected = [converse(plain, *case) for case in CASES]
    with concurrent.futures.ThreadPoolExecutor(len(CASES)) as pool:
        got = list(pool.map(lambda case: converse(spec, *case), CASES))
    assert got == expected
