#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ (committed; rerun after changing it).

Sources: SigV4 requests and short-term tokens from tests/fixtures/sigv4/vectors.json, Bedrock
bodies of every family, event-stream frames, HTTP/1.1 requests, and HTTP/2 frame sequences
built here by hand (HPACK literals without Huffman coding, so no library is needed). Each
target's input format is described at the top of its .cc file.
"""
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- sigv4 -------------------------------------------------------------------------------
vectors = json.load(open(os.path.join(ROOT, "tests/fixtures/sigv4/vectors.json")))
for v in vectors["sigv4"]:
    headers = "".join(f"{k}:{val}\n" for k, val in v["headers"])
    req = f"{v['method']} {v['raw_target']}\n{v['authority']}\n{headers}\n{v['body']}"
    write("sigv4", f"request-{v['name']}", b"\x01" + req.encode())
    auth = dict(v["headers"]).get("authorization", "")
    if auth:
        write("sigv4", f"header-{v['name']}", b"\x00" + auth.encode())
for i, t in enumerate(vectors["short_term_tokens"]):
    write("sigv4", f"token-{i}", b"\x02" + t["token"].encode())
write("sigv4", "blocks-query", b"\x03Action=Call&X-Amz-Date=20250130T203827Z&a=%2F&b=&c")
write("sigv4", "blocks-path", b"\x03/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A%3Afoundation-model%2Fx/invoke")

# --- event_stream ------------------------------------------------------------------------


def frame(headers, payload):
    hb = b""
    for name, value in headers:
        n, v = name.encode(), value.encode()
        hb += bytes([len(n)]) + n + b"\x07" + struct.pack(">H", len(v)) + v
    total = 16 + len(hb) + len(payload)
    prelude = struct.pack(">II", total, len(hb))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    msg = prelude + hb + payload
    return msg + struct.pack(">I", zlib.crc32(msg))


ev = frame([(":event-type", "chunk"), (":content-type", "application/json"),
            (":message-type", "event")], b'{"bytes":"eyJ0eXBlIjoibWVzc2FnZV9zdGFydCJ9"}')
exc = frame([(":exception-type", "throttlingException"), (":content-type", "application/json"),
             (":message-type", "exception")], b'{"message":"Too many requests"}')
delta = frame([(":event-type", "contentBlockDelta"), (":content-type", "application/json"),
               (":message-type", "event")], b'{"contentBlockIndex":0,"delta":{"text":"Hi"}}')
write("event_stream", "decode-chunk", b"\x00" + ev)
write("event_stream", "decode-stream", b"\x00" + ev + delta + exc)
write("event_stream", "decode-empty", b"\x00" + frame([], b""))
# A frame with every header type (bool, byte, short, int, long, bytes, string, timestamp, uuid).
typed = (b"\x01a\x00" + b"\x01b\x01" + b"\x01c\x02\xff" + b"\x01d\x03\x80\x00" +
         b"\x01e\x04\x00\x00\x00\x07" + b"\x01f\x05" + b"\x00" * 8 +
         b"\x01g\x06\x00\x02\x01\x02" + b"\x01h\x07\x00\x01x" + b"\x01i\x08" + b"\x00" * 8 +
         b"\x01j\x09" + bytes(range(16)))
pre = struct.pack(">II", 16 + len(typed) + 2, len(typed))
pre += struct.pack(">I", zlib.crc32(pre))
m = pre + typed + b"{}"
write("event_stream", "decode-typed", b"\x00" + m + struct.pack(">I", zlib.crc32(m)))


def roundtrip_input(headers, payload):
    out = bytes([len(headers)])
    for name, value in headers:
        n, v = name.encode(), value.encode()
        out += bytes([len(n)]) + n + struct.pack(">H", len(v)) + v
    return b"\x01" + out + payload


write("event_stream", "roundtrip-event", roundtrip_input(
    [(":event-type", "chunk"), (":content-type", "application/json"), (":message-type", "event")],
    b'{"bytes":"e30="}'))
write("event_stream", "roundtrip-none", roundtrip_input([], b"payload"))

# --- request_body ------------------------------------------------------------------------
bodies = {
    0: [{"prompt": "\n\nHuman: Hello\n\nAssistant:", "max_tokens_to_sample": 50,
         "temperature": 0.5, "top_k": 250, "top_p": 1, "stop_sequences": ["\n\nHuman:"]}],
    1: [{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
         "system": "You are kind.", "messages": [{"role": "user", "content": "Hi"}]},
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
         "messages": [{"role": "user", "content": [{"type": "text", "text": "weather?"}]},
                      {"role": "assistant", "content": [{"type": "tool_use", "id": "t1",
                       "name": "get_weather", "input": {"city": "Paris"}}]},
                      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                       "content": "sunny"}]}],
         "tools": [{"name": "get_weather", "description": "d",
                    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
         "tool_choice": {"type": "auto"}, "stop_sequences": ["END"], "top_k": 5}],
    2: [{"inputText": "Hello", "textGenerationConfig": {"maxTokenCount": 50, "temperature": 0.2,
                                                         "topP": 0.9, "stopSequences": ["|"]}}],
    3: [{"prompt": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
         "max_gen_len": 64, "temperature": 0.5, "top_p": 0.9}],
    4: [{"prompt": "<s>[INST] Hi [/INST]", "max_tokens": 64, "stop": ["</s>"], "temperature": 0.5,
         "top_p": 0.9, "top_k": 50}],
    5: [{"messages": [{"role": "user", "content": [{"text": "Hi"}]}]},
        {"messages": [{"role": "user", "content": [{"text": "weather?"}]},
                      {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1",
                       "name": "get_weather", "input": {"city": "Paris"}}}]},
                      {"role": "user", "content": [{"toolResult": {"toolUseId": "t1",
                       "content": [{"text": "sunny"}], "status": "success"}}]}],
         "system": [{"text": "Be brief."}],
         "inferenceConfig": {"maxTokens": 100, "temperature": 0.5, "topP": 0.9,
                             "stopSequences": ["END"]},
         "toolConfig": {"tools": [{"toolSpec": {"name": "get_weather", "description": "d",
                        "inputSchema": {"json": {"type": "object"}}}}],
                        "toolChoice": {"auto": {}}},
         "additionalModelRequestFields": {"top_k": 5}},
        {"messages": [{"role": "user", "content": [{"text": "A cat?"}]}],
         "outputConfig": {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {
             "name": "cat", "schema": json.dumps({
                 "$defs": {"n": {"type": "object", "properties": {
                     "v": {"type": "integer", "minimum": -3, "maximum": 250},
                     "next": {"anyOf": [{"$ref": "#/$defs/n"}, {"type": "null"}]}},
                     "required": ["v"]}},
                 "type": "object", "additionalProperties": False, "required": ["name", "tags"],
                 "properties": {"name": {"type": "string", "maxLength": 8},
                                "born": {"type": "string", "format": "date-time"},
                                "code": {"type": "string", "pattern": "^[A-Z]{2}-\\d+(x|y)?$"},
                                "tags": {"type": "array", "items": {"enum": ["a", 1, None]},
                                         "minItems": 1, "maxItems": 3},
                                "pair": {"prefixItems": [{"type": "boolean"}, {"const": {"k": [1]}}]},
                                "list": {"$ref": "#/$defs/n"},
                                "both": {"allOf": [{"properties": {"x": {"type": "number"}}},
                                                   {"properties": {"y": {"type": "null"}}}]}}})}}},
                          "effort": "low"}}],
    6: [{"prompt": "x", "max_tokens": 5, "messages": [], "stop": ["a", "b"], "temperature": 0.5}],
}
for mode, items in bodies.items():
    for i, b in enumerate(items):
        write("request_body", f"mode{mode}-{i}", bytes([mode]) + json.dumps(b).encode())

# --- api ----------------------------------------------------------------------------------
# Route indexes follow kRoutes in fuzz/api.cc.
R = {"list": 0, "by_provider": 1, "get": 2, "availability": 3, "offers": 4, "create_agreement": 5,
     "delete_agreement": 6, "put_use_case": 7, "get_use_case": 8, "profiles": 9, "profile": 10,
     "put_logging": 11, "get_logging": 12, "usage": 13, "accounts": 14, "create_account": 15,
     "users": 16, "create_user": 17, "access_keys": 18, "create_access_key": 19,
     "update_access_key": 20, "delete_access_key": 21, "api_keys": 22, "create_api_key": 23,
     "update_api_key": 24, "delete_api_key": 25, "model_access": 26, "put_model_access": 27,
     "invoke": 28, "invoke_stream": 29, "converse": 30, "converse_stream": 31, "count_tokens": 32,
     "health": 33, "metrics": 34, "raw": 35, "catalog": 36, "models": 37, "pull": 38,
     "session": 39, "sign_out": 40, "change_password": 41, "set_password": 42,
     "access_requests": 43, "policies": 44, "put_policy": 45}


def api(route, body=b"", idline=None, auth=0, authline=None):
    out = bytes([R[route], auth])
    if auth == 2:
        out += (authline or "").encode() + b"\n"
    if idline is not None:
        out += idline.encode() + b"\n"
    return out + (body if isinstance(body, bytes) else json.dumps(body).encode())


model = "anthropic.claude-3-haiku-20240307-v1:0"
write("api", "list", api("list"))
write("api", "console-catalog", api("catalog", auth=3))
write("api", "console-session", api("session", auth=3))
write("api", "console-converse", api("converse", {"messages": [
    {"role": "user", "content": [{"text": "안녕"}]}]}, idline=model, auth=3))
write("api", "console-usage", api("usage", idline="groupBy=day,model&format=csv", auth=3))
write("api", "console-change-password", api("change_password", {
    "currentPassword": "fuzz-console-password", "newPassword": "fuzz-console-password"}, auth=3))
write("api", "console-set-password", api("set_password", {"generate": True}, idline="AIDAX", auth=3))
write("api", "console-pull", api("pull", {"modelId": model}, auth=3))
write("api", "models-sigv4", api("models", auth=1))
write("api", "access-requests", api("access_requests"))
write("api", "put-policy", api("put_policy", {"document": {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"}]}}, idline="P1"))
write("api", "console-sign-out", api("sign_out", auth=3))
write("api", "list-sigv4", api("list", auth=1))
write("api", "by-provider", api("by_provider", idline="Anthropic"))
write("api", "get", api("get", idline=model))
write("api", "availability", api("availability", idline=model))
write("api", "offers", api("offers", idline=model))
write("api", "create-agreement", api("create_agreement", {"modelId": model, "offerToken": "tok"}))
write("api", "delete-agreement", api("delete_agreement", {"modelId": model}))
write("api", "put-use-case", api("put_use_case", {"formData": "eyJhIjoxfQ=="}))
write("api", "get-use-case", api("get_use_case"))
write("api", "profiles", api("profiles"))
write("api", "profile", api("profile", idline="us." + model))
write("api", "put-logging", api("put_logging", {"loggingConfig": {"textDataDeliveryEnabled": True}}))
write("api", "usage", api("usage", idline="groupBy=model&from=2025-01-01"))
write("api", "create-account", api("create_account", {"Name": "team"}))
write("api", "create-user", api("create_user", {"UserName": "bob", "Role": "user"}))
write("api", "create-access-key", api("create_access_key", {}))
write("api", "api-keys", api("api_keys", idline="userId=x"))
write("api", "put-model-access", api("put_model_access", {"modelId": model, "status": "GRANTED"}))
write("api", "invoke", api("invoke", bodies[1][0], idline=model))
write("api", "invoke-llama", api("invoke", bodies[3][0], idline="meta.llama3-8b-instruct-v1:0"))
write("api", "invoke-titan-embed", api("invoke", {"inputText": "hello", "dimensions": 256,
      "normalize": True, "embeddingTypes": ["float", "binary"]}, idline="amazon.titan-embed-text-v2:0"))
write("api", "invoke-cohere-embed", api("invoke", {"texts": ["a", "b"], "input_type": "search_query",
      "truncate": "END", "embedding_types": ["int8", "ubinary"]}, idline="cohere.embed-english-v3"))
write("api", "converse", api("converse", bodies[5][1], idline=model, auth=1))
write("api", "converse-stream", api("converse_stream", bodies[5][0], idline=model))
write("api", "converse-structured", api("converse", bodies[5][2], idline=model))
write("api", "count-tokens", api("count_tokens", {"input": {"converse": bodies[5][0]}}, idline=model))
write("api", "raw-bearer", api("list", auth=2, authline="Bearer ABSKQmVkcm9ja0FQSUtleS14LWF0LTE6eQ=="))
write("api", "raw-short-term", api("list", auth=2, authline="Bearer " + vectors["short_term_tokens"][0]["token"]))
write("api", "raw-sigv4", api("list", auth=2, authline=dict(vectors["sigv4"][0]["headers"])["authorization"]))
write("api", "raw-route", api("raw", idline="POST /model/" + model.replace(":", "%3A") + "/converse",
                              body=json.dumps(bodies[5][0]).encode()))

# --- http1 ---------------------------------------------------------------------------------
write("http1", "get", "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
write("http1", "post", "POST /model/m/invoke HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 13\r\n\r\n{\"prompt\":1}\n")
write("http1", "chunked", "POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\n\r\n")
write("http1", "keepalive", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /empty HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
write("http1", "expect", "POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc")
write("http1", "http10", "GET / HTTP/1.0\r\n\r\n")
write("http1", "upgrade-h2c", "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")

# --- http2 (frames after the client preface) ----------------------------------------------


def h2frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def hpack_str(s):
    b = s.encode()
    assert len(b) < 127
    return bytes([len(b)]) + b


def hpack(headers):
    # Literal header field without indexing, new name (0x00), no Huffman.
    return b"".join(b"\x00" + hpack_str(k) + hpack_str(v) for k, v in headers)


SETTINGS = h2frame(4, 0, 0, b"")
SETTINGS_ACK = h2frame(4, 1, 0, b"")


def h2req(stream, method, path, body=b"", extra=()):
    hs = [(":method", method), (":scheme", "http"), (":path", path), (":authority", "localhost")]
    hs += list(extra)
    end = 0x1 if not body else 0
    out = h2frame(1, 0x4 | end, stream, hpack(hs))
    if body:
        out += h2frame(0, 0x1, stream, body)
    return out


GOAWAY = h2frame(7, 0, 0, struct.pack(">II", 0, 0))
write("http2", "get", SETTINGS + h2req(1, "GET", "/health") + GOAWAY)
write("http2", "post", SETTINGS + h2req(1, "POST", "/model/m/invoke", b'{"prompt":"hi"}',
      [("content-type", "application/json"), ("content-length", "15")]) + SETTINGS_ACK)
write("http2", "stream", SETTINGS + h2req(1, "POST", "/stream", b"x") + h2req(3, "GET", "/empty"))
write("http2", "window-ping", SETTINGS + h2frame(8, 0, 0, struct.pack(">I", 65535)) +
      h2frame(6, 0, 0, b"12345678") + h2req(1, "GET", "/a"))
write("http2", "rst", SETTINGS + h2req(1, "POST", "/stream", b"") + h2frame(3, 0, 1, struct.pack(">I", 8)))
# HEADERS + CONTINUATION, PRIORITY, and a padded DATA frame.
block = hpack([(":method", "POST"), (":scheme", "http"), (":path", "/a"), (":authority", "h")])
write("http2", "continuation", SETTINGS + h2frame(1, 0, 1, block[:10]) + h2frame(9, 0x4, 1, block[10:]) +
      h2frame(2, 0, 1, struct.pack(">IB", 0, 16)) + h2frame(0, 0x9, 1, b"\x03abc\x00\x00\x00"))
write("http2", "settings-values", h2frame(4, 0, 0, struct.pack(">HI", 1, 0) + struct.pack(">HI", 3, 1) +
      struct.pack(">HI", 4, 1) + struct.pack(">HI", 5, 16384)) + h2req(1, "GET", "/stream"))
print("seeds written under", os.path.join(HERE, "corpus"))
