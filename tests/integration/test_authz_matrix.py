"""The authorization matrix (issue 7): every endpoint and operation against every kind of
caller, with the expected answer of each cell written down below. A cell is the HTTP status;
a 403 is further checked to be an authentication failure (anonymous, deactivated and expired
keys) or an AccessDeniedException (everyone else)."""
import base64
import http.client
import json
import subprocess
import time

import pytest

from conftest import BINARY, BasaltServer, admin_cli

MODEL = "anthropic.claude-v2"  # an alias of the stories260K entry; policies name it
CANONICAL = "tinystories.stories-260k-v1:0"    # the entry behind the alias
MSG = [{"role": "user", "content": [{"text": "Once upon a time"}]}]
FORM = base64.b64encode(json.dumps({"companyName": "Basalt test",
                                    "intendedUsers": "0"}).encode()).decode()

# Callers, in the column order of EXPECTED.
CALLERS = ["anon", "other", "inactive", "expired", "readonly", "invoke", "permodel",
           "region", "region_west", "full", "admin"]
AUTH_FAILURES = {"anon", "inactive", "expired"}

# (name, method, path, body); the runtime rows come first: CreateAgreement later grants the
# other account access to the model.
OPS = [
    ("InvokeModel", "POST", f"/model/{MODEL}/invoke",
     {"prompt": "\n\nHuman: hi\n\nAssistant:", "max_tokens_to_sample": 1}),
    ("InvokeModelWithResponseStream", "POST", f"/model/{MODEL}/invoke-with-response-stream",
     {"prompt": "\n\nHuman: hi\n\nAssistant:", "max_tokens_to_sample": 1}),
    ("Converse", "POST", f"/model/{MODEL}/converse",
     {"messages": MSG, "inferenceConfig": {"maxTokens": 1}}),
    ("ConverseStream", "POST", f"/model/{MODEL}/converse-stream",
     {"messages": MSG, "inferenceConfig": {"maxTokens": 1}}),
    ("CountTokens", "POST", f"/model/{MODEL}/count-tokens",
     {"input": {"converse": {"messages": MSG}}}),
    ("ListFoundationModels", "GET", "/foundation-models", None),
    ("GetFoundationModel", "GET", f"/foundation-models/{CANONICAL}", None),
    ("GetFoundationModelAvailability", "GET", f"/foundation-model-availability/{CANONICAL}",
     None),
    ("ListFoundationModelAgreementOffers", "GET",
     f"/list-foundation-model-agreement-offers/{CANONICAL}", None),
    ("ListInferenceProfiles", "GET", "/inference-profiles", None),
    ("GetInferenceProfile", "GET", f"/inference-profiles/us.{CANONICAL}", None),
    ("PutUseCaseForModelAccess", "POST", "/use-case-for-model-access", {"formData": FORM}),
    ("GetUseCaseForModelAccess", "GET", "/use-case-for-model-access", None),
    ("CreateFoundationModelAgreement", "POST", "/create-foundation-model-agreement",
     {"modelId": CANONICAL, "offerToken": "basalt-offer-" + CANONICAL}),
    ("GetModelInvocationLoggingConfiguration", "GET", "/logging/modelinvocations", None),
    ("PutModelInvocationLoggingConfiguration", "PUT", "/logging/modelinvocations",
     {"loggingConfig": {"s3Config": {"bucketName": "matrix-bucket"}}}),
    ("DeleteModelInvocationLoggingConfiguration", "DELETE", "/logging/modelinvocations", None),
    ("UsageReport", "GET", "/basalt/usage", None),
    ("AdminListAccounts", "GET", "/basalt/admin/accounts", None),
    ("AdminListUsers", "GET", "/basalt/admin/users", None),
    ("AdminCreateUser", "POST", "/basalt/admin/users", {"name": "{caller}-made", "policies": []}),
    ("AdminListAccessKeys", "GET", "/basalt/admin/access-keys", None),
    ("AdminCreateApiKey", "POST", "/basalt/admin/api-keys", {}),
    ("AdminListModelAccess", "GET", "/basalt/admin/model-access", None),
    ("AdminListApiKeys", "GET", "/basalt/admin/api-keys", None),
    ("AdminListPolicies", "GET", "/basalt/admin/policies", None),
    ("AdminListModelAccessRequests", "GET", "/basalt/admin/model-access-requests", None),
]

# Expected status per operation, one per caller in CALLERS order:
#   anon other inact expir  ro   inv  model region west full admin
A = 403  # short-hand for a refusal
EXPECTED = {
    "InvokeModel":                         (A, A, A, A, A, 200, 200, A, 200, 200, 200),
    "InvokeModelWithResponseStream":       (A, A, A, A, A, 200, 200, A, 200, 200, 200),
    "Converse":                            (A, A, A, A, A, 200, 200, A, 200, 200, 200),
    "ConverseStream":                      (A, A, A, A, A, 200, 200, A, 200, 200, 200),
    "CountTokens":                         (A, A, A, A, A, 200, A, A, 200, 200, 200),
    "ListFoundationModels":                (A, 200, A, A, 200, 200, A, 200, 200, 200, 200),
    "GetFoundationModel":                  (A, 200, A, A, 200, 200, A, 200, 200, 200, 200),
    "GetFoundationModelAvailability":      (A, 200, A, A, 200, A, A, 200, 200, 200, 200),
    "ListFoundationModelAgreementOffers":  (A, 200, A, A, 200, A, A, 200, 200, 200, 200),
    "ListInferenceProfiles":               (A, 200, A, A, 200, A, A, 200, 200, 200, 200),
    "GetInferenceProfile":                 (A, 200, A, A, 200, A, A, 200, 200, 200, 200),
    "PutUseCaseForModelAccess":            (A, 201, A, A, A, A, A, 201, 201, 201, 201),
    "GetUseCaseForModelAccess":            (A, 200, A, A, 200, A, A, 200, 200, 200, 200),
    "CreateFoundationModelAgreement":      (A, 202, A, A, A, A, A, 202, 202, 202, 202),
    "GetModelInvocationLoggingConfiguration":
                                           (A, 200, A, A, 200, A, A, 200, 200, 200, 200),
    "PutModelInvocationLoggingConfiguration":
                                           (A, 200, A, A, A, A, A, 200, 200, 200, 200),
    "DeleteModelInvocationLoggingConfiguration":
                                           (A, 200, A, A, A, A, A, 200, 200, 200, 200),
    # Built-in policies show a user their own usage; the custom ones here do not allow it.
    "UsageReport":                         (A, 200, A, A, 200, 200, A, A, A, 200, 200),
    "AdminListAccounts":                   (A, A, A, A, A, A, A, A, A, A, 200),
    "AdminListUsers":                      (A, A, A, A, A, A, A, A, A, A, 200),
    "AdminCreateUser":                     (A, A, A, A, A, A, A, A, A, A, 200),
    "AdminListAccessKeys":                 (A, A, A, A, A, A, A, A, A, A, 200),
    "AdminCreateApiKey":                   (A, A, A, A, A, A, A, A, A, A, 200),
    "AdminListModelAccess":                (A, A, A, A, A, A, A, A, A, A, 200),
    "AdminListApiKeys":                    (A, A, A, A, A, A, A, A, A, A, 200),
    "AdminListPolicies":                   (A, A, A, A, A, A, A, A, A, A, 200),
    "AdminListModelAccessRequests":        (A, A, A, A, A, A, A, A, A, A, 200),
}


cli = admin_cli


def put_policy(server, account, name, statements):
    path = server.data_dir / f"{name}.json"
    path.write_text(json.dumps({"Version": "2012-10-17", "Statement": statements}))
    cli(server, "put-policy", "--account", account, name, str(path))


def user_with_key(server, account, name, *policies):
    args = ["create-user", "--account", account, name]
    for p in policies:
        args += ["--policy", p]
    user = cli(server, *args)["User"]
    key = cli(server, "create-access-key", "--user", user["UserId"])["AccessKey"]
    return {"user": user["UserId"], "key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


def send(server, caller, method, path, body):
    data = json.dumps(body).encode() if body is not None else b""
    headers = {"Content-Type": "application/json"}
    if caller.get("bearer"):
        headers["Authorization"] = "Bearer " + caller["bearer"]
    elif caller.get("key"):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        req = AWSRequest(method=method, url=server.url + path, data=data, headers=headers)
        SigV4Auth(Credentials(caller["key"], caller["secret"]), "bedrock",
                  caller.get("region", "us-east-1")).add_auth(req)
        headers = dict(req.headers.items())
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    raw = r.read()
    return r.status, r.getheader("x-amzn-ErrorType", ""), raw


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    s = BasaltServer(tmp_path_factory.mktemp("matrix"),
                     extra_args=("--regions", "us-east-1,us-west-2"))
    try:
        op = next(a["AccountId"] for a in cli(s, "list-accounts")["Accounts"]
                  if a["Name"] == "admin")
        other_acct = cli(s, "create-account", "other")["Account"]["AccountId"]
        put_policy(s, op, "OnlyThisModel", [
            {"Effect": "Allow", "Action": "bedrock:InvokeModel*",
             "Resource": f"arn:aws:bedrock:*::foundation-model/{MODEL}"}])
        put_policy(s, op, "NotInUsEast1", [
            {"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"},
            {"Effect": "Deny", "Action": ["bedrock:InvokeModel*", "bedrock:CountTokens"],
             "Resource": "arn:aws:bedrock:us-east-1::foundation-model/*"}])
        callers = {"anon": {}}
        callers["other"] = user_with_key(s, other_acct, "outsider", "AmazonBedrockFullAccess")
        callers["inactive"] = user_with_key(s, op, "inactive", "AmazonBedrockFullAccess")
        cli(s, "deactivate-access-key", callers["inactive"]["key"])
        holder = user_with_key(s, op, "expiring", "AmazonBedrockFullAccess")
        tok = cli(s, "create-short-term-api-key", "--access-key", holder["key"],
                  "--expires-in", "1")
        callers["expired"] = {"bearer": tok["Token"]}
        callers["readonly"] = user_with_key(s, op, "reader", "AmazonBedrockReadOnly")
        callers["invoke"] = user_with_key(s, op, "invoker", "BasaltInvokeOnly")
        callers["permodel"] = user_with_key(s, op, "permodel", "OnlyThisModel")
        callers["region"] = user_with_key(s, op, "regional", "NotInUsEast1")
        callers["region_west"] = dict(callers["region"], region="us-west-2")
        callers["full"] = user_with_key(s, op, "fulluser", "AmazonBedrockFullAccess")
        callers["admin"] = {"key": s.env["AWS_ACCESS_KEY_ID"],
                            "secret": s.env["AWS_SECRET_ACCESS_KEY"]}
        # The use-case form exists in both accounts, so GetUseCase answers 200 where allowed.
        for who in ("admin", "other"):
            st, _, raw = send(s, callers[who], "POST", "/use-case-for-model-access",
                              {"formData": FORM})
            assert st == 201, raw
        time.sleep(2.5)  # the short-term key expires (its times are whole seconds)
        yield s, callers
    finally:
        s.stop()


def test_matrix_is_complete():
    assert set(EXPECTED) == {name for name, *_ in OPS}
    assert all(len(row) == len(CALLERS) for row in EXPECTED.values())


def test_authorization_matrix(world):
    s, callers = world
    wrong = []
    for name, method, path, body in OPS:
        for caller, want in zip(CALLERS, EXPECTED[name]):
            b = json.loads(json.dumps(body).replace("{caller}", caller)) if body else body
            st, etype, raw = send(s, callers[caller], method, path, b)
            ok = st == want
            if ok and st == 403:
                auth = etype in ("MissingAuthenticationTokenException",
                                 "UnrecognizedClientException", "ExpiredTokenException",
                                 "InvalidSignatureException", "IncompleteSignatureException")
                ok = auth if caller in AUTH_FAILURES else etype == "AccessDeniedException"
            if not ok:
                wrong.append(f"{name} as {caller}: want {want}, got {st} {etype} "
                             f"{raw[:160]!r}")
    assert not wrong, "\n".join(wrong)
    assert s.alive()
    assert "unhandled exception" not in s.log_text()
