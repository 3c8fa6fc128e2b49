"""The in-memory identity cache (src/store/identity_cache.h) never outlives a change: the
server serves keys, users, policies and model access from memory, and a change made by
`basalt admin` in another process on the same data folder, or over the HTTP admin API in the
same process, takes effect on the very next request; undoing it works again at once."""
import http.client
import json
import tempfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import admin_cli, signed_call

admin = admin_cli
MODEL = "tinystories.stories-260k-v1:0"
BODY = json.dumps({"prompt": "Once upon a time", "max_gen_len": 1, "temperature": 0})
ALLOW = {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"}]}
DENY_INVOKE = {"Version": "2012-10-17",
               "Statement": [{"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"},
                             {"Effect": "Deny", "Action": "bedrock:InvokeModel",
                              "Resource": "*"}]}


@pytest.fixture(scope="module")
def tenant(server):
    """An account with model access and a user (one custom policy) holding an access key and
    a long-term API key."""
    acct = admin(server, "create-account", "cache-tenant")["Account"]["AccountId"]
    admin(server, "grant-model-access", "--account", acct, MODEL)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(ALLOW, f)
    admin(server, "put-policy", "--account", acct, "CacheInvoke", f.name)
    user = admin(server, "create-user", "--account", acct, "carol", "--policy",
                 "CacheInvoke")["User"]["UserId"]
    key = admin(server, "create-access-key", "--user", user)["AccessKey"]
    api = admin(server, "create-api-key", "--user", user)["ApiKey"]
    rt = boto3.client("bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
                      aws_access_key_id=key["AccessKeyId"],
                      aws_secret_access_key=key["SecretAccessKey"],
                      config=Config(retries={"max_attempts": 1}))
    return {"account": acct, "user": user, "key": key["AccessKeyId"],
            "secret": key["SecretAccessKey"], "api_key": api["ApiKeyId"], "token": api["Token"],
            "runtime": rt}


def invoke(t):
    """One SigV4-signed (boto3) InvokeModel; returns None on success or the error code."""
    try:
        out = t["runtime"].invoke_model(modelId=MODEL, body=BODY)
        json.loads(out["body"].read())
        return None
    except ClientError as e:
        return e.response["Error"]["Code"]


def invoke_bearer(server, token):
    """One InvokeModel with `Authorization: Bearer <token>`; returns None or x-amzn-ErrorType."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request("POST", f"/model/{MODEL}/invoke", BODY,
                 {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    conn.close()
    return None if r.status == 200 else r.getheader("x-amzn-ErrorType")


def warm(t, n=3):
    # Several calls, so everything the request reads sits in the cache before the change.
    for _ in range(n):
        assert invoke(t) is None


def test_access_key_deactivated_and_reactivated_by_cli(server, tenant):
    warm(tenant)
    admin(server, "deactivate-access-key", tenant["key"])
    assert invoke(tenant) == "UnrecognizedClientException"
    admin(server, "activate-access-key", tenant["key"])
    assert invoke(tenant) is None


def test_policy_detached_and_reattached_by_cli(server, tenant):
    warm(tenant)
    admin(server, "detach-policy", "--user", tenant["user"], "CacheInvoke")
    assert invoke(tenant) == "AccessDeniedException"
    admin(server, "attach-policy", "--user", tenant["user"], "CacheInvoke")
    assert invoke(tenant) is None


def test_policy_document_changed_by_cli(server, tenant, tmp_path):
    warm(tenant)
    deny = tmp_path / "deny.json"
    deny.write_text(json.dumps(DENY_INVOKE))
    admin(server, "put-policy", "--account", tenant["account"], "CacheInvoke", str(deny))
    assert invoke(tenant) == "AccessDeniedException"
    allow = tmp_path / "allow.json"
    allow.write_text(json.dumps(ALLOW))
    admin(server, "put-policy", "--account", tenant["account"], "CacheInvoke", str(allow))
    assert invoke(tenant) is None


def test_model_access_revoked_and_granted_by_cli(server, tenant):
    warm(tenant)
    admin(server, "deny-model-access", "--account", tenant["account"], MODEL)
    assert invoke(tenant) == "AccessDeniedException"
    admin(server, "grant-model-access", "--account", tenant["account"], MODEL)
    assert invoke(tenant) is None


def test_api_key_deactivated_reactivated_deleted_by_cli(server, tenant):
    for _ in range(3):
        assert invoke_bearer(server, tenant["token"]) is None
    admin(server, "deactivate-api-key", tenant["api_key"])
    assert invoke_bearer(server, tenant["token"]) == "UnrecognizedClientException"
    admin(server, "activate-api-key", tenant["api_key"])
    assert invoke_bearer(server, tenant["token"]) is None
    admin(server, "delete-api-key", tenant["api_key"])
    assert invoke_bearer(server, tenant["token"]) == "UnrecognizedClientException"


def test_access_key_deleted_by_cli(server, tenant):
    key = admin(server, "create-access-key", "--user", tenant["user"])["AccessKey"]
    rt = boto3.client("bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
                      aws_access_key_id=key["AccessKeyId"],
                      aws_secret_access_key=key["SecretAccessKey"],
                      config=Config(retries={"max_attempts": 1}))
    t = {"runtime": rt}
    warm(t)
    admin(server, "delete-access-key", key["AccessKeyId"])
    assert invoke(t) == "UnrecognizedClientException"


def test_changes_over_the_http_admin_api(server, tenant):
    """The same changes through the admin API (the server's own process and connection)."""
    def call(method, path, body=None):
        st, _, out = signed_call(server, method, path, body)
        assert st == 200, out

    warm(tenant)
    call("PUT", f"/basalt/admin/access-keys/{tenant['key']}", {"status": "Inactive"})
    assert invoke(tenant) == "UnrecognizedClientException"
    call("PUT", f"/basalt/admin/access-keys/{tenant['key']}", {"status": "Active"})
    assert invoke(tenant) is None

    call("DELETE", f"/basalt/admin/users/{tenant['user']}/policies/CacheInvoke")
    assert invoke(tenant) == "AccessDeniedException"
    call("PUT", f"/basalt/admin/users/{tenant['user']}/policies/CacheInvoke")
    assert invoke(tenant) is None

    call("PUT", "/basalt/admin/policies/CacheInvoke",
         {"accountId": tenant["account"], "document": DENY_INVOKE})
    assert invoke(tenant) == "AccessDeniedException"
    call("PUT", "/basalt/admin/policies/CacheInvoke",
         {"accountId": tenant["account"], "document": ALLOW})
    assert invoke(tenant) is None

    call("PUT", "/basalt/admin/model-access",
         {"accountId": tenant["account"], "modelId": MODEL, "state": "DENIED"})
    assert invoke(tenant) == "AccessDeniedException"
    call("PUT", "/basalt/admin/model-access",
         {"accountId": tenant["account"], "modelId": MODEL, "state": "GRANTED"})
    assert invoke(tenant) is None

    api = admin(server, "create-api-key", "--user", tenant["user"])["ApiKey"]
    assert invoke_bearer(server, api["Token"]) is None
    call("PUT", f"/basalt/admin/api-keys/{api['ApiKeyId']}?userId={tenant['user']}",
         {"status": "Inactive"})
    assert invoke_bearer(server, api["Token"]) == "UnrecognizedClientException"
    call("PUT", f"/basalt/admin/api-keys/{api['ApiKeyId']}?userId={tenant['user']}",
         {"status": "Active"})
    assert invoke_bearer(server, api["Token"]) is None
