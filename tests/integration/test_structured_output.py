"""Structured output (Converse outputConfig.textFormat json_schema) with boto3: every answer a
tiny model finishes parses and validates against its schema, over many seeds and
temperatures, for Converse and ConverseStream, on stories260K and the random-weight 32k-vocab
llama; schemas the grammar cannot enforce are a ValidationException.

The validator below is written here, independently of the server's (python3-jsonschema is not
in the build root): it covers the keywords these schemas use."""
import concurrent.futures
import datetime
import json
import re
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ROOT

STORIES = "tinystories.stories-260k-v1:0"
TINY_RANDOM = "test.llama-2-tiny-random-v1:0"
RUNS = 30
TEMPERATURES = (0.2, 0.6, 1.0)


# The Debian botocore predates outputConfig: load the current bedrock-runtime service model
# (../shared/clients/botocore-data) ahead of the packaged one, as AWS_DATA_PATH would.
DATA_PATH = ROOT.parent / "shared" / "clients" / "botocore-data"


@pytest.fixture(scope="module")
def runtime(server):
    import boto3
    import botocore.session
    from botocore.config import Config
    core = botocore.session.get_session()
    core.get_component("data_loader").search_paths.insert(0, str(DATA_PATH))
    return boto3.Session(botocore_session=core).client(
        "bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
        aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}, read_timeout=120, max_pool_connections=16))


# ---- an independent JSON Schema check (the subset these tests use) -------------------------

def _type_ok(value, t):
    return {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }[t](value)


def _resolve(root, ref):
    assert ref.startswith("#/"), ref
    node = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def check(schema, value, root=None, at="$"):
    """Raises AssertionError naming the path when `value` does not fit `schema`."""
    root = schema if root is None else root
    if schema is True:
        return
    if "$ref" in schema:
        check(_resolve(root, schema["$ref"]), value, root, at)
    if "const" in schema:
        assert value == schema["const"] and type(value) == type(schema["const"]), f"{at}: const"
    if "enum" in schema:
        assert any(value == e and type(value) == type(e) for e in schema["enum"]), f"{at}: enum"
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        assert any(_type_ok(value, t) for t in types), f"{at}: type {types} vs {value!r}"
    if "anyOf" in schema:
        assert sum(_fits(s, value, root) for s in schema["anyOf"]) >= 1, f"{at}: anyOf"
    if "oneOf" in schema:
        assert sum(_fits(s, value, root) for s in schema["oneOf"]) == 1, f"{at}: oneOf"
    for s in schema.get("allOf", []):
        check(s, value, root, at)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            assert name in value, f"{at}: missing {name}"
        for k, v in value.items():
            if k in props:
                check(props[k], v, root, f"{at}.{k}")
            elif schema.get("additionalProperties") is False:
                raise AssertionError(f"{at}: extra property {k}")
            elif isinstance(schema.get("additionalProperties"), dict):
                check(schema["additionalProperties"], v, root, f"{at}.{k}")
    if isinstance(value, list):
        assert len(value) >= schema.get("minItems", 0), f"{at}: minItems"
        assert len(value) <= schema.get("maxItems", 1 << 30), f"{at}: maxItems"
        prefix = schema.get("prefixItems", [])
        for i, item in enumerate(value):
            if i < len(prefix):
                check(prefix[i], item, root, f"{at}[{i}]")
            elif "items" in schema:
                assert schema["items"] is not False, f"{at}: items false"
                check(schema["items"], item, root, f"{at}[{i}]")
    if isinstance(value, str):
        assert len(value) >= schema.get("minLength", 0), f"{at}: minLength"
        assert len(value) <= schema.get("maxLength", 1 << 30), f"{at}: maxLength"
        if "pattern" in schema:
            assert re.search(schema["pattern"], value), f"{at}: pattern {value!r}"
        fmt = schema.get("format")
        if fmt == "date":
            datetime.date.fromisoformat(value)
            assert re.fullmatch(r"\d{4}-\d\d-\d\d", value), f"{at}: date"
        elif fmt == "uuid":
            assert str(uuid.UUID(value)) == value.lower(), f"{at}: uuid"
        elif fmt == "email":
            assert re.fullmatch(r"[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}",
                                value), f"{at}: email {value!r}"
    if _type_ok(value, "number"):
        assert value >= schema.get("minimum", float("-inf")), f"{at}: minimum"
        assert value <= schema.get("maximum", float("inf")), f"{at}: maximum"


def _fits(schema, value, root):
    try:
        check(schema, value, root)
        return True
    except (AssertionError, ValueError):
        return False


def test_the_checker_can_fail():
    schema = SCHEMAS["person"]
    check(schema, {"name": "Ann", "age": 30, "mood": "happy"})
    for bad in ({"name": "Ann"}, {"name": "Ann", "age": 300, "mood": "happy"},
                {"name": "A" * 20, "age": 3, "mood": "happy"}, {"name": "Ann", "age": 3, "mood": "x"},
                {"name": "Ann", "age": 3, "mood": "sad", "extra": 1}, [1]):
        with pytest.raises(AssertionError):
            check(schema, bad)
    with pytest.raises(AssertionError):
        check(SCHEMAS["linked"], {"value": 1, "next": {"value": 10, "next": None}})


# ---- schemas -------------------------------------------------------------------------------

SCHEMAS = {
    "person": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 12},
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "mood": {"type": "string", "enum": ["happy", "sad", "sleepy"]},
            "nickname": {"type": ["string", "null"], "maxLength": 6},
        },
        "required": ["name", "age", "mood"],
        "additionalProperties": False,
    },
    "order": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "placed": {"type": "string", "format": "date"},
            "items": {
                "type": "array", "minItems": 1, "maxItems": 3,
                "items": {
                    "type": "object",
                    "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"},
                                   "qty": {"type": "integer", "minimum": 1, "maximum": 9}},
                    "required": ["sku", "qty"], "additionalProperties": False,
                },
            },
            "gift": {"type": "boolean"},
        },
        "required": ["id", "placed", "items"],
        "additionalProperties": False,
    },
    "linked": {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"value": {"type": "integer", "minimum": 0, "maximum": 9},
                               "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}},
                "required": ["value", "next"], "additionalProperties": False,
            },
        },
        "$ref": "#/$defs/node",
    },
    "shape": {
        "oneOf": [
            {"type": "object", "properties": {"kind": {"const": "circle"},
                                              "r": {"type": "integer", "minimum": 1, "maximum": 99}},
             "required": ["kind", "r"], "additionalProperties": False},
            {"type": "object", "properties": {"kind": {"const": "rect"},
                                              "size": {"type": "array", "prefixItems": [
                                                  {"type": "integer", "minimum": 1, "maximum": 99},
                                                  {"type": "integer", "minimum": 1, "maximum": 99}],
                                                  "items": False, "minItems": 2}},
             "required": ["kind", "size"], "additionalProperties": False},
        ],
    },
    "tags": {
        "type": "array",
        "items": {"enum": ["red", "green", "blue", 7, None, True]},
        "minItems": 2, "maxItems": 5,
    },
    "contact": {
        "allOf": [
            {"type": "object", "properties": {"email": {"type": "string", "format": "email"}},
             "required": ["email"]},
            {"type": "object", "properties": {"score": {"type": "number"}}, "required": ["score"]},
        ],
    },
}


def output_config(schema, name="answer"):
    return {"textFormat": {"type": "json_schema", "structure": {
        "jsonSchema": {"schema": json.dumps(schema), "name": name,
                       "description": "what to answer"}}}}


def ask(runtime, model, schema, seed, stream, max_tokens=400):
    kwargs = dict(
        modelId=model,
        messages=[{"role": "user", "content": [{"text": "Tell me about a cat."}]}],
        inferenceConfig={"maxTokens": max_tokens, "temperature": TEMPERATURES[seed % 3]},
        additionalModelRequestFields={"seed": seed},
        outputConfig=output_config(schema))
    if not stream:
        r = runtime.converse(**kwargs)
        return r["output"]["message"]["content"][0]["text"], r["stopReason"]
    r = runtime.converse_stream(**kwargs)
    text, reason = "", None
    for event in r["stream"]:
        if "contentBlockDelta" in event:
            text += event["contentBlockDelta"]["delta"]["text"]
        elif "messageStop" in event:
            reason = event["messageStop"]["stopReason"]
    return text, reason


@pytest.mark.parametrize("model", [STORIES, TINY_RANDOM])
@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_answers_validate_over_many_seeds(runtime, model, name):
    schema = SCHEMAS[name]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda seed: (seed, *ask(runtime, model, schema, seed, seed % 2 == 1)),
                                range(RUNS)))
    finished = 0
    for seed, text, reason in results:
        assert reason in ("end_turn", "max_tokens"), (seed, reason, text)
        if reason == "max_tokens":
            continue  # cut off: the partial text is returned as is
        finished += 1
        value = json.loads(text)
        try:
            check(schema, value)
        except (AssertionError, ValueError) as e:
            raise AssertionError(f"seed {seed}: {e}: {text}") from e
    # Bounded schemas finish well within the budget.
    assert finished >= RUNS * 0.9, [r for r in results if r[2] != "end_turn"][:3]


def test_budget_runs_out_mid_json(runtime):
    text, reason = ask(runtime, STORIES, SCHEMAS["order"], seed=1, stream=False, max_tokens=5)
    assert reason == "max_tokens"
    assert text.startswith("{")
    with pytest.raises(ValueError):
        json.loads(text)
    text, reason = ask(runtime, STORIES, SCHEMAS["order"], seed=1, stream=True, max_tokens=5)
    assert reason == "max_tokens" and text.startswith("{")


def test_same_seed_same_answer(runtime):
    a = ask(runtime, STORIES, SCHEMAS["person"], seed=5, stream=False)
    b = ask(runtime, STORIES, SCHEMAS["person"], seed=5, stream=True)
    assert a == b


@pytest.mark.parametrize("schema,needle", [
    ({"type": "object", "not": {"required": ["a"]}}, "keyword 'not' at '#'"),
    ({"type": "object", "properties": {"a": {"type": "number", "maximum": 3}}},
     "keyword 'maximum' at '#/properties/a'"),
    ({"type": "string", "format": "hostname"}, "keyword 'format' at '#'"),
    ({"type": "string", "pattern": "(?<=a)b"}, "keyword 'pattern' at '#'"),
    ({"$ref": "#/$defs/nope"}, "does not resolve"),
    ({"type": "array", "uniqueItems": True}, "keyword 'uniqueItems' at '#'"),
    ({"type": "object", "patternProperties": {"^a": {}}}, "keyword 'patternProperties' at '#'"),
])
def test_unsupported_schemas_are_validation_errors(runtime, schema, needle):
    with pytest.raises(ClientError) as e:
        runtime.converse(modelId=STORIES, messages=[{"role": "user", "content": [{"text": "hi"}]}],
                         outputConfig=output_config(schema))
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert needle in e.value.response["Error"]["Message"]


@pytest.mark.parametrize("config,needle", [
    ({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": "{not json"}}}},
     "not valid JSON"),
    ({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": "[1,2]"}}}},
     "must be a JSON object"),
    ({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {
        "schema": json.dumps({"type": "object", "properties": {"a": {"type": "objekt"}}})}}}},
     "unknown type 'objekt'"),
    ({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {
        "schema": "[" * 200 + "]" * 200}}}}, "nests too deeply"),
])
def test_bad_schemas_are_validation_errors(runtime, config, needle):
    with pytest.raises(ClientError) as e:
        runtime.converse(modelId=STORIES, messages=[{"role": "user", "content": [{"text": "hi"}]}],
                         outputConfig=config)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert needle in e.value.response["Error"]["Message"]


def test_wire_shape_errors(server):
    """Shapes boto3 would refuse client-side, sent raw (SigV4) to check the server's wording."""
    from conftest import signed_call
    base = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    cases = [
        ({"textFormat": {"type": "xml", "structure": {"jsonSchema": {"schema": "{}"}}}},
         "outputConfig.textFormat.type"),
        ({"textFormat": {"type": "json_schema"}}, "outputConfig.textFormat.structure"),
        ({"textFormat": {"type": "json_schema", "structure": {}}}, "exactly one member"),
        ({"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {}}}},
         "jsonSchema.schema"),
        ({"effort": "extreme"}, "outputConfig.effort"),
    ]
    for config, needle in cases:
        status, headers, body = signed_call(server, "POST", f"/model/{STORIES}/converse",
                                            {**base, "outputConfig": config})
        assert status == 400, (config, body)
        assert headers.get("x-amzn-errortype", "").startswith("ValidationException"), headers
        assert needle in body["message"], body
    # A prefilled assistant turn cannot be continued under a schema.
    prefill = {"messages": base["messages"] + [{"role": "assistant", "content": [{"text": "{"}]}],
               "outputConfig": output_config(SCHEMAS["person"])}
    status, _, body = signed_call(server, "POST", f"/model/{STORIES}/converse", prefill)
    assert status == 400 and "prefilled" in body["message"], body
