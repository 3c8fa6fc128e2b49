"""Slow and greedy clients against the real binary: trickled request heads are cut off by
--header-timeout while normal requests go on, and /health is answered on the I/O thread
while every handler thread is busy (requests past the worker queue get Bedrock's 503)."""
import json
import select
import socket
import threading
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import MODELS_DIR, BasaltServer


@pytest.fixture
def fresh(tmp_path):
    if not (MODELS_DIR / "stories260K.gguf").exists():
        pytest.skip(f"test models not found in {MODELS_DIR}")
    servers = []

    def start(*args):
        s = BasaltServer(tmp_path / f"s{len(servers)}", extra_args=args)
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.stop()
        assert "unhandled exception" not in s.log_text()


def runtime_client(server):
    return boto3.client("bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"],
                        config=Config(retries={"max_attempts": 1}, read_timeout=60,
                                      max_pool_connections=64))


def get_health(server, timeout=5):
    t0 = time.monotonic()
    with urllib.request.urlopen(server.url + "/health", timeout=timeout) as r:
        body = r.read()
        return r.status, r.headers.get("Content-Type"), body, time.monotonic() - t0


def test_trickled_heads_closed_by_header_timeout(fresh):
    s = fresh("--header-timeout", "2")
    conns = []
    for _ in range(200):
        c = socket.create_connection(("127.0.0.1", s.port))
        c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        conns.append(c)
    t0 = time.monotonic()
    open_conns = {c.fileno(): c for c in conns}
    closed_after = {}
    next_byte = t0
    normal = {}

    def normal_request():
        time.sleep(0.5)
        normal["health"] = get_health(s)
        r = runtime_client(s).converse(
            modelId="anthropic.claude-v2",
            messages=[{"role": "user", "content": [{"text": "Once upon a time"}]}],
            inferenceConfig={"maxTokens": 8, "temperature": 0})
        normal["converse"] = r["ResponseMetadata"]["HTTPStatusCode"]

    worker = threading.Thread(target=normal_request)
    worker.start()
    while open_conns and time.monotonic() - t0 < 10:
        now = time.monotonic()
        if now >= next_byte:  # one more header byte on every connection, every 0.5 s
            for fd, c in list(open_conns.items()):
                try:
                    c.send(b"a")
                except OSError:
                    closed_after[fd] = now - t0
                    del open_conns[fd]
            next_byte = now + 0.5
        readable, _, _ = select.select(list(open_conns.values()), [], [],
                                       max(0.0, next_byte - time.monotonic()))
        for c in readable:
            try:
                data = c.recv(4096)
            except OSError:
                data = b""
            if not data:
                closed_after[c.fileno()] = time.monotonic() - t0
                del open_conns[c.fileno()]
    worker.join(30)
    for c in conns:
        c.close()
    assert not open_conns, f"{len(open_conns)} trickling connections still open after 10 s"
    # Deadline 2 s from accept, then the 408 goes out and the socket closes.
    assert max(closed_after.values()) < 5, sorted(closed_after.values())[-5:]
    assert min(closed_after.values()) > 1, sorted(closed_after.values())[:5]
    status, _, body, _ = normal["health"]
    assert status == 200 and json.loads(body) == {"status": "ok"}
    assert normal["converse"] == 200
    assert s.alive()


def test_health_answered_while_workers_busy(fresh):
    s = fresh("--http-workers", "1", "--max-queued-requests", "1", "--parallel", "1")
    client = runtime_client(s)
    msgs = [{"role": "user", "content": [{"text": "Once upon a time"}]}]
    results = []
    lock = threading.Lock()
    go = threading.Barrier(24)

    def generate():
        go.wait()
        try:
            r = client.converse(modelId="anthropic.claude-v2", messages=msgs,
                                inferenceConfig={"maxTokens": 100, "temperature": 0})
            outcome = ("ok", r["ResponseMetadata"]["HTTPStatusCode"])
        except ClientError as e:
            err = e.response
            outcome = ("error", err["ResponseMetadata"]["HTTPStatusCode"],
                       err["Error"].get("Code"), err["Error"].get("Message"))
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=generate) for _ in range(24)]
    for t in threads:
        t.start()
    # While the one handler thread generates and the rest overflow, health checks still
    # answer at once (they used to queue behind every generation).
    latencies = []
    while any(t.is_alive() for t in threads) or len(latencies) < 5:
        status, content_type, body, took = get_health(s)
        assert status == 200
        assert content_type == "application/json"
        assert json.loads(body) == {"status": "ok"}
        latencies.append(took)
        time.sleep(0.02)
    for t in threads:
        t.join(60)
    assert max(latencies) < 1.0, latencies
    assert len(results) == 24
    assert any(r[0] == "ok" for r in results), results
    overloaded = [r for r in results if r[0] == "error"]
    assert overloaded, "no request overflowed a one-slot worker queue"
    for r in overloaded:
        assert r[1:] == (503, "ServiceUnavailableException",
                         "The server is busy. Try your request again."), r
    assert s.alive()
