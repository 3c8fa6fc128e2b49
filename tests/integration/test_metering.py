"""Metering (issue 4): exact usage records, reports, quotas, crash safety, /metrics and
invocation logging, against the real binary."""
import concurrent.futures
import http.client
import json
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.parse

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import BINARY, BasaltServer

MSG = [{"role": "user", "content": [{"text": "Once upon a time"}]}]
LLAMA = "meta.llama3-8b-instruct-v1:0"


def client(s, service="bedrock-runtime"):
    return boto3.client(service, endpoint_url=s.url, region_name="us-east-1",
                        aws_access_key_id=s.env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=s.env["AWS_SECRET_ACCESS_KEY"],
                        config=Config(retries={"max_attempts": 1}, read_timeout=120,
                                      max_pool_connections=32))


def signed_get(s, path):
    req = AWSRequest(method="GET", url=s.url + path)
    SigV4Auth(Credentials(s.env["AWS_ACCESS_KEY_ID"], s.env["AWS_SECRET_ACCESS_KEY"]), "bedrock",
              "us-east-1").add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
    conn.request("GET", path, headers=dict(req.headers.items()))
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200, body
    return body


def usage(s, **params):
    return json.loads(signed_get(s, "/basalt/usage?" + urllib.parse.urlencode(params)))


@pytest.fixture
def fresh(tmp_path):
    servers = []

    def start(*args, data=None):
        s = BasaltServer(data or tmp_path / f"s{len(servers)}", extra_args=args)
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.stop()


def open_stream(s, max_gen_len):
    """Starts an InvokeModelWithResponseStream with a raw signed request; returns the
    connection, the response and the request id."""
    body = json.dumps({"prompt": "Once upon a time", "max_gen_len": max_gen_len}).encode()
    path = f"/model/{LLAMA}/invoke-with-response-stream"
    req = AWSRequest(method="POST", url=s.url + path, data=body,
                     headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(s.env["AWS_ACCESS_KEY_ID"], s.env["AWS_SECRET_ACCESS_KEY"]), "bedrock",
              "us-east-1").add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    conn.request("POST", path, body=body, headers=dict(req.headers.items()))
    r = conn.getresponse()
    return conn, r, r.getheader("x-amzn-RequestId")


def cut_stream(s, n_bytes=64):
    """Starts a stream and hangs up after the first bytes."""
    conn, r, rid = open_stream(s, 400)
    r.read1(n_bytes)
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    return rid


def test_report_totals_equal_what_clients_saw(fresh):
    s = fresh()
    rt = client(s)
    seen = {}  # request id -> (input, output)

    def non_stream(i):
        r = rt.converse(modelId=LLAMA, messages=MSG, inferenceConfig={"maxTokens": 5 + i % 7})
        seen[r["ResponseMetadata"]["RequestId"]] = (r["usage"]["inputTokens"],
                                                    r["usage"]["outputTokens"])

    def stream(i):
        r = rt.converse_stream(modelId=LLAMA, messages=MSG,
                               inferenceConfig={"maxTokens": 3 + i % 5})
        meta = [e for e in r["stream"] if "metadata" in e][0]["metadata"]["usage"]
        seen[r["ResponseMetadata"]["RequestId"]] = (meta["inputTokens"], meta["outputTokens"])

    cut = []
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(non_stream, i) for i in range(10)]
        futures += [pool.submit(stream, i) for i in range(10)]
        futures += [pool.submit(lambda: cut.append(cut_stream(s))) for _ in range(4)]
        for f in futures:
            f.result()
    time.sleep(0.5)  # the cut streams finish their records after the client left
    records = {r["requestId"]: r for r in usage(s, records="true")["records"]}
    for rid, (inp, out) in seen.items():
        assert records[rid]["inputTokens"] == inp and records[rid]["outputTokens"] == out
        assert records[rid]["outcome"] == "success"
    for rid in cut:
        assert records[rid]["outcome"] == "client_gone"
        assert 0 < records[rid]["outputTokens"] < 400
    report = usage(s, groupBy="model,operation")
    total = report["total"]
    assert total["requests"] == len(records) == len(seen) + len(cut)
    assert total["inputTokens"] == sum(r["inputTokens"] for r in records.values())
    assert total["outputTokens"] == sum(r["outputTokens"] for r in records.values())
    assert sum(r["outputTokens"] for r in report["rows"]) == total["outputTokens"]
    assert total["cost"] > 0
    csv = signed_get(s, "/basalt/usage?format=csv&groupBy=day").decode()
    assert csv.splitlines()[0].lower().startswith("day")
    # The CLI reads the same database.
    out = subprocess.run([str(BINARY), "usage", "report", "--data-dir", str(s.data_dir),
                          "--group-by", "model"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["total"]["outputTokens"] == total["outputTokens"]


def test_rpm_quota_trips_at_the_right_request(fresh):
    s = fresh("--rpm-per-key", "3")
    rt = client(s)
    for _ in range(3):
        rt.converse(modelId=LLAMA, messages=MSG, inferenceConfig={"maxTokens": 1})
    with pytest.raises(ClientError) as e:
        rt.converse(modelId=LLAMA, messages=MSG, inferenceConfig={"maxTokens": 1})
    assert e.value.response["Error"]["Code"] == "ThrottlingException"
    assert e.value.response["Error"]["Message"] == "Too many requests, please wait before trying again."
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_monthly_budget_refuses_before_work(fresh):
    s = fresh("--monthly-budget", "0.0000001")
    rt = client(s)
    rt.converse(modelId=LLAMA, messages=MSG, inferenceConfig={"maxTokens": 20})
    with pytest.raises(ClientError) as e:
        rt.converse(modelId=LLAMA, messages=MSG, inferenceConfig={"maxTokens": 20})
    assert e.value.response["Error"]["Code"] == "ServiceQuotaExceededException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_kill_9_keeps_every_completed_request(fresh, tmp_path):
    data = tmp_path / "crash"
    s = fresh(data=data)
    rt = client(s)
    done, stop = [], threading.Event()

    def load():
        while not stop.is_set():
            try:
                r = rt.converse(modelId=LLAMA, messages=MSG, inferenceConfig={"maxTokens": 8})
                done.append(r["ResponseMetadata"]["RequestId"])
            except Exception:
                return

    threads = [threading.Thread(target=load) for _ in range(6)]
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while len(done) < 40 and time.time() < deadline:
        time.sleep(0.05)
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    stop.set()
    for t in threads:
        t.join(30)
    completed = set(done)
    assert len(completed) >= 20
    db = sqlite3.connect(data / "usage.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    s2 = fresh(data=data)
    records = {r["requestId"] for r in usage(s2, records="true")["records"]}
    assert completed <= records
    out = subprocess.run(["sqlite3", str(data / "basalt.db"), "PRAGMA integrity_check"],
                         capture_output=True, text=True)
    assert out.stdout.strip() == "ok"


def test_metrics_endpoint(server, runtime):
    runtime.converse(modelId="anthropic.claude-v2", messages=MSG, inferenceConfig={"maxTokens": 2})
    with pytest.raises(ClientError):
        runtime.converse(modelId="anthropic.claude-v2", messages=MSG,
                         inferenceConfig={"maxTokens": 2, "temperature": 5})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    assert 'bedrock_invocations_total{model_id="anthropic.claude-v2"}' in text
    assert "bedrock_output_token_count_total" in text
    assert "bedrock_invocation_latency_ms_bucket" in text
    assert "basalt_engine_total_slots" in text
    import re
    kv = re.search(r'basalt_engine_kv_cache_used_ratio\{model="tinystories.stories-260k-v1:0"\} ([0-9.e+-]+)', text)
    assert kv and 0 < float(kv.group(1)) <= 1, text


def test_invocation_logging(fresh):
    s = fresh()
    ctl = client(s, "bedrock")
    assert "loggingConfig" not in ctl.get_model_invocation_logging_configuration()
    cfg = {"s3Config": {"bucketName": "local"}, "textDataDeliveryEnabled": True}
    ctl.put_model_invocation_logging_configuration(loggingConfig=cfg)
    got = ctl.get_model_invocation_logging_configuration()["loggingConfig"]
    assert got["s3Config"]["bucketName"] == "local"
    r = client(s).converse(modelId=LLAMA, messages=MSG, inferenceConfig={"maxTokens": 3})
    rid = r["ResponseMetadata"]["RequestId"]
    # Per account: <data-dir>/invocation-logs/<account>/s3/<bucket>/<prefix>/.
    [path] = (s.data_dir / "invocation-logs").glob("*/s3/local/model-invocations.jsonl")
    log = path.read_text().splitlines()
    entry = [json.loads(l) for l in log if rid in l][0]
    assert entry["modelId"] == LLAMA and entry["operation"] == "Converse"
    assert entry["accountId"] == path.parts[-4]
    assert entry["schemaType"] == "ModelInvocationLog"
    ctl.delete_model_invocation_logging_configuration()
    client(s).converse(modelId=LLAMA, messages=MSG, inferenceConfig={"maxTokens": 3})
    assert len(path.read_text().splitlines()) == len(log)


def test_crash_mid_generation_is_billed(fresh, tmp_path):
    data = tmp_path / "midcrash"
    s = fresh("--usage-checkpoint-ms", "5", "--threads", "1", data=data)
    conn, r, rid = open_stream(s, 480)
    r.read1(200)
    time.sleep(0.02)
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    conn.close()
    s2 = fresh(data=data)
    rec = [x for x in usage(s2, records="true")["records"] if x["requestId"] == rid]
    assert rec, "a crash must not lose a running invocation's usage"
    assert rec[0]["outputTokens"] > 0 and rec[0]["inputTokens"] > 0
    assert rec[0]["outcome"] in ("interrupted", "success")
