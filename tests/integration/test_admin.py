"""The administration service (docs/admin.md): the CLI and the HTTP admin API give the same
JSON shapes, the routes added with it (policies, one user, short-term keys, the model access
queue, console passwords), and their authorization."""
import json
import re

import pytest

from conftest import admin_cli, signed_call

admin = admin_cli
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def call(server, method, path, body=None, key=None, secret=None):
    status, _, parsed = signed_call(server, method, path, body, key=key, secret=secret)
    return status, parsed


@pytest.fixture(scope="module")
def acct(server):
    st, out = call(server, "POST", "/basalt/admin/accounts", {"name": "admin-svc"})
    assert st == 200, out
    return out["Account"]["AccountId"]


def user_with_key(server, account, name, *policies):
    st, out = call(server, "POST", "/basalt/admin/users",
                   {"accountId": account, "name": name, "policies": list(policies)})
    assert st == 200, out
    uid = out["User"]["UserId"]
    st, key = call(server, "POST", "/basalt/admin/access-keys", {"userId": uid})
    assert st == 200, key
    return uid, key["AccessKey"]["AccessKeyId"], key["AccessKey"]["SecretAccessKey"]


def test_cli_and_http_answer_alike(server, acct):
    st, made = call(server, "POST", "/basalt/admin/users",
                    {"accountId": acct, "name": "shape", "policies": ["BasaltInvokeOnly"]})
    assert st == 200, made
    user = made["User"]
    assert set(user) == {"UserName", "UserId", "AccountId", "Arn", "Role", "CreateDate",
                         "AttachedPolicies", "PasswordSet"}
    assert ISO.match(user["CreateDate"]) and user["AttachedPolicies"] == ["BasaltInvokeOnly"]
    assert user["PasswordSet"] is False
    st, got = call(server, "GET", f"/basalt/admin/users/{user['UserId']}")
    assert st == 200 and got["User"] == user
    assert admin(server, "get-user", "--user", user["UserId"]) == got
    listed = admin(server, "list-users", "--account", acct)
    st, http_listed = call(server, "GET", f"/basalt/admin/users?accountId={acct}")
    assert st == 200 and http_listed == listed

    st, key = call(server, "POST", "/basalt/admin/api-keys", {"userId": user["UserId"]})
    assert st == 200 and key["ApiKey"]["ExpiresAt"] is None and ISO.match(key["ApiKey"]["CreateDate"])
    assert key["ApiKey"]["Token"].startswith("ABSK")
    kid = key["ApiKey"]["ApiKeyId"]
    st, keys = call(server, "GET", f"/basalt/admin/api-keys?userId={user['UserId']}")
    assert st == 200 and keys == admin(server, "list-api-keys", "--user", user["UserId"])
    assert "Token" not in json.dumps(keys)
    st, out = call(server, "PUT", f"/basalt/admin/api-keys/{kid}?userId={user['UserId']}",
                   {"status": "Inactive"})
    assert st == 200 and out == {"ApiKeyId": kid, "Status": "Inactive"}
    st, out = call(server, "DELETE", f"/basalt/admin/api-keys/{kid}?userId={user['UserId']}")
    assert st == 200 and out == {"ApiKeyId": kid, "Deleted": True}

    st, ak = call(server, "POST", "/basalt/admin/access-keys", {"userId": user["UserId"]})
    akid = ak["AccessKey"]["AccessKeyId"]
    assert ISO.match(ak["AccessKey"]["CreateDate"])
    st, short = call(server, "POST", "/basalt/admin/short-term-api-keys",
                     {"accessKeyId": akid, "expiresInSeconds": 600})
    assert st == 200 and short["Token"].startswith("bedrock-api-key-"), short
    assert short["Region"] == "us-east-1" and ISO.match(short["ExpiresAt"])
    st, out = call(server, "PUT", f"/basalt/admin/access-keys/{akid}", {"status": "Inactive"})
    assert st == 200 and out == {"AccessKeyId": akid, "Status": "Inactive"}
    st, out = call(server, "DELETE", f"/basalt/admin/access-keys/{akid}")
    assert st == 200 and out == {"AccessKeyId": akid, "Deleted": True}


def test_policies_over_http(server, acct):
    doc = {"Version": "2012-10-17",
           "Statement": [{"Effect": "Allow", "Action": "bedrock:Converse*", "Resource": "*"}]}
    st, out = call(server, "PUT", "/basalt/admin/policies/ConverseOnly",
                   {"accountId": acct, "document": doc})
    assert st == 200 and out["Policy"]["Document"] == doc, out
    assert out["Policy"]["Arn"] == f"arn:aws:iam::{acct}:policy/ConverseOnly"
    st, out = call(server, "GET", f"/basalt/admin/policies?accountId={acct}")
    assert {"PolicyName": "ConverseOnly", "Type": "Custom"} in out["Policies"]
    uid, _, _ = user_with_key(server, acct, "pol", "BasaltInvokeOnly")
    st, out = call(server, "PUT", f"/basalt/admin/users/{uid}/policies/ConverseOnly")
    assert st == 200 and out["AttachedPolicies"] == ["BasaltInvokeOnly", "ConverseOnly"], out
    st, out = call(server, "DELETE", f"/basalt/admin/users/{uid}/policies/BasaltInvokeOnly")
    assert st == 200 and out["AttachedPolicies"] == ["ConverseOnly"]
    st, out = call(server, "GET", f"/basalt/admin/users/{uid}/policies")
    assert st == 200 and out == {"UserId": uid, "AttachedPolicies": ["ConverseOnly"]}
    st, out = call(server, "PUT", f"/basalt/admin/users/{uid}/policies/NoSuch")
    assert st == 404 and "NoSuch" in out["message"]
    st, out = call(server, "PUT", "/basalt/admin/policies/Bad",
                   {"accountId": acct, "document": {"Statement": 5}})
    assert st == 400


def test_delegated_iam_stays_within_its_own_rights(server, acct):
    doc = {"Statement": [{"Effect": "Allow", "Action": ["iam:*", "bedrock:Converse*"],
                          "Resource": "*"}]}
    st, out = call(server, "PUT", "/basalt/admin/policies/IamHelper",
                   {"accountId": acct, "document": doc})
    assert st == 200, out
    helper, kid, secret = user_with_key(server, acct, "helper", "IamHelper")
    strong, _, _ = user_with_key(server, acct, "strong", "AmazonBedrockFullAccess")
    weak, _, _ = user_with_key(server, acct, "weak", "IamHelper")
    as_helper = dict(key=kid, secret=secret)
    for method, path, body in [
            ("PUT", f"/basalt/admin/users/{weak}/policies/AmazonBedrockFullAccess", None),
            ("POST", "/basalt/admin/access-keys", {"userId": strong}),
            ("PUT", f"/basalt/admin/users/{strong}/password", {"generate": True}),
            ("PUT", "/basalt/admin/policies/IamHelper",
             {"document": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}})]:
        st, out = call(server, method, path, body, **as_helper)
        assert st == 403 and "may not grant" in out["message"], (path, out)
    st, out = call(server, "PUT", f"/basalt/admin/users/{weak}/password", {"generate": True},
                   **as_helper)
    assert st == 200 and len(out["Password"]) == 20
    # Not an operator-account user: no accounts, no queue, no other account's users.
    for path in ("/basalt/admin/accounts", "/basalt/admin/model-access-requests"):
        st, out = call(server, "GET", path, **as_helper)
        assert st == 403 and "not an operator administrator" in out["message"]
    st, _ = call(server, "GET", f"/basalt/admin/users/{server_admin_id(server)}", **as_helper)
    assert st == 404


def server_admin_id(server):
    op = next(a["AccountId"] for a in admin(server, "list-accounts")["Accounts"]
              if a["Name"] == "admin")
    return next(u["UserId"] for u in admin(server, "list-users", "--account", op)["Users"]
                if u["UserName"] == "admin")


def test_model_access_queue(server, acct):
    model = "meta.llama3-8b-instruct-v1:0"
    admin(server, "request-model-access", "--account", acct, model)
    st, queue = call(server, "GET", "/basalt/admin/model-access-requests")
    assert st == 200
    assert {"AccountId": acct, "AccountName": "admin-svc", "ModelId": model,
            "State": "REQUESTED"} in queue["ModelAccessRequests"]
    assert queue == admin(server, "list-model-access-requests")
    st, out = call(server, "PUT", "/basalt/admin/model-access",
                   {"accountId": acct, "modelId": model, "state": "GRANTED"})
    assert st == 200 and out == {"AccountId": acct, "ModelId": model, "State": "GRANTED"}
    st, queue = call(server, "GET", "/basalt/admin/model-access-requests")
    assert all(r["AccountId"] != acct for r in queue["ModelAccessRequests"])
    st, listed = call(server, "GET", f"/basalt/admin/model-access?accountId={acct}")
    assert {"ModelId": model, "State": "GRANTED"} in listed["ModelAccess"]


def test_console_passwords(server, acct):
    uid, _, _ = user_with_key(server, acct, "pw", "BasaltInvokeOnly")
    st, out = call(server, "PUT", f"/basalt/admin/users/{uid}/password",
                   {"password": "correct horse"})
    assert st == 200 and out == {"UserId": uid, "PasswordSet": True}
    assert "correct horse" not in server.log_text()
    st, out = call(server, "PUT", f"/basalt/admin/users/{uid}/password", {"password": "short"})
    assert st == 400 and "minimum length of 8" in out["message"]
    st, out = call(server, "PUT", f"/basalt/admin/users/{uid}/password", {"generate": "yes"})
    assert st == 400
    assert admin(server, "get-user", "--user", uid)["User"]["PasswordSet"] is True
    st, out = call(server, "DELETE", f"/basalt/admin/users/{uid}/password")
    assert st == 200 and out == {"UserId": uid, "PasswordSet": False}
    assert admin(server, "get-user", "--user", uid)["User"]["PasswordSet"] is False
