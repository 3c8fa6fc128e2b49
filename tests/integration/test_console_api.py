"""The web console's back end (docs/console.md): sign-in, sessions, CSRF, throttling, the
console route into the SigV4 route table (authorization per policy, account isolation, usage
source), the catalog endpoint, the first-start password file and the static files."""
import http.client
import json
import os
import pathlib
import re
import stat
import subprocess
import time

import pytest
import requests

from conftest import BINARY, MODELS_DIR, TEST_CATALOG, BasaltServer, admin_cli

MODEL = "tinystories.stories-260k-v1:0"
SIGNIN_FAILED = "Your authentication information is incorrect. Please try again."
CSRF_MESSAGE = "Missing or invalid CSRF token."
MAX_FAILURES = 3
LOCKOUT_S = 1

# The test catalog plus one entry whose weights are missing.
CATALOG = {"models": TEST_CATALOG["models"] + [{
    "modelId": "test.missing-weights-v1:0",
    "providerName": "Test",
    "modelName": "Missing weights",
    "weights": "no-such-model.gguf",
    "source": {"repo": "example/missing-GGUF", "file": "no-such-model.gguf"},
}]}


def read_password_file(data_dir):
    fields = {}
    for line in (pathlib.Path(data_dir) / "console-password").read_text().splitlines():
        m = re.match(r"^(\w+) = (.*)$", line)
        if m:
            fields[m.group(1)] = m.group(2)
    return fields


def set_password(server, user_id, password):
    out = subprocess.run([str(BINARY), "admin", "set-password", "--user", user_id,
                          "--password-stdin", "--data-dir", str(server.data_dir)],
                         input=password + "\n", capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


class Console:
    """A browser-like client: the session cookie and CSRF token, sent explicitly."""

    def __init__(self, server):
        self.server = server
        self.token = None
        self.csrf = None
        self.session = None

    def sign_in(self, account, user, password, expect=200):
        r = requests.post(self.server.url + "/console/api/session",
                          json={"account": account, "userName": user, "password": password})
        assert r.status_code == expect, r.text
        if r.status_code == 200:
            m = re.match(r"basalt_session=([^;]+);", r.headers["Set-Cookie"])
            self.token = m.group(1)
            self.session = r.json()
            self.csrf = self.session["csrfToken"]
        return r

    def request(self, method, path, csrf=True, headers=None, **kw):
        h = dict(headers or {})
        if self.token:
            h["Cookie"] = "basalt_session=" + self.token
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            h.setdefault("X-CSRF-Token", self.csrf)
        return requests.request(method, self.server.url + "/console/api" + path, headers=h,
                                timeout=120, **kw)


def converse_body(text="Once upon a time"):
    return {"messages": [{"role": "user", "content": [{"text": text}]}],
            "inferenceConfig": {"maxTokens": 4}}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    if not (MODELS_DIR / "stories260K.gguf").exists():
        pytest.skip(f"test models not found in {MODELS_DIR}")
    s = BasaltServer(tmp_path_factory.mktemp("console"), catalog=CATALOG, extra_args=[
        "--console-signin-max-failures", str(MAX_FAILURES),
        "--console-signin-lockout", str(LOCKOUT_S)])
    yield s
    s.stop()
    assert "unhandled exception" not in s.log_text()


@pytest.fixture(scope="module")
def admin_login(srv):
    return read_password_file(srv.data_dir)


@pytest.fixture(scope="module")
def admin(srv, admin_login):
    c = Console(srv)
    c.sign_in(admin_login["account_name"], admin_login["user_name"], admin_login["password"])
    return c


@pytest.fixture(scope="module")
def users(srv, admin_login):
    """reader (read-only), invoker (invoke-only), pw (for password changes), locked (for
    throttling), all in the operator account, and otheradmin in a second account."""
    acct = admin_login["account_id"]
    out = {}
    for name, policy in [("reader", "AmazonBedrockReadOnly"), ("invoker", "BasaltInvokeOnly"),
                         ("pw", "BasaltInvokeOnly"), ("locked", "BasaltInvokeOnly"),
                         ("revoked", "BasaltInvokeOnly")]:
        u = admin_cli(srv, "create-user", "--account", acct, name, "--policy", policy)["User"]
        set_password(srv, u["UserId"], name + "-password-1")
        out[name] = u
    other = admin_cli(srv, "create-account", "other")["Account"]
    u = admin_cli(srv, "create-user", "--account", other["AccountId"], "otheradmin",
                  "--role", "admin")["User"]
    set_password(srv, u["UserId"], "otheradmin-password-1")
    admin_cli(srv, "grant-model-access", "--account", other["AccountId"], MODEL)
    out["otheradmin"] = u
    out["other_account"] = other
    return out


def login(srv, users, name, account=None):
    c = Console(srv)
    acct = account or users[name].get("AccountId")
    c.sign_in(acct, name, name + "-password-1")
    return c


# Passwords and sign-in.

def test_first_start_password_file(srv, admin_login):
    path = srv.data_dir / "console-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert re.fullmatch(r"\d{12}", admin_login["account_id"])
    assert admin_login["account_name"] == "admin"
    assert admin_login["user_name"] == "admin"
    assert len(admin_login["password"]) >= 16


def test_sign_in_returns_session_and_cookie(srv, admin, admin_login):
    s = admin.session
    assert s["user"]["UserName"] == "admin"
    assert s["user"]["AccountId"] == admin_login["account_id"]
    assert s["user"]["AccountName"] == "admin"
    assert s["user"]["Arn"] == f"arn:aws:iam::{admin_login['account_id']}:user/admin"
    assert s["operator"] is True
    assert s["region"] == "us-east-1"
    assert s["endpoint"] == srv.url  # the origin the client used
    assert all(s["can"].values()), s["can"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s["expiresAt"])
    # By account id too.
    c = Console(srv)
    c.sign_in(admin_login["account_id"], "admin", admin_login["password"])
    assert c.token != admin.token and c.csrf != admin.csrf


def test_cookie_attributes(srv, admin_login):
    r = requests.post(srv.url + "/console/api/session", json={
        "account": "admin", "userName": "admin", "password": admin_login["password"]})
    cookie = r.headers["Set-Cookie"]
    assert re.match(r"basalt_session=[A-Za-z0-9_-]{43};", cookie), cookie
    for attr in ("Path=/", "HttpOnly", "SameSite=Strict", "Max-Age=43200"):
        assert attr in cookie.split("; "), cookie
    assert "Secure" not in cookie  # plain HTTP
    assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("account,user,password", [
    ("admin", "admin", "wrong-password"),
    ("admin", "nobody", "wrong-password"),
    ("no-such-account", "admin", "wrong-password"),
    ("000000000000", "admin", "wrong-password"),
])
def test_sign_in_failures_share_one_message(srv, admin_login, account, user, password):
    r = requests.post(srv.url + "/console/api/session",
                      json={"account": account, "userName": user, "password": password})
    assert r.status_code == 401
    assert r.headers["x-amzn-ErrorType"] == "UnrecognizedClientException"
    assert r.json() == {"message": SIGNIN_FAILED}
    assert "Set-Cookie" not in r.headers
    # Reset the failure count so later tests are not throttled.
    Console(srv).sign_in("admin", "admin", admin_login["password"])


@pytest.mark.parametrize("body", [
    "not json", "[]", json.dumps({"account": "admin", "userName": "admin"}),
    json.dumps({"account": 1, "userName": "admin", "password": "x"}),
    json.dumps({"account": "admin", "userName": "", "password": "x"}),
])
def test_sign_in_bad_bodies(srv, body):
    r = requests.post(srv.url + "/console/api/session", data=body)
    assert r.status_code == 400
    assert r.headers["x-amzn-ErrorType"] == "ValidationException"
    assert r.json()["message"]


def test_sign_in_throttling(srv, users):
    acct = users["locked"]["AccountId"]
    good = "locked-password-1"
    for _ in range(MAX_FAILURES):
        r = requests.post(srv.url + "/console/api/session",
                          json={"account": acct, "userName": "locked", "password": "bad-one"})
        assert r.status_code == 401
    # Locked: even the right password is refused, with Retry-After.
    for password in ("bad-one", good):
        r = requests.post(srv.url + "/console/api/session",
                          json={"account": acct, "userName": "locked", "password": password})
        assert r.status_code == 429, r.text
        assert r.headers["x-amzn-ErrorType"] == "ThrottlingException"
        assert int(r.headers["Retry-After"]) >= 1
    # The account's name shares the count with its id.
    r = requests.post(srv.url + "/console/api/session",
                      json={"account": "admin", "userName": "locked", "password": good})
    assert r.status_code == 429
    time.sleep(LOCKOUT_S + 0.2)
    # Another failure doubles the lockout.
    r = requests.post(srv.url + "/console/api/session",
                      json={"account": acct, "userName": "locked", "password": "bad-two"})
    assert r.status_code == 401
    r = requests.post(srv.url + "/console/api/session",
                      json={"account": acct, "userName": "locked", "password": good})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) == 2 * LOCKOUT_S
    time.sleep(2 * LOCKOUT_S + 0.2)
    Console(srv).sign_in(acct, "locked", good)  # a success resets the count
    r = requests.post(srv.url + "/console/api/session",
                      json={"account": acct, "userName": "locked", "password": "bad-three"})
    assert r.status_code == 401


# Sessions.

def test_get_session_and_sign_out(srv, admin_login):
    c = Console(srv)
    assert c.request("GET", "/session").status_code == 401
    c.sign_in("admin", "admin", admin_login["password"])
    r = c.request("GET", "/session")
    assert r.status_code == 200
    assert r.json()["user"]["UserName"] == "admin"
    assert r.json()["csrfToken"] == c.csrf
    # Sign-out needs the CSRF token too.
    assert c.request("DELETE", "/session", csrf=False).status_code == 403
    r = c.request("DELETE", "/session")
    assert r.status_code == 204
    assert "Max-Age=0" in r.headers["Set-Cookie"]
    r = c.request("GET", "/session")
    assert r.status_code == 401
    assert r.headers["x-amzn-ErrorType"] == "UnrecognizedClientException"
    assert c.request("GET", "/foundation-models").status_code == 401
    # Signing out without a session is harmless.
    assert c.request("DELETE", "/session").status_code == 204


def test_garbage_cookies(srv):
    for cookie in ("basalt_session=", "basalt_session=nope", "other=1",
                   "basalt_session=" + "A" * 5000, "a=1; basalt_session=\"x\"; b"):
        r = requests.get(srv.url + "/console/api/foundation-models", headers={"Cookie": cookie})
        assert r.status_code == 401, (cookie, r.text)
        assert r.json()["message"]
    # Control characters never reach the console (the HTTP layer refuses the request).
    r = requests.get(srv.url + "/console/api/foundation-models",
                     headers={"Cookie": "basalt_session=\x01\x02"})
    assert r.status_code in (400, 401)


def test_session_expiry(tmp_path):
    if not (MODELS_DIR / "stories260K.gguf").exists():
        pytest.skip("test models missing")
    s = BasaltServer(tmp_path / "expiry", extra_args=["--console-session-ttl", "1"])
    try:
        login_ = read_password_file(s.data_dir)
        c = Console(s)
        r = c.sign_in("admin", "admin", login_["password"])
        assert "Max-Age=1" in r.headers["Set-Cookie"]
        assert c.request("GET", "/foundation-models").status_code == 200
        time.sleep(2.1)
        assert c.request("GET", "/session").status_code == 401
        assert c.request("GET", "/foundation-models").status_code == 401
    finally:
        s.stop()


def test_change_password(srv, users):
    c = login(srv, users, "pw")
    r = c.request("PUT", "/session/password",
                  json={"currentPassword": "wrong-password", "newPassword": "pw-password-2"})
    assert r.status_code == 400
    r = c.request("PUT", "/session/password",
                  json={"currentPassword": "pw-password-1", "newPassword": "short"})
    assert r.status_code == 400
    assert r.json()["message"] == "Password should have a minimum length of 8 characters."
    other = login(srv, users, "pw")
    r = c.request("PUT", "/session/password", csrf=False,
                  json={"currentPassword": "pw-password-1", "newPassword": "pw-password-2"})
    assert r.status_code == 403
    r = c.request("PUT", "/session/password",
                  json={"currentPassword": "pw-password-1", "newPassword": "pw-password-2"})
    assert r.status_code == 204, r.text
    # This browser stays signed in; the user's other sessions end.
    assert c.request("GET", "/session").status_code == 200
    assert other.request("GET", "/session").status_code == 401
    Console(srv).sign_in(users["pw"]["AccountId"], "pw", "pw-password-1", expect=401)
    Console(srv).sign_in(users["pw"]["AccountId"], "pw", "pw-password-2")


def test_removing_the_password_ends_sessions(srv, users):
    c = login(srv, users, "revoked")
    assert c.request("GET", "/session").status_code == 200
    admin_cli(srv, "delete-password", "--user", users["revoked"]["UserId"])
    assert c.request("GET", "/session").status_code == 401
    Console(srv).sign_in(users["revoked"]["AccountId"], "revoked", "revoked-password-1",
                         expect=401)


# CSRF.

def test_csrf_refusals(srv, admin):
    path = f"/model/{MODEL}/converse"
    for headers, csrf in [({}, False), ({"X-CSRF-Token": "wrong"}, False),
                          ({"X-CSRF-Token": ""}, False),
                          ({"Origin": "http://evil.example"}, True),
                          ({"Origin": "null"}, True)]:
        r = admin.request("POST", path, csrf=csrf, headers=headers, json=converse_body())
        assert r.status_code == 403, (headers, r.text)
        assert r.headers["x-amzn-ErrorType"] == "AccessDeniedException"
        assert r.json() == {"message": CSRF_MESSAGE}
    host = srv.url.split("://", 1)[1]
    r = admin.request("POST", path, headers={"Origin": "http://" + host}, json=converse_body())
    assert r.status_code == 200, r.text
    # A cross-site sign-in form is refused too.
    r = requests.post(srv.url + "/console/api/session", headers={"Origin": "http://evil.example"},
                      json={"account": "admin", "userName": "admin", "password": "x"})
    assert r.status_code == 403


# Authorization through the console: the same route table and policies as SigV4.

def test_read_only_user(srv, users):
    c = login(srv, users, "reader")
    can = c.session["can"]
    assert can["listModels"] and not can["invoke"] and not can["manageUsers"]
    assert c.session["operator"] is True  # the operator account, without its privileges
    r = c.request("GET", "/foundation-models")
    assert r.status_code == 200
    assert any(m["modelId"] == MODEL for m in r.json()["modelSummaries"])
    r = c.request("POST", f"/model/{MODEL}/converse", json=converse_body())
    assert r.status_code == 403
    assert r.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert "bedrock:InvokeModel" in r.json()["message"]


def test_invoke_only_user(srv, users):
    c = login(srv, users, "invoker")
    can = c.session["can"]
    assert can["invoke"] and not can["manageOwnKeys"] and not can["manageUsers"]
    assert not can["approveAccess"] and not can["manageModels"] and not can["viewAccountUsage"]
    r = c.request("POST", f"/model/{MODEL}/converse", json=converse_body())
    assert r.status_code == 200, r.text
    assert r.json()["output"]["message"]["role"] == "assistant"
    for method, path, body in [
            ("POST", "/basalt/admin/api-keys", {}),
            ("POST", "/basalt/admin/access-keys", {}),
            ("GET", "/basalt/admin/users?accountId=" + users["invoker"]["AccountId"], None),
            ("POST", "/basalt/admin/users", {"name": "sneaky"})]:
        r = c.request(method, path, json=body)
        assert r.status_code == 403, (path, r.text)
        assert r.headers["x-amzn-ErrorType"] == "AccessDeniedException"


def test_other_account_sees_only_its_own(srv, users, admin, admin_login):
    # The operator's admin makes usage and a key in the operator account.
    r = admin.request("POST", f"/model/{MODEL}/converse", json=converse_body())
    assert r.status_code == 200
    op_request = r.headers["x-amzn-RequestId"]

    c = login(srv, users, "otheradmin")
    assert c.session["operator"] is False
    other_id = users["other_account"]["AccountId"]
    r = c.request("POST", f"/model/{MODEL}/converse", json=converse_body())
    assert r.status_code == 200, r.text
    r = c.request("GET", "/basalt/usage?records=true")
    assert r.status_code == 200
    ids = {rec["requestId"] for rec in r.json()["records"]}
    assert op_request not in ids and len(ids) == 1
    r = c.request("GET", "/basalt/usage?groupBy=user")
    assert r.json()["total"]["requests"] == 1
    # Users: its own account's only; the operator account's are refused.
    r = c.request("GET", "/basalt/admin/users?accountId=" + other_id)
    assert r.status_code == 200
    assert [u["UserName"] for u in r.json()["Users"]] == ["otheradmin"]
    r = c.request("GET", "/basalt/admin/users?accountId=" + admin_login["account_id"])
    assert r.status_code in (403, 404)
    # Keys of a user in another account.
    admin_user = admin.session["user"]["UserId"]
    r = c.request("GET", "/basalt/admin/access-keys?userId=" + admin_user)
    assert r.status_code in (403, 404)
    r = c.request("GET", "/basalt/admin/api-keys?userId=" + admin_user)
    assert r.status_code in (403, 404)
    r = c.request("GET", "/basalt/admin/accounts")
    assert r.status_code == 403


def test_playground_usage_is_recorded_with_source_console(srv, admin):
    r = admin.request("POST", f"/model/{MODEL}/converse", json=converse_body())
    assert r.status_code == 200
    request_id = r.headers["x-amzn-RequestId"]
    r = admin.request("POST", f"/model/{MODEL}/converse-stream", json=converse_body())
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/vnd.amazon.eventstream"
    stream_id = r.headers["x-amzn-RequestId"]
    r = admin.request("GET", "/basalt/usage?records=true")
    records = {rec["requestId"]: rec for rec in r.json()["records"]}
    assert records[request_id]["source"] == "console"
    assert records[request_id]["keyId"] == ""
    assert records[stream_id]["source"] == "console"
    r = admin.request("GET", "/basalt/usage?source=console")
    assert r.json()["total"]["requests"] >= 2


def test_sigv4_usage_is_recorded_with_source_api(srv, admin):
    import boto3
    rt = boto3.client("bedrock-runtime", endpoint_url=srv.url, region_name="us-east-1",
                      aws_access_key_id=srv.env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=srv.env["AWS_SECRET_ACCESS_KEY"])
    out = rt.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "Hi"}]}],
                      inferenceConfig={"maxTokens": 2})
    rid = out["ResponseMetadata"]["RequestId"]
    r = admin.request("GET", "/basalt/usage?records=true")
    assert {rec["requestId"]: rec for rec in r.json()["records"]}[rid]["source"] == "api"


def test_unknown_console_paths(srv, admin):
    r = admin.request("GET", "/no/such/thing")
    assert r.status_code == 404
    assert r.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert admin.request("PATCH", "/session").status_code == 404
    assert admin.request("GET", "/session/password").status_code == 404


# The catalog endpoint.

def test_catalog(srv, admin, users):
    r = admin.request("GET", "/basalt/catalog")
    assert r.status_code == 200
    models = {m["modelId"]: m for m in r.json()["models"]}
    m = models[MODEL]
    assert m["served"] is True and m["access"] == "GRANTED"
    assert m["providerName"] == "TinyStories"
    assert m["contextLength"] == 512
    assert m["price"] == {"inputPer1kTokens": 0.001, "outputPer1kTokens": 0.002, "perImage": None}
    assert m["modelArn"] == f"arn:aws:bedrock:us-east-1::foundation-model/{MODEL}"
    assert m["regions"] == ["us-east-1"]
    assert m["responseStreamingSupported"] is True
    missing = models["test.missing-weights-v1:0"]
    assert missing["served"] is False and missing["access"] == "NOT_AVAILABLE"
    # Another account: access as that account has it.
    c = login(srv, users, "otheradmin")
    models = {m["modelId"]: m for m in c.request("GET", "/basalt/catalog").json()["models"]}
    assert models[MODEL]["access"] == "GRANTED"
    assert models["test.llama-2-tiny-random-v1:0"]["access"] == "AVAILABLE"
    # SigV4 callers reach it too; a user without ListFoundationModels does not.
    reader = login(srv, users, "reader")
    assert reader.request("GET", "/basalt/catalog").status_code == 200


def test_catalog_needs_list_permission(srv, admin_login):
    acct = admin_login["account_id"]
    u = admin_cli(srv, "create-user", "--account", acct, "nolist", "--policy",
                  "BasaltInvokeOnly")["User"]
    admin_cli(srv, "detach-policy", "--user", u["UserId"], "BasaltInvokeOnly")
    set_password(srv, u["UserId"], "nolist-password-1")
    c = Console(srv)
    c.sign_in(acct, "nolist", "nolist-password-1")
    assert not any(c.session["can"].values()), c.session["can"]
    r = c.request("GET", "/basalt/catalog")
    assert r.status_code == 403


# Static files.

def index_built(srv):
    r = requests.get(srv.url + "/")
    return "was not built" not in r.text


def test_index_and_security_headers(srv):
    r = requests.get(srv.url + "/")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["Content-Security-Policy"] == (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert r.headers["Cache-Control"] == "no-cache"
    # Page paths of the app serve the same page, without authentication.
    for page in ("/signin", "/catalog", f"/catalog/{MODEL}", "/playground/chat", "/usage",
                 "/settings"):
        p = requests.get(srv.url + page)
        assert p.status_code == 200, page
        assert p.text == r.text


def test_gzip_etag_and_assets(srv):
    if not index_built(srv):
        pytest.skip("this build embeds no web console (web/dist was not built)")
    r = requests.get(srv.url + "/", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.headers["Vary"] == "Accept-Encoding"
    etag = r.headers["ETag"]
    plain = requests.get(srv.url + "/", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert plain.text == r.text
    r304 = requests.get(srv.url + "/", headers={"If-None-Match": etag})
    assert r304.status_code == 304
    assert r304.content == b""
    assert r304.headers["ETag"] == etag
    # An asset named in index.html.
    asset = re.search(r'(/assets/[^"]+\.js)"', r.text).group(1)
    a = requests.get(srv.url + asset)
    assert a.status_code == 200
    assert a.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert a.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Content-Security-Policy" not in a.headers
    r = requests.get(srv.url + "/assets/no-such-file.js")
    assert r.status_code == 404
    assert r.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"


def test_static_paths_do_not_shadow_the_api(srv):
    # A SigV4 path is still the API's (and unauthenticated it is refused, not served a page).
    r = requests.get(srv.url + "/foundation-models")
    assert r.status_code == 403
    r = requests.post(srv.url + "/signin")
    assert r.status_code in (403, 404)


def raw_get(url, path):
    host, port = url.split("://", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


def test_console_dir_for_development(tmp_path):
    if not (MODELS_DIR / "stories260K.gguf").exists():
        pytest.skip("test models missing")
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><p>dev build</p>")
    (dist / "assets" / "app-123.js").write_text("console.log('dev')")
    (tmp_path / "secret.txt").write_text("top secret")
    os.symlink(tmp_path / "secret.txt", dist / "assets" / "link.js")
    s = BasaltServer(tmp_path / "data", extra_args=["--console-dir", str(dist)])
    try:
        assert requests.get(s.url + "/").text == "<!doctype html><p>dev build</p>"
        assert requests.get(s.url + "/users").text == "<!doctype html><p>dev build</p>"
        assert requests.get(s.url + "/assets/app-123.js").text == "console.log('dev')"
        for path in ("/assets/../../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt",
                     "/assets/..%2f..%2fsecret.txt", "/assets/link.js", "/assets//etc/passwd",
                     "/assets/../secret.txt"):
            status, body = raw_get(s.url, path)
            assert status in (403, 404), path
            assert b"top secret" not in body, path
    finally:
        s.stop()


def test_later_start_writes_a_password_when_the_admin_has_none(tmp_path):
    if not (MODELS_DIR / "stories260K.gguf").exists():
        pytest.skip("test models missing")
    data = tmp_path / "restart"
    s = BasaltServer(data)
    first = read_password_file(data)
    admin_user = admin_cli(s, "list-users", "--account", first["account_id"])["Users"][0]
    s.stop()
    # Restarting with a password set changes nothing.
    s = BasaltServer(data)
    assert read_password_file(data) == first
    admin_cli(s, "delete-password", "--user", admin_user["UserId"])
    s.stop()
    s = BasaltServer(data)
    try:
        second = read_password_file(data)
        assert second["password"] != first["password"]
        Console(s).sign_in("admin", "admin", second["password"])
        Console(s).sign_in("admin", "admin", first["password"], expect=401)
    finally:
        s.stop()
