"""Bad input gets Bedrock's error shape and the server keeps serving."""
import http.client
import json
import socket
import time
import urllib.parse

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError


def signed(server, method, path, body=b"", headers=None, secret=None, region="us-east-1"):
    creds = Credentials(server.env["AWS_ACCESS_KEY_ID"],
                        secret or server.env["AWS_SECRET_ACCESS_KEY"])
    req = AWSRequest(method=method, url=server.url + path, data=body,
                     headers={"Content-Type": "application/json", **(headers or {})})
    SigV4Auth(creds, "bedrock", region).add_auth(req)
    return dict(req.headers.items())


def raw(server, method, path, body=b"", headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def call(server, path, body, **kw):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    h = signed(server, "POST", path, body, **kw)
    return raw(server, "POST", path, body, h)


def assert_error(resp, status, etype, message_part=None):
    st, headers, body = resp
    assert st == status, (st, body)
    assert headers["x-amzn-errortype"] == etype
    assert headers["content-type"] == "application/json"
    assert len(headers["x-amzn-requestid"]) == 36
    assert "date" in headers
    msg = json.loads(body)["message"]
    if message_part:
        assert message_part in msg, msg
    return msg


INVOKE = "/model/anthropic.claude-v2/invoke"


def test_malformed_json(server):
    assert_error(call(server, INVOKE, b"{not json"), 400, "ValidationException",
                 "Malformed input request")


def test_wrong_field_types(server):
    assert_error(call(server, INVOKE, {"prompt": 3, "max_tokens_to_sample": 5}), 400,
                 "ValidationException", "#/prompt: expected type: String, found: Integer")
    assert_error(call(server, INVOKE, {"prompt": "\n\nHuman: hi\n\nAssistant:",
                                       "max_tokens_to_sample": "5"}), 400,
                 "ValidationException", "#/max_tokens_to_sample: expected type: Integer")
    assert_error(call(server, INVOKE, {"prompt": "\n\nHuman: hi\n\nAssistant:",
                                       "max_tokens_to_sample": 5, "temperature": 1.5}), 400,
                 "ValidationException", "#/temperature: 1.5 is not less or equal to 1")
    assert_error(call(server, INVOKE, {"prompt": "\n\nHuman: hi\n\nAssistant:",
                                       "max_tokens_to_sample": 5, "bogus": 1}), 400,
                 "ValidationException", "extraneous key [bogus] is not permitted")
    assert_error(call(server, INVOKE, {"max_tokens_to_sample": 5}), 400,
                 "ValidationException", "required key [prompt] not found")
    assert_error(call(server, INVOKE, {"prompt": "hi", "max_tokens_to_sample": 5}), 400,
                 "ValidationException", "Human:")


def test_unknown_model(server, runtime):
    with pytest.raises(ClientError) as e:
        runtime.invoke_model(modelId="anthropic.claude-nope", body=b"{}")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"] == "The provided model identifier is invalid."
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        runtime.converse(modelId="nope.nope", messages=[{"role": "user", "content": [{"text": "x"}]}])
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_converse_validation(runtime):
    with pytest.raises(ClientError) as e:
        runtime.converse(modelId="anthropic.claude-v2",
                         messages=[{"role": "assistant", "content": [{"text": "x"}]}])
    assert "must start with a user message" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        runtime.converse(modelId="anthropic.claude-v2",
                         messages=[{"role": "user", "content": [{"text": "x"}]},
                                   {"role": "user", "content": [{"text": "y"}]}])
    assert "alternate" in e.value.response["Error"]["Message"]


def test_oversized_body(server):
    body = b"x" * (25_000_000 + 2 * 1024 * 1024)
    st, headers, data = raw(server, "POST", INVOKE, body, {"Content-Type": "application/json"})
    assert st == 400 and headers["x-amzn-errortype"] == "ValidationException"
    assert "25000000" in json.loads(data)["message"]


def test_missing_auth(server):
    assert_error(raw(server, "POST", INVOKE, b"{}", {"Content-Type": "application/json"}), 403,
                 "MissingAuthenticationTokenException", "Missing Authentication Token")


def test_bad_signature(server):
    msg = assert_error(call(server, INVOKE, {"prompt": "x"}, secret="wrong" * 8), 403,
                       "InvalidSignatureException")
    assert msg.startswith("The request signature we calculated does not match")


def test_unknown_key(server, runtime):
    import boto3
    bad = boto3.client("bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
                       aws_access_key_id="AKIAXXXXXXXXXXXXXXXX", aws_secret_access_key="x" * 40)
    with pytest.raises(ClientError) as e:
        bad.converse(modelId="anthropic.claude-v2",
                     messages=[{"role": "user", "content": [{"text": "x"}]}])
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert e.value.response["Error"]["Message"] == \
        "The security token included in the request is invalid."


def test_expired_signature(server):
    from unittest import mock
    import datetime
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    with mock.patch("botocore.auth.get_current_datetime", return_value=past):
        h = signed(server, "POST", INVOKE, b"{}")
    msg = assert_error(raw(server, "POST", INVOKE, b"{}", h), 403, "InvalidSignatureException")
    assert msg.startswith("Signature expired:") and "- 5 min.)" in msg
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=20)
    with mock.patch("botocore.auth.get_current_datetime", return_value=future):
        h = signed(server, "POST", INVOKE, b"{}")
    msg = assert_error(raw(server, "POST", INVOKE, b"{}", h), 403, "InvalidSignatureException")
    assert msg.startswith("Signature not yet current:") and "+ 5 min.)" in msg


def test_client_gone_mid_stream_keeps_serving(server, runtime):
    body = json.dumps({"prompt": "Once upon a time", "max_gen_len": 400}).encode()
    path = "/model/meta.llama3-8b-instruct-v1:0/invoke-with-response-stream"
    h = signed(server, "POST", path, body)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", path, body=body, headers=h)
    r = conn.getresponse()
    assert r.status == 200
    assert r.read1(16)  # the stream has started
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    deadline = time.time() + 10
    while "outcome=client_gone" not in server.log_text() and time.time() < deadline:
        time.sleep(0.05)
    assert "outcome=client_gone" in server.log_text()
    out = runtime.converse(modelId="anthropic.claude-v2", inferenceConfig={"maxTokens": 3},
                           messages=[{"role": "user", "content": [{"text": "Once"}]}])
    assert out["usage"]["outputTokens"] == 3
    assert server.alive()


def test_unknown_route_and_health(server):
    st, headers, body = raw(server, "GET", "/health")
    assert st == 200 and json.loads(body)["status"] == "ok"
    h = signed(server, "GET", "/nothing-here")
    assert_error(raw(server, "GET", "/nothing-here", b"", h), 404, "ResourceNotFoundException")


def test_garbage_http_keeps_serving(server, runtime):
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"\x16\x03\x01garbage that is not http\r\n\r\n")
    s.settimeout(5)
    try:
        s.recv(1024)
    except OSError:
        pass
    s.close()
    out = runtime.converse(modelId="anthropic.claude-v2", inferenceConfig={"maxTokens": 2},
                           messages=[{"role": "user", "content": [{"text": "Once"}]}])
    assert out["usage"]["outputTokens"] == 2
