"""Accounts, keys, policies and model access (issue 3), against the real binary and the
`basalt admin` CLI working on the same data folder."""
import base64
import json
import subprocess

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import BINARY, admin_cli, find, signed_call

MSG = [{"role": "user", "content": [{"text": "Once upon a time"}]}]


admin = admin_cli


@pytest.fixture(scope="module")
def tenant(server):
    """A second account with a user holding full Bedrock access, and its clients."""
    acct = admin(server, "create-account", "tenant-b")
    acct_id = find(acct, "AccountId", "accountId", "id")
    user = admin(server, "create-user", "--account", acct_id, "alice")
    user_id = find(user, "UserId", "userId", "id")
    key = admin(server, "create-access-key", "--user", user_id)
    kid = find(key, "AccessKeyId", "accessKeyId")
    secret = find(key, "SecretAccessKey", "secretAccessKey")
    kw = dict(endpoint_url=server.url, region_name="us-east-1", aws_access_key_id=kid,
              aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))
    return {"account": acct_id, "user": user_id, "key": kid, "secret": secret,
            "runtime": boto3.client("bedrock-runtime", **kw),
            "control": boto3.client("bedrock", **kw)}


def test_new_account_sees_catalog_but_cannot_invoke(tenant):
    ids = {m["modelId"] for m in tenant["control"].list_foundation_models()["modelSummaries"]}
    assert "anthropic.claude-v2" in ids
    with pytest.raises(ClientError) as e:
        tenant["runtime"].converse(modelId="meta.llama3-8b-instruct-v1:0", messages=MSG)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert e.value.response["Error"]["Message"] == \
        "You don't have access to the model with the specified model ID."
    a = tenant["control"].get_foundation_model_availability(modelId="meta.llama3-8b-instruct-v1:0")
    assert a["entitlementAvailability"] == "NOT_AVAILABLE"
    assert a["authorizationStatus"] == "AUTHORIZED"
    assert a["regionAvailability"] == "AVAILABLE"


def test_request_access_non_anthropic(tenant):
    c = tenant["control"]
    offers = c.list_foundation_model_agreement_offers(modelId="meta.llama3-8b-instruct-v1:0")
    token = offers["offers"][0]["offerToken"]
    r = c.create_foundation_model_agreement(offerToken=token, modelId="meta.llama3-8b-instruct-v1:0")
    assert r["modelId"] == "meta.llama3-8b-instruct-v1:0"
    a = c.get_foundation_model_availability(modelId="meta.llama3-8b-instruct-v1:0")
    assert a["entitlementAvailability"] == "AVAILABLE"
    out = tenant["runtime"].converse(modelId="meta.llama3-8b-instruct-v1:0", messages=MSG,
                                     inferenceConfig={"maxTokens": 3})
    assert out["usage"]["outputTokens"] == 3


def test_anthropic_needs_use_case_form(tenant):
    c = tenant["control"]
    token = c.list_foundation_model_agreement_offers(modelId="anthropic.claude-v2")["offers"][0]["offerToken"]
    with pytest.raises(ClientError) as e:
        c.create_foundation_model_agreement(offerToken=token, modelId="anthropic.claude-v2")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "use case" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        c.get_use_case_for_model_access()
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    form = json.dumps({"companyName": "B", "companyWebsite": "https://b.example",
                       "intendedUsers": "0", "industryOption": "Tech", "otherIndustryOption": "",
                       "useCases": "stories"}).encode()
    c.put_use_case_for_model_access(formData=form)
    assert c.get_use_case_for_model_access()["formData"] == form
    c.create_foundation_model_agreement(offerToken=token, modelId="anthropic.claude-v2")
    out = tenant["runtime"].converse(modelId="anthropic.claude-v2", messages=MSG,
                                     inferenceConfig={"maxTokens": 2})
    assert out["usage"]["outputTokens"] == 2


def test_deactivated_key_fails_next_request(server, tenant):
    key = admin(server, "create-access-key", "--user", tenant["user"])
    kid, secret = find(key, "AccessKeyId", "accessKeyId"), find(key, "SecretAccessKey", "secretAccessKey")
    c = boto3.client("bedrock", endpoint_url=server.url, region_name="us-east-1",
                     aws_access_key_id=kid, aws_secret_access_key=secret)
    c.list_foundation_models()
    admin(server, "deactivate-access-key", kid)
    with pytest.raises(ClientError) as e:
        c.list_foundation_models()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
    listed = json.dumps(admin(server, "list-access-keys", "--user", tenant["user"]))
    assert secret not in listed


def test_invoke_only_user(server, tenant):
    user = admin(server, "create-user", "--account", tenant["account"], "bob", "--policy",
                 "BasaltInvokeOnly")
    uid = find(user, "UserId", "userId", "id")
    key = admin(server, "create-access-key", "--user", uid)
    kw = dict(endpoint_url=server.url, region_name="us-east-1",
              aws_access_key_id=find(key, "AccessKeyId", "accessKeyId"),
              aws_secret_access_key=find(key, "SecretAccessKey", "secretAccessKey"),
              config=Config(retries={"max_attempts": 1}))
    rt = boto3.client("bedrock-runtime", **kw)
    out = rt.converse(modelId="meta.llama3-8b-instruct-v1:0", messages=MSG,
                      inferenceConfig={"maxTokens": 2})
    assert out["usage"]["outputTokens"] == 2
    ctl = boto3.client("bedrock", **kw)
    with pytest.raises(ClientError) as e:
        ctl.put_use_case_for_model_access(formData=b"0123456789abc")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    msg = e.value.response["Error"]["Message"]
    assert "user/bob is not authorized to perform: bedrock:PutUseCaseForModelAccess" in msg


def test_read_only_user_cannot_invoke(server, tenant):
    user = admin(server, "create-user", "--account", tenant["account"], "carol", "--policy",
                 "AmazonBedrockReadOnly")
    uid = find(user, "UserId", "userId", "id")
    key = admin(server, "create-access-key", "--user", uid)
    rt = boto3.client("bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
                      aws_access_key_id=find(key, "AccessKeyId", "accessKeyId"),
                      aws_secret_access_key=find(key, "SecretAccessKey", "secretAccessKey"),
                      config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as e:
        rt.converse(modelId="meta.llama3-8b-instruct-v1:0", messages=MSG)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "bedrock:InvokeModel" in e.value.response["Error"]["Message"]
    assert "foundation-model/meta.llama3-8b-instruct-v1:0" in e.value.response["Error"]["Message"]


def test_accounts_are_isolated(server, tenant, control):
    # The admin account never sees tenant B's use-case form.
    with pytest.raises(ClientError) as e:
        control.get_use_case_for_model_access()
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    listed = admin(server, "list-model-access", "--account", tenant["account"])
    assert "meta.llama3-8b-instruct-v1:0" in json.dumps(listed)


def test_inference_profiles(control):
    profiles = control.list_inference_profiles()["inferenceProfileSummaries"]
    ids = {p["inferenceProfileId"] for p in profiles}
    assert "us.anthropic.claude-v2" in ids
    p = control.get_inference_profile(inferenceProfileIdentifier="us.anthropic.claude-v2")
    assert p["status"] == "ACTIVE" and p["type"] == "SYSTEM_DEFINED"
    assert p["models"][0]["modelArn"].endswith("foundation-model/anthropic.claude-v2")
    page = control.list_inference_profiles(maxResults=1)
    assert len(page["inferenceProfileSummaries"]) == 1 and "nextToken" in page


def test_short_term_api_key(server, tenant):
    tok = admin(server, "create-short-term-api-key", "--access-key", tenant["key"])
    token = tok if isinstance(tok, str) else find(tok, "token", "Token", "ApiKey", "apiKey")
    assert token.startswith("bedrock-api-key-")
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", "/foundation-models", headers={"Authorization": "Bearer " + token})
    r = conn.getresponse()
    assert r.status == 200, r.read()


signed = signed_call  # the one SigV4 helper of conftest


def test_admin_http_api(server, tenant):
    st, _, acct = signed(server, "POST", "/basalt/admin/accounts", {"name": "tenant-c"})
    assert st == 200, acct
    acct_id = acct["Account"]["AccountId"]
    st, _, user = signed(server, "POST", "/basalt/admin/users",
                         {"accountId": acct_id, "name": "dave", "policies": ["BasaltInvokeOnly"]})
    assert st == 200, user
    uid = user["User"]["UserId"]
    st, _, key = signed(server, "POST", "/basalt/admin/access-keys", {"userId": uid})
    assert st == 200 and key["AccessKey"]["SecretAccessKey"]
    kid, secret = key["AccessKey"]["AccessKeyId"], key["AccessKey"]["SecretAccessKey"]
    st, _, listed = signed(server, "GET", f"/basalt/admin/access-keys?userId={uid}")
    assert st == 200 and listed["AccessKeyMetadata"][0]["AccessKeyId"] == kid
    assert secret not in json.dumps(listed)
    # An invoke-only user cannot create keys, not even for itself.
    st, h, err = signed(server, "POST", "/basalt/admin/access-keys", {}, key=kid, secret=secret)
    assert st == 403 and h["x-amzn-errortype"] == "AccessDeniedException"
    assert "not authorized to perform: iam:CreateAccessKey" in err["message"]
    # Tenant B's user can never see tenant C's users or keys.
    st, h, _ = signed(server, "GET", f"/basalt/admin/users?accountId={acct_id}",
                      key=tenant["key"], secret=tenant["secret"])
    assert st == 403
    st, h, _ = signed(server, "GET", f"/basalt/admin/access-keys?userId={uid}",
                      key=tenant["key"], secret=tenant["secret"])
    assert st == 404
    # Deactivate over the API: the key fails on its next request.
    st, _, _ = signed(server, "PUT", f"/basalt/admin/access-keys/{kid}", {"status": "Inactive"})
    assert st == 200
    st, h, _ = signed(server, "GET", "/foundation-models", key=kid, secret=secret)
    assert st == 403 and h["x-amzn-errortype"] == "UnrecognizedClientException"
    # Validation names the missing field.
    st, h, err = signed(server, "POST", "/basalt/admin/users", {"accountId": acct_id})
    assert st == 400 and "'name'" in err["message"]
    assert secret not in server.log_text()
    assert tenant["secret"] not in server.log_text()


def test_control_plane_validation(control):
    with pytest.raises(ClientError) as e:
        control.create_foundation_model_agreement(offerToken="x", modelId="anthropic.claude-v2")
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_control_plane_missing_fields(server):
    st, h, err = signed(server, "POST", "/create-foundation-model-agreement", {"modelId": "x"})
    assert st == 400 and h["x-amzn-errortype"] == "ValidationException"
    assert "'offerToken'" in err["message"]
    st, h, err = signed(server, "POST", "/delete-foundation-model-agreement", {})
    assert st == 400 and "'modelId'" in err["message"]
    st, h, err = signed(server, "POST", "/use-case-for-model-access", {"formData": 3})
    assert st == 400 and "'formData'" in err["message"]
    st, h, err = signed(server, "PUT", "/logging/modelinvocations", {})
    assert st == 400 and "'loggingConfig'" in err["message"]
    st, h, err = signed(server, "GET", "/foundation-models?byOutputModality=SOUND")
    assert st == 400 and "byOutputModality" in err["message"]


REGION_CATALOG = {"models": [{
    "modelId": "tinystories.stories-260k-v1:0", "weights": "stories260K.gguf",
    "contextLength": 512,
    "aliases": [{"modelId": "anthropic.claude-v2", "regions": ["us-west-2"]},
                {"modelId": "meta.llama3-8b-instruct-v1:0"}],
}]}


def test_regions(tmp_path):
    from conftest import BasaltServer
    s = BasaltServer(tmp_path / "regions", extra_args=("--regions", "us-east-1,us-west-2,ap-northeast-2"),
                     catalog=REGION_CATALOG)
    try:
        def rt(region):
            return boto3.client("bedrock-runtime", endpoint_url=s.url, region_name=region,
                                aws_access_key_id=s.env["AWS_ACCESS_KEY_ID"],
                                aws_secret_access_key=s.env["AWS_SECRET_ACCESS_KEY"],
                                config=Config(retries={"max_attempts": 1}))
        ok = rt("us-west-2").converse(modelId="anthropic.claude-v2", messages=MSG,
                                      inferenceConfig={"maxTokens": 2})
        assert ok["usage"]["outputTokens"] == 2
        # Not offered in us-east-1.
        with pytest.raises(ClientError) as e:
            rt("us-east-1").converse(modelId="anthropic.claude-v2", messages=MSG)
        assert e.value.response["Error"]["Code"] == "ValidationException"
        # A cross-region profile routes to a US region that has it.
        ok = rt("us-east-1").converse(modelId="us.anthropic.claude-v2", messages=MSG,
                                      inferenceConfig={"maxTokens": 2})
        assert ok["usage"]["outputTokens"] == 2
        with pytest.raises(ClientError) as e:
            rt("ap-northeast-2").converse(modelId="apac.anthropic.claude-v2", messages=MSG)
        assert e.value.response["Error"]["Code"] == "ValidationException"
        ok = rt("ap-northeast-2").converse(modelId="apac.meta.llama3-8b-instruct-v1:0",
                                           messages=MSG, inferenceConfig={"maxTokens": 1})
        assert ok["usage"]["outputTokens"] == 1
        # A region this deployment does not serve.
        with pytest.raises(ClientError) as e:
            rt("eu-west-3").converse(modelId="meta.llama3-8b-instruct-v1:0", messages=MSG)
        assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
        assert "valid region" in e.value.response["Error"]["Message"]
        ctl = boto3.client("bedrock", endpoint_url=s.url, region_name="us-east-1",
                           aws_access_key_id=s.env["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=s.env["AWS_SECRET_ACCESS_KEY"])
        ids = {m["modelId"] for m in ctl.list_foundation_models()["modelSummaries"]}
        assert "anthropic.claude-v2" not in ids and "meta.llama3-8b-instruct-v1:0" in ids
    finally:
        s.stop()


def test_manual_model_access_approval(tmp_path):
    from conftest import BasaltServer
    s = BasaltServer(tmp_path / "approval", extra_args=("--manual-model-access-approval",))
    try:
        def adm(*args):
            return admin(s, *args)
        acct = find(adm("create-account", "t"), "AccountId")
        uid = find(adm("create-user", "--account", acct, "u"), "UserId")
        key = adm("create-access-key", "--user", uid)
        kw = dict(endpoint_url=s.url, region_name="us-east-1",
                  aws_access_key_id=find(key, "AccessKeyId"),
                  aws_secret_access_key=find(key, "SecretAccessKey"),
                  config=Config(retries={"max_attempts": 1}))
        ctl, rt = boto3.client("bedrock", **kw), boto3.client("bedrock-runtime", **kw)
        model = "meta.llama3-8b-instruct-v1:0"
        token = ctl.list_foundation_model_agreement_offers(modelId=model)["offers"][0]["offerToken"]
        ctl.create_foundation_model_agreement(offerToken=token, modelId=model)
        a = ctl.get_foundation_model_availability(modelId=model)
        assert a["agreementAvailability"]["status"] in ("PENDING", "AVAILABLE")
        assert a["entitlementAvailability"] == "NOT_AVAILABLE"
        with pytest.raises(ClientError) as e:
            rt.converse(modelId=model, messages=MSG)
        assert e.value.response["Error"]["Code"] == "AccessDeniedException"
        adm("grant-model-access", "--account", acct, model)
        out = rt.converse(modelId=model, messages=MSG, inferenceConfig={"maxTokens": 1})
        assert out["usage"]["outputTokens"] == 1
    finally:
        s.stop()


def test_per_model_allow_list_policy(server, tenant, tmp_path):
    doc = tmp_path / "claude-only.json"
    doc.write_text(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
        "Resource": "arn:aws:bedrock:*::foundation-model/anthropic.*"}]}))
    admin(server, "put-policy", "--account", tenant["account"], "ClaudeOnly", str(doc))
    uid = find(admin(server, "create-user", "--account", tenant["account"], "erin", "--policy",
                     "ClaudeOnly"), "UserId")
    key = admin(server, "create-access-key", "--user", uid)
    rt = boto3.client("bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
                      aws_access_key_id=find(key, "AccessKeyId"),
                      aws_secret_access_key=find(key, "SecretAccessKey"),
                      config=Config(retries={"max_attempts": 1}))
    # The account was granted Claude in test_anthropic_needs_use_case_form.
    out = rt.converse(modelId="anthropic.claude-v2", messages=MSG, inferenceConfig={"maxTokens": 1})
    assert out["usage"]["outputTokens"] == 1
    with pytest.raises(ClientError) as e:
        rt.converse(modelId="meta.llama3-8b-instruct-v1:0", messages=MSG)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "because no identity-based policy allows the bedrock:InvokeModel action" in \
        e.value.response["Error"]["Message"]
