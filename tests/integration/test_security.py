"""Regression tests for the defects of the security and reliability review (issue 7), each
against the real binary: one request must never stop the server, one tenant must never
change what happens to another's data, and nobody grants more than they hold."""
import http.client
import json
import os
import sqlite3
import stat
import subprocess
import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import BINARY, BasaltServer, admin_cli

MSG = [{"role": "user", "content": [{"text": "Once upon a time"}]}]


admin = admin_cli


def signed(server, method, path, body=b"", key=None, secret=None, region="us-east-1",
           timeout=60):
    """A SigV4-signed request with a raw (bytes) or JSON body; returns status, headers, body."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = AWSRequest(method=method, url=server.url + path, data=data,
                     headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key or server.env["AWS_ACCESS_KEY_ID"],
                          secret or server.env["AWS_SECRET_ACCESS_KEY"]), "bedrock",
              region).add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    conn.request(method, path, body=data, headers=dict(req.headers.items()))
    r = conn.getresponse()
    out = r.read()
    try:
        parsed = json.loads(out or b"{}")
    except ValueError:
        parsed = {"raw": out.decode(errors="replace")}
    return r.status, {k.lower(): v for k, v in r.getheaders()}, parsed


def healthy(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/health")
    return conn.getresponse().status == 200


def clients(server, key, secret, region="us-east-1"):
    kw = dict(endpoint_url=server.url, region_name=region, aws_access_key_id=key,
              aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))
    return boto3.client("bedrock-runtime", **kw), boto3.client("bedrock", **kw)


def new_user(server, account, name, *policies):
    args = ["create-user", "--account", account, name]
    for p in policies:
        args += ["--policy", p]
    user = admin(server, *args)["User"]
    key = admin(server, "create-access-key", "--user", user["UserId"])["AccessKey"]
    return user, key["AccessKeyId"], key["SecretAccessKey"]


def operator_account(server):
    # The first start names the operator's account "admin"; list order is by id.
    return next(a["AccountId"] for a in admin(server, "list-accounts")["Accounts"]
                if a["Name"] == "admin")


# ---------------------------------------------------------------- one request, no crash

def test_deeply_nested_converse_body_is_refused_and_server_lives(server):
    depth = 200_000
    schema = "[" * depth + "]" * depth
    body = ('{"messages":[{"role":"user","content":[{"text":"hi"}]}],"toolConfig":{"tools":'
            '[{"toolSpec":{"name":"t","inputSchema":{"json":' + schema + '}}}]}}').encode()
    assert len(body) > 390_000
    st, h, err = signed(server, "POST", "/model/anthropic.claude-v2/converse", body)
    assert st == 400 and h["x-amzn-errortype"] == "ValidationException", (st, err)
    assert "nests deeper" in err["message"]
    assert healthy(server)


@pytest.mark.parametrize("path", [
    "/model/anthropic.claude-v2/invoke",
    "/model/anthropic.claude-v2/invoke-with-response-stream",
    "/model/anthropic.claude-v2/converse-stream",
    "/model/anthropic.claude-v2/count-tokens",
    "/create-foundation-model-agreement",
    "/logging/modelinvocations",
    "/basalt/admin/users",
])
def test_deep_nesting_refused_on_every_body(server, path):
    nested = b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    method = "PUT" if path.startswith("/logging") else "POST"
    st, h, err = signed(server, method, path, nested)
    assert st == 400 and h["x-amzn-errortype"] == "ValidationException", (path, st, err)
    assert healthy(server)


def bearer(server, method, path, body=b""):
    """A request with the Bedrock API key: nothing signs the query, so it reaches the API."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(method, path, body=body, headers={
        "Authorization": "Bearer " + server.env["AWS_BEARER_TOKEN_BEDROCK"],
        "Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, json.loads(r.read() or b"{}")


def test_malformed_query_escape_is_not_undefined_behaviour(server):
    st, body = bearer(server, "GET", "/foundation-models?%zz=1&byProvider=%zz")
    assert st == 200 and "modelSummaries" in body, body
    st, _ = bearer(server, "GET", "/basalt/usage?%=&from=%G1&%zz")
    assert st in (200, 400)
    st, _ = bearer(server, "GET", "/inference-profiles?maxResults=%zz&nextToken=%")
    assert st in (200, 400)
    assert healthy(server)


def test_stop_sequences_are_bounded(runtime):
    with pytest.raises(ClientError) as e:
        runtime.converse(modelId="anthropic.claude-v2", messages=MSG,
                         inferenceConfig={"maxTokens": 2, "stopSequences": ["x" * 600]})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        runtime.converse(modelId="anthropic.claude-v2", messages=MSG,
                         inferenceConfig={"maxTokens": 2,
                                          "stopSequences": ["s%d" % i for i in range(2501)]})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    body = {"prompt": "\n\nHuman: hi\n\nAssistant:", "max_tokens_to_sample": 2,
            "stop_sequences": ["y" * 300] * 20}
    with pytest.raises(ClientError) as e:
        runtime.invoke_model(modelId="anthropic.claude-v2", body=json.dumps(body))
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_oversized_prompt_is_refused_before_tokenizing(runtime):
    # ~20 MB of prompt for a 512-token context: refused by length, quickly, every time.
    start = time.time()
    with pytest.raises(ClientError) as e:
        runtime.converse(modelId="anthropic.claude-v2",
                         messages=[{"role": "user", "content": [{"text": "word " * 4_000_000}]}],
                         inferenceConfig={"maxTokens": 1})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "Input is too long" in e.value.response["Error"]["Message"]
    assert time.time() - start < 60


# ---------------------------------------------------------------- tenants stay apart

def test_invocation_logging_is_per_account(tmp_path):
    s = BasaltServer(tmp_path / "logs")
    try:
        acct = admin(s, "create-account", "other")["Account"]["AccountId"]
        _, kid, secret = new_user(s, acct, "mallory", "AmazonBedrockFullAccess")
        other_rt, other_ctl = clients(s, kid, secret)
        op_rt, op_ctl = clients(s, s.env["AWS_ACCESS_KEY_ID"], s.env["AWS_SECRET_ACCESS_KEY"])
        admin(s, "grant-model-access", "--account", acct, "*")

        other_ctl.put_model_invocation_logging_configuration(loggingConfig={
            "s3Config": {"bucketName": "mallory-bucket", "keyPrefix": "spy/"},
            "textDataDeliveryEnabled": True})
        # The operator's own configuration is untouched and its prompts are not logged.
        assert "loggingConfig" not in op_ctl.get_model_invocation_logging_configuration()
        op_rt.converse(modelId="anthropic.claude-v2", inferenceConfig={"maxTokens": 2},
                       messages=[{"role": "user", "content": [{"text": "operator secret"}]}])
        other_rt.converse(modelId="anthropic.claude-v2", inferenceConfig={"maxTokens": 2},
                          messages=[{"role": "user", "content": [{"text": "mallory prompt"}]}])
        logs = list((s.data_dir / "invocation-logs").rglob("*.jsonl"))
        text = "".join(p.read_text() for p in logs)
        assert "operator secret" not in text
        assert "mallory prompt" in text
        assert logs == [s.data_dir / "invocation-logs" / acct / "s3" / "mallory-bucket" / "spy" /
                        "model-invocations.jsonl"]
        # The other account cannot turn the operator's logging off either.
        op_ctl.put_model_invocation_logging_configuration(loggingConfig={
            "cloudWatchConfig": {"logGroupName": "ops/bedrock", "roleArn": "arn:aws:iam::1:role/r"}})
        other_ctl.delete_model_invocation_logging_configuration()
        assert op_ctl.get_model_invocation_logging_configuration()["loggingConfig"][
            "cloudWatchConfig"]["logGroupName"] == "ops/bedrock"
        op_rt.converse(modelId="anthropic.claude-v2", inferenceConfig={"maxTokens": 2},
                       messages=[{"role": "user", "content": [{"text": "operator logged"}]}])
        op_acct = operator_account(s)
        op_log = (s.data_dir / "invocation-logs" / op_acct / "cloudwatch" / "ops" / "bedrock" /
                  "model-invocations.jsonl")
        assert "operator logged" in op_log.read_text()
        # A restart restores each account's own configuration.
        s.stop()
        s2 = BasaltServer(s.data_dir)
        try:
            rt2, _ = clients(s2, s2.env["AWS_ACCESS_KEY_ID"], s2.env["AWS_SECRET_ACCESS_KEY"])
            rt2.converse(modelId="anthropic.claude-v2", inferenceConfig={"maxTokens": 2},
                         messages=[{"role": "user", "content": [{"text": "after restart"}]}])
            assert "after restart" in op_log.read_text()
        finally:
            s2.stop()
    finally:
        s.stop()


def test_logging_config_validation_changes_nothing(server, control):
    control.put_model_invocation_logging_configuration(loggingConfig={
        "s3Config": {"bucketName": "good-bucket"}})
    for bad in [
        {"s3Config": {"bucketName": "good-bucket"}, "textDataDeliveryEnabled": "yes"},
        {"s3Config": {"bucketName": "b", "keyPrefix": "../../etc"}},
        {"s3Config": {"bucketName": ".."}},
        {"s3Config": "bucket"},
        {"cloudWatchConfig": {"logGroupName": "../x", "roleArn": "r"}},
        {"cloudWatchConfig": {"logGroupName": 7, "roleArn": "r"}},
    ]:
        st, h, err = signed(server, "PUT", "/logging/modelinvocations", {"loggingConfig": bad})
        assert st == 400 and h["x-amzn-errortype"] == "ValidationException", (bad, st, err)
    got = control.get_model_invocation_logging_configuration()["loggingConfig"]
    assert got == {"s3Config": {"bucketName": "good-bucket"}}
    control.delete_model_invocation_logging_configuration()


def test_wrong_json_types_are_validation_errors(server):
    for path, body in [
        ("/basalt/admin/users", {"name": 5}),
        ("/basalt/admin/users", {"name": "x", "accountId": ["a"]}),
        ("/basalt/admin/access-keys", {"userId": {"a": 1}}),
        ("/create-foundation-model-agreement", {"modelId": 1, "offerToken": "t"}),
        ("/use-case-for-model-access", {"formData": 12}),
    ]:
        st, h, err = signed(server, "POST", path, body)
        assert st == 400 and h["x-amzn-errortype"] == "ValidationException", (path, st, err)
    assert "unhandled exception" not in server.log_text()


# ---------------------------------------------------------------- no escalation

def test_create_user_cannot_grant_more_than_creator_has(server):
    op = operator_account(server)
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["iam:CreateUser", "iam:CreateAccessKey"],
        "Resource": "*"}]})
    policy_file = server.data_dir / "creator-policy.json"
    policy_file.write_text(doc)
    admin(server, "put-policy", "--account", op, "UserCreator", str(policy_file))
    _, kid, secret = new_user(server, op, "creator", "UserCreator")
    st, h, err = signed(server, "POST", "/basalt/admin/users",
                        {"name": "x2", "role": "admin", "policies": ["BasaltAdministrator"]},
                        key=kid, secret=secret)
    assert st == 403 and h["x-amzn-errortype"] == "AccessDeniedException", (st, err)
    # The role alone (default policies) grants nothing the creator lacks either.
    st, _, err = signed(server, "POST", "/basalt/admin/users", {"name": "x3", "role": "admin"},
                        key=kid, secret=secret)
    assert st == 403, err
    users = [u["UserName"] for u in admin(server, "list-users", "--account", op)["Users"]]
    assert "x2" not in users and "x3" not in users
    # Nor can it take the keys of a more powerful user.
    admin_user = next(u for u in admin(server, "list-users", "--account", op)["Users"]
                      if u["UserName"] == "admin")
    st, _, err = signed(server, "POST", "/basalt/admin/access-keys",
                        {"userId": admin_user["UserId"]}, key=kid, secret=secret)
    assert st == 403, err
    # A plain user without policies stays possible once the creator may attach them.
    st, _, err = signed(server, "POST", "/basalt/admin/users", {"name": "x4", "policies": []},
                        key=kid, secret=secret)
    assert st == 200, err


def test_delegated_admin_grants_only_what_it_holds(server):
    op = operator_account(server)
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:CreateUser", "iam:AttachUserPolicy",
                                       "iam:CreateAccessKey"], "Resource": "*"},
        {"Effect": "Allow", "Action": "bedrock:InvokeModel*", "Resource": "*"}]})
    (server.data_dir / "delegate.json").write_text(doc)
    admin(server, "put-policy", "--account", op, "Delegate", str(server.data_dir / "delegate.json"))
    _, kid, secret = new_user(server, op, "delegate", "Delegate")
    st, _, err = signed(server, "POST", "/basalt/admin/users",
                        {"name": "d-full", "policies": ["AmazonBedrockFullAccess"]},
                        key=kid, secret=secret)
    assert st == 403, err
    narrow = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*"}]})
    (server.data_dir / "narrow.json").write_text(narrow)
    admin(server, "put-policy", "--account", op, "Narrow", str(server.data_dir / "narrow.json"))
    st, _, err = signed(server, "POST", "/basalt/admin/users",
                        {"name": "d-narrow", "policies": ["Narrow"]}, key=kid, secret=secret)
    assert st == 200, err


def test_unparseable_stored_policy_denies(server):
    op = operator_account(server)
    user, kid, secret = new_user(server, op, "victim", "AmazonBedrockFullAccess")
    rt, _ = clients(server, kid, secret)
    rt.converse(modelId="anthropic.claude-v2", messages=MSG, inferenceConfig={"maxTokens": 1})
    # A document that no longer parses (rewritten behind the store's back after it was
    # attached; attaching an unparseable one is refused) must deny, not vanish.
    doc = server.data_dir / "later-broken.json"
    doc.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "bedrock:List*", "Resource": "*"}]}))
    admin(server, "put-policy", "--account", op, "Broken", str(doc))
    admin(server, "attach-policy", "--user", user["UserId"], "Broken")
    db = sqlite3.connect(server.data_dir / "basalt.db")
    try:
        db.execute("UPDATE policies SET document = ? WHERE account_id = ? AND name = ?",
                   ('{"Statement": [{"Effect": "Deny", "NotAction": "x"}]}', op, "Broken"))
        db.commit()
    finally:
        db.close()
    with pytest.raises(ClientError) as e:
        rt.converse(modelId="anthropic.claude-v2", messages=MSG, inferenceConfig={"maxTokens": 1})
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"


def test_usage_report_and_model_access_are_authorized(server):
    op = operator_account(server)
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*"}]})
    (server.data_dir / "invoke-only-custom.json").write_text(doc)
    admin(server, "put-policy", "--account", op, "JustInvoke",
          str(server.data_dir / "invoke-only-custom.json"))
    _, kid, secret = new_user(server, op, "reporter", "JustInvoke")
    st, h, err = signed(server, "GET", "/basalt/usage", key=kid, secret=secret)
    assert st == 403 and "basalt:GetUsageReport" in err["message"], err
    st, _, err = signed(server, "GET", "/basalt/admin/model-access", key=kid, secret=secret)
    assert st == 403 and "basalt:ListModelAccess" in err["message"], err
    # Built-in policies still show a user their own calls, and only those.
    _, kid2, secret2 = new_user(server, op, "selfview", "BasaltInvokeOnly")
    rt, _ = clients(server, kid2, secret2)
    rt.converse(modelId="anthropic.claude-v2", messages=MSG, inferenceConfig={"maxTokens": 1})
    st, _, rep = signed(server, "GET", "/basalt/usage?records=true", key=kid2, secret=secret2)
    assert st == 200 and len(rep["records"]) == 1, rep
    st, _, everyone = signed(server, "GET", "/basalt/usage?records=true")
    assert st == 200 and len(everyone["records"]) > 1


def test_signing_region_cannot_bypass_region_scoped_deny(tmp_path):
    s = BasaltServer(tmp_path / "region-deny")
    try:
        op = operator_account(s)
        doc = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "bedrock:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "bedrock:InvokeModel*",
             "Resource": "arn:aws:bedrock:us-east-1::foundation-model/*"}]})
        (s.data_dir / "deny.json").write_text(doc)
        admin(s, "put-policy", "--account", op, "NoUsEast1", str(s.data_dir / "deny.json"))
        _, kid, secret = new_user(s, op, "scoped", "NoUsEast1")
        for region in ("us-east-1", "us-west-2", "eu-central-1"):
            rt, _ = clients(s, kid, secret, region=region)
            with pytest.raises(ClientError) as e:
                rt.converse(modelId="anthropic.claude-v2", messages=MSG,
                            inferenceConfig={"maxTokens": 1})
            code = e.value.response["Error"]["Code"]
            assert code in ("AccessDeniedException", "InvalidSignatureException"), (region, code)
            if region != "us-east-1":
                assert code == "InvalidSignatureException"  # only the configured region is served
    finally:
        s.stop()


# ---------------------------------------------------------------- metering integrity

def test_usage_report_cli_never_changes_records(tmp_path):
    s = BasaltServer(tmp_path / "report", extra_args=("--usage-checkpoint-ms", "50"))
    try:
        rt, _ = clients(s, s.env["AWS_ACCESS_KEY_ID"], s.env["AWS_SECRET_ACCESS_KEY"])
        done = {}

        def stream():
            resp = rt.converse_stream(modelId="anthropic.claude-v2", messages=MSG,
                                      inferenceConfig={"maxTokens": 400})
            text = ""
            for ev in resp["stream"]:
                if "contentBlockDelta" in ev:
                    text += ev["contentBlockDelta"]["delta"]["text"]
                    time.sleep(0.002)
                if "metadata" in ev:
                    done["usage"] = ev["metadata"]["usage"]
        t = threading.Thread(target=stream)
        t.start()
        # While it runs, with its checkpoint on disk, a report is taken.
        db = s.data_dir / "usage.db"
        for _ in range(200):
            con = sqlite3.connect(db)
            n = con.execute("SELECT COUNT(*) FROM usage_records WHERE outcome='in_progress'"
                            ).fetchone()[0]
            con.close()
            if n:
                break
            time.sleep(0.02)
        out = subprocess.run([str(BINARY), "usage", "report", "--data-dir", str(s.data_dir)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        t.join(120)
        assert "usage" in done
        con = sqlite3.connect(db)
        rows = con.execute("SELECT outcome, output_tokens FROM usage_records").fetchall()
        con.close()
        assert ("success", done["usage"]["outputTokens"]) in rows, rows
        assert all(o != "interrupted" for o, _ in rows), rows
    finally:
        s.stop()


def test_secrets_and_data_folder_are_private(tmp_path):
    s = BasaltServer(tmp_path / "private")
    try:
        assert stat.S_IMODE(os.stat(s.data_dir).st_mode) == 0o700
        for name in ("admin-credentials", "admin.env", "master.key", "basalt.db", "usage.db"):
            mode = stat.S_IMODE(os.stat(s.data_dir / name).st_mode)
            assert mode == 0o600, (name, oct(mode))
    finally:
        s.stop()


def _mount_tmpfs(path, size):
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): " + r.stderr.strip())


def test_full_disk_fails_closed_and_recovers(tmp_path):
    """With the data folder's disk full, a request whose usage cannot be recorded is not
    delivered (500, no 200 without a bill); once space returns, serving and billing resume."""
    data = tmp_path / "full"
    _mount_tmpfs(data, "24m")
    s = None
    try:
        s = BasaltServer(data)
        rt, _ = clients(s, s.env["AWS_ACCESS_KEY_ID"], s.env["AWS_SECRET_ACCESS_KEY"])
        rt.converse(modelId="anthropic.claude-v2", messages=MSG, inferenceConfig={"maxTokens": 1})
        filler = data / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * (1 << 16))
        except OSError:
            pass
        finally:
            os.close(fd)
        delivered = 0
        refused = 0
        for _ in range(20):
            try:
                rt.converse(modelId="anthropic.claude-v2", messages=MSG,
                            inferenceConfig={"maxTokens": 1})
                delivered += 1
            except ClientError as e:
                assert e.response["Error"]["Code"] == "InternalServerException", e.response
                refused += 1
        assert s.alive()
        assert refused > 0, "a full disk must refuse results it cannot bill"
        filler.unlink()
        time.sleep(0.2)
        ok = rt.converse(modelId="anthropic.claude-v2", messages=MSG,
                         inferenceConfig={"maxTokens": 1})
        assert ok["usage"]["outputTokens"] == 1
        s.stop()
        con = sqlite3.connect(data / "usage.db")
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        successes = con.execute("SELECT COUNT(*) FROM usage_records WHERE outcome='success'"
                                ).fetchone()[0]
        con.close()
        # Every delivered result is on record: the first call, the ones that got through
        # before the disk filled, and the one after.
        assert successes == 1 + delivered + 1, (successes, delivered)
    finally:
        if s:
            s.stop()
        subprocess.run(["umount", "-l", str(data)], capture_output=True)
