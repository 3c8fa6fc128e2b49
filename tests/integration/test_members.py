"""Members (docs/apps.md, "Members"): OpenID Connect sign-in through the project's own test
provider (tests/fixtures/oidc_provider.py), self-service sign-up and member sign-in, the
personal space a member gets (member policy, model access for --member-models), and the
refusals: state, nonce and PKCE mismatches, tampered or unsigned tokens, wrong audience or
issuer, expired tokens, open redirects, sign-up off, duplicate e-mail, weak passwords."""
import json
import pathlib
import sys
import urllib.parse

import pytest
import requests

from conftest import MODELS_DIR, BasaltServer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "fixtures"))
from oidc_provider import OidcProvider  # noqa: E402

MEMBER_MODEL = "tinystories.stories-260k-v1:0"
OTHER_MODEL = "test.llama-2-tiny-random-v1:0"
SIGNIN_FAILED = "Your authentication information is incorrect. Please try again."


@pytest.fixture(scope="module")
def idps():
    rs = OidcProvider(client_id="basalt-test", client_secret="s3cret-rs")
    es = OidcProvider(client_id="basalt-es", client_secret="s3cret:es", alg="ES256",
                      auth_method="client_secret_basic", sub="es-user-7", email="",
                      name="Grace Hopper")
    rs.start()
    es.start()
    yield {"test": rs, "es": es}
    rs.stop()
    es.stop()


def write_config(tmp, idps):
    cfg = [{"id": "test", "label": "Test IdP", "issuer": idps["test"].issuer,
            "clientId": "basalt-test", "clientSecret": "s3cret-rs"},
           {"id": "es", "label": "ES provider", "issuer": idps["es"].issuer,
            "clientId": "basalt-es", "clientSecret": "s3cret:es", "scopes": "openid profile"}]
    path = pathlib.Path(tmp) / "oidc.json"
    path.write_text(json.dumps(cfg))
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory, idps):
    if not (MODELS_DIR / "stories260K.gguf").exists():
        pytest.skip(f"test models not found in {MODELS_DIR}")
    tmp = tmp_path_factory.mktemp("members")
    s = BasaltServer(tmp / "data", extra_args=[
        "--oidc-config", str(write_config(tmp, idps)), "--allow-signup",
        "--member-models", MEMBER_MODEL, "--console-signin-max-failures", "3",
        "--console-signin-lockout", "1"])
    yield s
    s.stop()
    assert "unhandled exception" not in s.log_text()


@pytest.fixture(autouse=True)
def well_behaved(idps):
    for idp in idps.values():
        idp.misbehave = {}
    yield


def oidc_login(server, provider="test", next_path="/apps", tamper=None, browser=None):
    """Runs the browser side of the authorization-code flow by hand; returns the requests
    session and the final reply of Basalt's callback. `tamper(url) -> url` may change the
    provider's authorization URL before it is visited."""
    s = browser or requests.Session()
    r = s.get(server.url + "/console/oidc/" + provider + "/start",
              params={"next": next_path}, allow_redirects=False)
    assert r.status_code == 302, r.text
    auth_url = r.headers["Location"]
    if tamper:
        auth_url = tamper(auth_url)
    r = s.get(auth_url, allow_redirects=False)
    assert r.status_code == 302, r.text
    callback = r.headers["Location"]
    assert callback.startswith(server.url + "/console/oidc/" + provider + "/callback?")
    return s, s.get(callback, allow_redirects=False)


def session_of(server, s):
    r = s.get(server.url + "/console/api/session")
    assert r.status_code == 200, r.text
    return r.json()


def converse(server, s, model, text="Once upon a time"):
    csrf = session_of(server, s)["csrfToken"]
    return s.post(server.url + f"/console/api/model/{model}/converse",
                  headers={"X-CSRF-Token": csrf},
                  json={"messages": [{"role": "user", "content": [{"text": text}]}],
                        "inferenceConfig": {"maxTokens": 8}})


def error_code(reply):
    assert reply.status_code == 302, reply.text
    loc = urllib.parse.urlsplit(reply.headers["Location"])
    assert loc.path == "/signin", reply.headers["Location"]
    return urllib.parse.parse_qs(loc.query)["error"][0]


def test_config_lists_providers_and_signup(server):
    r = requests.get(server.url + "/console/api/members/config")
    assert r.status_code == 200
    assert r.json() == {"providers": [{"id": "test", "label": "Test IdP"},
                                      {"id": "es", "label": "ES provider"}],
                        "signup": True}


def test_start_redirects_with_pkce_state_and_nonce(server, idps):
    r = requests.get(server.url + "/console/oidc/test/start?next=/apps", allow_redirects=False)
    assert r.status_code == 302
    loc = urllib.parse.urlsplit(r.headers["Location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == idps["test"].issuer + "/authorize"
    q = urllib.parse.parse_qs(loc.query)
    assert q["response_type"] == ["code"] and q["client_id"] == ["basalt-test"]
    assert q["code_challenge_method"] == ["S256"] and len(q["code_challenge"][0]) == 43
    assert len(q["state"][0]) >= 43 and len(q["nonce"][0]) >= 32
    assert q["scope"] == ["openid email profile"]
    assert q["redirect_uri"] == [server.url + "/console/oidc/test/callback"]
    assert "basalt_oidc=" + q["state"][0] in r.headers["Set-Cookie"]
    assert "HttpOnly" in r.headers["Set-Cookie"]


def test_oidc_login_makes_a_member_who_can_converse_at_once(server, idps):
    s, r = oidc_login(server, next_path="/apps/mine?x=1")
    assert r.status_code == 302, r.text
    assert r.headers["Location"] == "/apps/mine?x=1"
    cookies = r.headers["Set-Cookie"]
    assert "basalt_session=" in cookies and "HttpOnly" in cookies
    me = session_of(server, s)
    assert me["user"]["UserName"] == "ada@example.com"
    assert me["user"]["AccountName"] == "Ada Lovelace's space"
    assert me["operator"] is False
    assert me["can"]["invoke"] is True and me["can"]["manageUsers"] is False
    assert me["can"]["viewUsage"] is True and me["can"]["manageOwnKeys"] is True
    # No keys, no policies, no access requests: the member model answers at once.
    r = converse(server, s, MEMBER_MODEL)
    assert r.status_code == 200, r.text
    assert r.json()["output"]["message"]["content"][0]["text"]
    # The token request carried the PKCE verifier and the client secret (post).
    form, auth = idps["test"].token_requests[-1]
    assert form["code_verifier"] and form["client_secret"] == "s3cret-rs" and not auth

    # A second sign-in maps to the same user and account.
    s2, r2 = oidc_login(server)
    assert r2.status_code == 302 and r2.headers["Location"] == "/apps"
    again = session_of(server, s2)
    assert again["user"]["UserId"] == me["user"]["UserId"]
    assert again["user"]["AccountId"] == me["user"]["AccountId"]


def test_member_cannot_use_a_model_outside_member_models(server):
    s, r = oidc_login(server)
    assert r.status_code == 302
    r = converse(server, s, OTHER_MODEL)
    assert r.status_code == 403, r.text
    assert r.headers["x-amzn-ErrorType"].startswith("AccessDeniedException")
    # Nor administer anything.
    csrf = session_of(server, s)["csrfToken"]
    r = s.get(server.url + "/console/api/basalt/admin/users", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403, r.text


def test_es256_provider_with_client_secret_basic_and_no_email(server, idps):
    s, r = oidc_login(server, provider="es")
    assert r.status_code == 302, r.text
    me = session_of(server, s)
    assert me["user"]["UserName"] == "es-user-7"  # no email claim: the subject
    assert me["user"]["AccountName"] == "Grace Hopper's space"
    form, auth = idps["es"].token_requests[-1]
    assert auth.startswith("Basic ") and "client_secret" not in form
    assert converse(server, s, MEMBER_MODEL).status_code == 200


@pytest.mark.parametrize("knob,value,reason", [
    ("aud", "another-client", "audience does not include this client"),
    ("iss", "https://evil.example", "issuer \"https://evil.example\" is not expected"),
    ("expired", True, "ID token refused: expired"),
    ("bad_signature", True, "ID token refused: bad signature"),
    ("nonce", "not-the-nonce", "nonce does not match"),
    ("alg_none", True, "algorithm \"none\" is not accepted"),
    ("unknown_kid", True, "unknown key \"rotated-away\"")])
def test_bad_id_tokens_are_refused(server, idps, knob, value, reason):
    idps["test"].misbehave = {knob: value}
    before = len(server.log_text())
    s, r = oidc_login(server)
    assert error_code(r) == "oidc_failed"
    assert "basalt_session=" not in r.headers.get("Set-Cookie", "")
    assert s.get(server.url + "/console/api/session").status_code == 401
    assert reason in server.log_text()[before:]


def test_tampered_pkce_challenge_is_refused(server):
    def other_challenge(url):
        return url.replace("code_challenge=", "code_challenge=AAAA", 1)
    _, r = oidc_login(server, tamper=other_challenge)
    assert error_code(r) == "oidc_failed"


def test_state_mismatches_are_refused(server, idps):
    s, r = oidc_login(server)
    assert r.status_code == 302 and r.headers["Location"] == "/apps"
    # Replaying the same callback (state already used).
    start = s.get(server.url + "/console/oidc/test/start", allow_redirects=False)
    cb = s.get(start.headers["Location"], allow_redirects=False).headers["Location"]
    assert s.get(cb, allow_redirects=False).status_code == 302
    assert error_code(s.get(cb, allow_redirects=False)) == "oidc_state"
    # A state we never issued.
    bogus = server.url + "/console/oidc/test/callback?code=x&state=not-a-state"
    assert error_code(requests.get(bogus, allow_redirects=False)) == "oidc_state"
    # A state issued to another browser (login CSRF): the callback arrives without its cookie.
    start = requests.get(server.url + "/console/oidc/test/start", allow_redirects=False)
    cb = requests.get(start.headers["Location"], allow_redirects=False).headers["Location"]
    assert error_code(requests.get(cb, allow_redirects=False)) == "oidc_state"
    # A state issued for the other provider.
    s = requests.Session()
    start = s.get(server.url + "/console/oidc/test/start", allow_redirects=False)
    cb = s.get(start.headers["Location"], allow_redirects=False).headers["Location"]
    assert error_code(s.get(cb.replace("/oidc/test/", "/oidc/es/"), allow_redirects=False)) \
        == "oidc_state"
    # The provider said no.
    s = requests.Session()
    start = s.get(server.url + "/console/oidc/test/start", allow_redirects=False)
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(start.headers["Location"]).query)["state"]
    r = s.get(server.url + "/console/oidc/test/callback",
              params={"error": "access_denied", "state": state[0]}, allow_redirects=False)
    assert error_code(r) == "oidc_denied"
    # An unknown provider.
    r = requests.get(server.url + "/console/oidc/nope/start", allow_redirects=False)
    assert error_code(r) == "unknown_provider"


@pytest.mark.parametrize("next_path", [
    "//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)",
    "evil.example", "/ok\r\nSet-Cookie: x=1"])
def test_open_redirects_are_refused(server, next_path):
    r = requests.get(server.url + "/console/oidc/test/start", params={"next": next_path},
                     allow_redirects=False)
    assert r.status_code == 400, r.text
    assert r.headers["x-amzn-ErrorType"].startswith("ValidationException")


def test_signup_then_signin_and_converse(server):
    s = requests.Session()
    r = s.post(server.url + "/console/api/members/signup",
               json={"email": "Lin@Example.com", "password": "correct horse battery",
                     "name": "Lin"})
    assert r.status_code == 201, r.text
    assert r.json()["user"]["UserName"] == "lin@example.com"
    assert r.json()["user"]["AccountName"] == "Lin's space"
    assert "basalt_session=" in r.headers["Set-Cookie"]
    assert converse(server, s, MEMBER_MODEL).status_code == 200
    assert converse(server, s, OTHER_MODEL).status_code == 403

    # Duplicate e-mail (any case) -> 409.
    r = requests.post(server.url + "/console/api/members/signup",
                      json={"email": "lin@example.COM", "password": "another good one"})
    assert r.status_code == 409, r.text
    assert r.headers["x-amzn-ErrorType"].startswith("ConflictException")

    # Sign in again with the password.
    s2 = requests.Session()
    r = s2.post(server.url + "/console/api/members/signin",
                json={"email": "lin@example.com", "password": "correct horse battery"})
    assert r.status_code == 200, r.text
    assert session_of(server, s2)["user"]["UserId"] == r.json()["user"]["UserId"]
    r = requests.post(server.url + "/console/api/members/signin",
                      json={"email": "lin@example.com", "password": "wrong password!"})
    assert r.status_code == 401 and r.json()["message"] == SIGNIN_FAILED
    r = requests.post(server.url + "/console/api/members/signin",
                      json={"email": "nobody@example.com", "password": "wrong password!"})
    assert r.status_code == 401 and r.json()["message"] == SIGNIN_FAILED


@pytest.mark.parametrize("body,why", [
    ({"email": "weak@example.com", "password": "short"}, "password"),
    ({"email": "not-an-email", "password": "long enough pass"}, "e-mail"),
    ({"email": "a@b", "password": "long enough pass"}, "e-mail"),
    ({"email": "a b@example.com", "password": "long enough pass"}, "e-mail"),
    ({"password": "long enough pass"}, "email"),
    ({"email": "x@example.com"}, "password")])
def test_signup_validation(server, body, why):
    r = requests.post(server.url + "/console/api/members/signup", json=body)
    assert r.status_code == 400, r.text
    assert r.headers["x-amzn-ErrorType"].startswith("ValidationException")
    assert why in r.json()["message"].lower()


def test_member_signin_is_throttled(server):
    requests.post(server.url + "/console/api/members/signup",
                  json={"email": "throttle@example.com", "password": "right password 1"})
    codes = [requests.post(server.url + "/console/api/members/signin",
                           json={"email": "throttle@example.com",
                                 "password": "wrong"}).status_code for _ in range(4)]
    assert codes[:3] == [401, 401, 401] and codes[3] == 429, codes
    r = requests.post(server.url + "/console/api/members/signin",
                      json={"email": "throttle@example.com", "password": "right password 1"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_signup_refused_from_another_origin(server):
    r = requests.post(server.url + "/console/api/members/signup",
                      headers={"Origin": "https://evil.example"},
                      json={"email": "csrf@example.com", "password": "long enough pass"})
    assert r.status_code == 403


def test_signup_off(tmp_path, idps):
    if not (MODELS_DIR / "stories260K.gguf").exists():
        pytest.skip("test models not found")
    s = BasaltServer(tmp_path / "data")
    try:
        r = requests.get(s.url + "/console/api/members/config")
        assert r.json() == {"providers": [], "signup": False}
        r = requests.post(s.url + "/console/api/members/signup",
                          json={"email": "x@example.com", "password": "long enough pass"})
        assert r.status_code == 403, r.text
        assert "not enabled" in r.json()["message"]
        r = requests.get(s.url + "/console/oidc/test/start", allow_redirects=False)
        assert error_code(r) == "unknown_provider"
    finally:
        s.stop()


def test_bad_oidc_config_stops_the_start(tmp_path):
    bad = tmp_path / "oidc.json"
    bad.write_text(json.dumps([{"id": "x", "issuer": "http://idp.example.com",
                                "clientId": "c"}]))
    with pytest.raises(RuntimeError, match="plain http"):
        BasaltServer(tmp_path / "data", extra_args=["--oidc-config", str(bad)])


def test_https_provider_certificate_is_verified(tmp_path):
    """Over https the provider's certificate must chain to a trusted CA: a self-signed one is
    refused, and accepted once SSL_CERT_FILE names it."""
    if not (MODELS_DIR / "stories260K.gguf").exists():
        pytest.skip("test models not found")
    with OidcProvider(client_id="basalt-tls", client_secret="tls-secret", tls=True) as idp:
        assert idp.issuer.startswith("https://127.0.0.1:")
        cfg = tmp_path / "oidc.json"
        cfg.write_text(json.dumps([{"id": "tls", "label": "TLS", "issuer": idp.issuer,
                                    "clientId": "basalt-tls", "clientSecret": "tls-secret"}]))
        untrusted = BasaltServer(tmp_path / "a", extra_args=["--oidc-config", str(cfg)])
        try:
            r = requests.get(untrusted.url + "/console/oidc/tls/start", allow_redirects=False)
            assert error_code(r) == "provider_unavailable"
            assert "certificate" in untrusted.log_text()
        finally:
            untrusted.stop()
        trusted = BasaltServer(tmp_path / "b", extra_args=["--oidc-config", str(cfg)],
                               env={"SSL_CERT_FILE": idp.cert_file})
        try:
            s = requests.Session()
            s.verify = idp.cert_file
            _, r = oidc_login(trusted, provider="tls", browser=s)
            assert r.status_code == 302 and r.headers["Location"] == "/apps", \
                r.headers.get("Location")
            assert session_of(trusted, s)["user"]["UserName"] == "ada@example.com"
        finally:
            trusted.stop()


def test_identity_link_survives_a_restart(tmp_path, idps):
    if not (MODELS_DIR / "stories260K.gguf").exists():
        pytest.skip("test models not found")
    cfg = write_config(tmp_path, idps)
    first = BasaltServer(tmp_path / "data", extra_args=["--oidc-config", str(cfg)])
    try:
        s, r = oidc_login(first, provider="es")
        assert r.status_code == 302
        before = session_of(first, s)["user"]
    finally:
        first.stop()
    again = BasaltServer(tmp_path / "data", extra_args=["--oidc-config", str(cfg)])
    try:
        s, r = oidc_login(again, provider="es")
        assert r.status_code == 302
        after = session_of(again, s)["user"]
        assert (after["UserId"], after["AccountId"]) == (before["UserId"], before["AccountId"])
    finally:
        again.stop()
