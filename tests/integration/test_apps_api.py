"""The apps HTTP API (issue 10, docs/apps.md): definitions, versions, conflicts, validation,
authorization between users of one account and of two accounts, sharing, remix, Discover's
samples, documents, Generate with the test models, and Backstage against the usage records.
Every request is SigV4-signed, as boto3 signs it."""
import http.client
import json
import re
import subprocess
import time

import pytest

from conftest import BINARY, TEST_CATALOG, BasaltServer, MODELS_DIR, admin_cli

MODEL = "tinystories.stories-260k-v1:0"
# stories260K alone, with a 4096-token context: Generate's instructions and schema take over
# 512 of its tokens, and its answer (up to 1500 tokens) must fit beside them. Beyond the
# positions it was trained on the grammar still keeps the answer well-formed.
CATALOG = {"models": [dict(TEST_CATALOG["models"][0], contextLength=4096)]}
HANGUL = re.compile("[\uac00-\ud7a3]")


def request(server, who, method, path, body=None, raw=None, content_type="application/json"):
    """A signed request as `who` ({"key", "secret"}); returns status, headers, parsed JSON
    (or the raw bytes when the reply is not JSON)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    req = AWSRequest(method=method, url=server.url + path, data=data,
                     headers={"Content-Type": content_type})
    SigV4Auth(Credentials(who["key"], who["secret"]), "bedrock", "us-east-1").add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    conn.request(method, path, body=data, headers=dict(req.headers.items()))
    r = conn.getresponse()
    payload = r.read()
    headers = {k.lower(): v for k, v in r.getheaders()}
    try:
        parsed = json.loads(payload) if payload else {}
    except ValueError:
        parsed = payload
    return r.status, headers, parsed


def user_with_key(server, account, name, *policies):
    args = ["create-user", "--account", account, name]
    for p in policies:
        args += ["--policy", p]
    user = admin_cli(server, *args)["User"]
    key = admin_cli(server, "create-access-key", "--user", user["UserId"])["AccessKey"]
    return {"user": user["UserId"], "account": account, "name": name,
            "key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    if not (MODELS_DIR / "stories260K.gguf").exists():
        pytest.skip(f"test models not found in {MODELS_DIR}")
    s = BasaltServer(tmp_path_factory.mktemp("apps"), catalog=CATALOG,
                     extra_args=("--max-document-size", "64K", "--daily-app-credits", "50"))
    try:
        admin_account = next(a["AccountId"] for a in admin_cli(s, "list-accounts")["Accounts"]
                             if a["Name"] == "admin")
        other = admin_cli(s, "create-account", "other")["Account"]["AccountId"]
        admin_cli(s, "grant-model-access", "--account", other, "*")
        users = {
            "alice": user_with_key(s, admin_account, "alice", "AmazonBedrockFullAccess"),
            "bob": user_with_key(s, admin_account, "bob", "AmazonBedrockFullAccess"),
            "carol": user_with_key(s, other, "carol", "AmazonBedrockFullAccess"),
        }
        yield s, users
    finally:
        s.stop()
        assert "unhandled exception" not in s.log_text()


def widget(wid, wtype, title, y, **extra):
    return {"id": wid, "type": wtype, "title": title,
            "layout": {"x": 0, "y": y, "w": 12, "h": 2}, **extra}


def trip_definition(title="Trip planner", model=""):
    return {
        "schemaVersion": 1, "title": title, "description": "Plans a trip.",
        "widgets": [
            widget("w1", "user-input", "Destination", 0, placeholder="Where to?", default="Jeju"),
            widget("w2", "text-generation", "Itinerary", 2,
                   prompt="Plan three days in @Destination.", model=model,
                   temperature=0.5, topP=0.9, maxTokens=32),
        ],
    }


def create(s, who, definition=None):
    st, _, body = request(s, who, "POST", "/basalt/apps",
                          {"definition": definition} if definition is not None else {})
    assert st == 201, body
    return body["app"]


def test_crud_versions_and_conflicts(world):
    s, u = world
    blank = create(s, u["alice"])
    assert blank["title"] == "Untitled app" and blank["version"] == 1
    assert blank["definition"]["widgets"] == [] and blank["isOwner"] is True
    assert blank["visibility"] == "private" and "shareToken" not in blank
    assert blank["owner"] == {"userName": "alice"} and blank["remixedFrom"] is None
    app_id = blank["appId"]
    assert re.fullmatch(r"app-[0-9a-f]{16}", app_id)

    st, _, got = request(s, u["alice"], "GET", f"/basalt/apps/{app_id}")
    assert st == 200 and got["app"]["appId"] == app_id
    st, _, mine = request(s, u["alice"], "GET", "/basalt/apps")
    assert st == 200 and app_id in [a["appId"] for a in mine["apps"]]

    st, _, put = request(s, u["alice"], "PUT", f"/basalt/apps/{app_id}",
                         {"definition": trip_definition(model=MODEL), "baseVersion": 1})
    assert st == 200, put
    assert put["app"]["version"] == 2 and put["app"]["title"] == "Trip planner"
    assert put["app"]["definition"]["widgets"][1]["model"] == MODEL

    # An edit made from version 1 after version 2 was saved: 409, nothing saved.
    st, h, stale = request(s, u["alice"], "PUT", f"/basalt/apps/{app_id}",
                           {"definition": trip_definition("Other title"), "baseVersion": 1})
    assert st == 409 and h["x-amzn-errortype"] == "ConflictException", stale
    st, _, got = request(s, u["alice"], "GET", f"/basalt/apps/{app_id}")
    assert got["app"]["version"] == 2 and got["app"]["title"] == "Trip planner"

    st, _, versions = request(s, u["alice"], "GET", f"/basalt/apps/{app_id}/versions")
    assert st == 200
    assert [(v["version"], v["note"]) for v in versions["versions"]] == [(2, "edited"),
                                                                        (1, "created")]
    st, _, v1 = request(s, u["alice"], "GET", f"/basalt/apps/{app_id}/versions/1")
    assert st == 200 and v1["definition"]["title"] == "Untitled app"

    # Undo: restore version 1 as version 3.
    st, _, restored = request(s, u["alice"], "POST", f"/basalt/apps/{app_id}/versions/1/restore",
                              {})
    assert st == 200, restored
    assert restored["app"]["version"] == 3
    assert restored["app"]["definition"] == v1["definition"]
    st, _, versions = request(s, u["alice"], "GET", f"/basalt/apps/{app_id}/versions")
    assert versions["versions"][0]["note"] == "restored 1"
    st, h, _ = request(s, u["alice"], "POST", f"/basalt/apps/{app_id}/versions/9/restore", {})
    assert st == 404 and h["x-amzn-errortype"] == "ResourceNotFoundException"

    st, _, _ = request(s, u["alice"], "DELETE", f"/basalt/apps/{app_id}")
    assert st == 204
    st, h, _ = request(s, u["alice"], "GET", f"/basalt/apps/{app_id}")
    assert st == 404 and h["x-amzn-errortype"] == "ResourceNotFoundException"

    st, h, schema = request(s, u["alice"], "GET", "/basalt/apps/schema")
    assert st == 200 and "widgets" in json.dumps(schema)


def test_invalid_definitions_name_the_widgets(world):
    s, u = world
    app = create(s, u["alice"], trip_definition())

    def refused(definition):
        st, h, body = request(s, u["alice"], "PUT", f"/basalt/apps/{app['appId']}",
                              {"definition": definition})
        assert st == 400 and h["x-amzn-errortype"] == "ValidationException", body
        return body["message"]

    cycle = trip_definition()
    cycle["widgets"] = [
        widget("a", "text-generation", "Summary", 0, prompt="Shorten @Title"),
        widget("b", "text-generation", "Title", 2, prompt="Name @Summary"),
    ]
    msg = refused(cycle)
    assert "cycle" in msg and "Summary" in msg and "Title" in msg

    missing = trip_definition()
    missing["widgets"][1]["prompt"] = "Plan a trip to @Destinaton please"
    msg = refused(missing)
    assert "Itinerary" in msg and "Destinaton" in msg

    unknown = trip_definition(model="no.such-model-v9")
    msg = refused(unknown)
    assert "Itinerary" in msg and "no.such-model-v9" in msg

    wrong_type = trip_definition()
    wrong_type["widgets"][0]["type"] = "slider"
    assert refused(wrong_type)
    assert refused({"schemaVersion": 1, "title": "x", "widgets": "nope"})
    assert refused("not an object")

    # None of it was saved; a new app with a bad definition is refused too.
    st, _, got = request(s, u["alice"], "GET", f"/basalt/apps/{app['appId']}")
    assert got["app"]["version"] == 1
    st, _, body = request(s, u["alice"], "POST", "/basalt/apps", {"definition": cycle})
    assert st == 400 and "cycle" in body["message"]


def test_authorization_sharing_and_withdrawal(world):
    s, u = world
    alice, bob, carol = u["alice"], u["bob"], u["carol"]
    app = create(s, alice, trip_definition("Alice's private app"))
    app_id = app["appId"]
    # Another user, of the same account or of another: the app does not exist for them.
    for who in (bob, carol):
        for method, path, body in [
                ("GET", f"/basalt/apps/{app_id}", None),
                ("PUT", f"/basalt/apps/{app_id}", {"definition": trip_definition("Mine now")}),
                ("DELETE", f"/basalt/apps/{app_id}", None),
                ("GET", f"/basalt/apps/{app_id}/versions", None),
                ("POST", f"/basalt/apps/{app_id}/versions/1/restore", {}),
                ("PUT", f"/basalt/apps/{app_id}/share", {}),
                ("POST", f"/basalt/apps/{app_id}/remix", {}),
                ("GET", f"/basalt/apps/{app_id}/runs", None),
                ("POST", "/basalt/apps/generate", {"description": "x", "appId": app_id})]:
            st, h, reply = request(s, who, method, path, body)
            assert st == 404 and h["x-amzn-errortype"] == "ResourceNotFoundException", \
                (who["name"], method, path, reply)
        st, _, theirs = request(s, who, "GET", "/basalt/apps")
        assert app_id not in [a["appId"] for a in theirs["apps"]]

    st, _, shared = request(s, alice, "PUT", f"/basalt/apps/{app_id}/share", {"listed": False})
    assert st == 200 and shared["app"]["visibility"] == "public"
    token = shared["app"]["shareToken"]
    assert shared["app"]["shareUrl"] == f"/shared/{token}"
    for who in (bob, carol):
        st, _, seen = request(s, who, "GET", f"/basalt/shared/{token}")
        assert st == 200 and seen["app"]["isOwner"] is False and seen["app"]["owner"] is None
        text = json.dumps(seen)
        for secret in (alice["user"], alice["account"], alice["key"], "alice"):
            assert secret not in text
        # The link opens the shared view only: still no access by id, no edits.
        st, _, _ = request(s, who, "GET", f"/basalt/apps/{app_id}")
        assert st == 404
        st, _, _ = request(s, who, "PUT", f"/basalt/apps/{app_id}",
                           {"definition": trip_definition("Mine now")})
        assert st == 404
    st, _, own_view = request(s, alice, "GET", f"/basalt/shared/{token}")
    assert own_view["app"]["isOwner"] is True
    st, _, discover = request(s, bob, "GET", "/basalt/discover")
    assert app_id not in [a["appId"] for a in discover["apps"]]  # shared, not listed

    st, _, private = request(s, alice, "DELETE", f"/basalt/apps/{app_id}/share")
    assert st == 200 and private["app"]["visibility"] == "private"
    assert "shareToken" not in private["app"]
    for who in (bob, carol, alice):
        st, h, _ = request(s, who, "GET", f"/basalt/shared/{token}")
        assert st == 404 and h["x-amzn-errortype"] == "ResourceNotFoundException"
        st, _, _ = request(s, who, "POST", f"/basalt/shared/{token}/remix", {})
        assert st == 404
    st, _, _ = request(s, bob, "GET", "/basalt/shared/not-a-token")
    assert st == 404


def test_remix_records_origin_and_is_independent(world):
    s, u = world
    alice, carol = u["alice"], u["carol"]
    app = create(s, alice, trip_definition("Remixable"))
    st, _, shared = request(s, alice, "PUT", f"/basalt/apps/{app['appId']}/share",
                            {"listed": True})
    token = shared["app"]["shareToken"]
    st, _, discover = request(s, carol, "GET", "/basalt/discover")
    assert app["appId"] in [a["appId"] for a in discover["apps"]]

    st, _, remix = request(s, carol, "POST", f"/basalt/shared/{token}/remix", {})
    assert st == 201, remix
    copy = remix["app"]
    assert copy["appId"] != app["appId"] and copy["isOwner"] is True
    assert copy["owner"] == {"userName": "carol"} and copy["visibility"] == "private"
    assert copy["remixedFrom"] == {"appId": app["appId"], "title": "Remixable"}
    assert copy["definition"] == app["definition"] and copy["version"] == 1
    st, _, versions = request(s, carol, "GET", f"/basalt/apps/{copy['appId']}/versions")
    assert versions["versions"][0]["note"] == "remixed"

    st, _, edited = request(s, carol, "PUT", f"/basalt/apps/{copy['appId']}",
                            {"definition": trip_definition("Carol's take"), "baseVersion": 1})
    assert st == 200
    st, _, original = request(s, alice, "GET", f"/basalt/apps/{app['appId']}")
    assert original["app"]["title"] == "Remixable" and original["app"]["version"] == 1
    st, _, _ = request(s, alice, "PUT", f"/basalt/apps/{app['appId']}",
                       {"definition": trip_definition("Alice's v2")})
    st, _, theirs = request(s, carol, "GET", f"/basalt/apps/{copy['appId']}")
    assert theirs["app"]["title"] == "Carol's take"
    # The owner may remix her own app too (a copy).
    st, _, own = request(s, alice, "POST", f"/basalt/apps/{app['appId']}/remix", {})
    assert st == 201 and own["app"]["remixedFrom"]["appId"] == app["appId"]


def test_discover_lists_the_samples(world):
    s, u = world
    st, _, discover = request(s, u["bob"], "GET", "/basalt/discover")
    assert st == 200
    samples = [a for a in discover["apps"] if not a["isOwner"]]
    korean = [a for a in samples if HANGUL.search(a["title"] + a["description"])]
    english = [a for a in samples if not HANGUL.search(a["title"] + a["description"])]
    assert len(korean) >= 5 and len(english) >= 5, [a["title"] for a in samples]
    for a in samples:
        assert a["owner"] is None and a["listed"] is True and a["visibility"] == "public"
        assert a["definition"]["widgets"]
        st, _, seen = request(s, u["carol"], "GET", f"/basalt/shared/{a['shareToken']}")
        assert st == 200 and seen["app"]["appId"] == a["appId"]


def hand_written_pdf(text):
    """A one-page PDF with `text` in Helvetica, offsets computed here."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
            .encode())
    return bytes(out)


def upload(s, who, name, data, content_type):
    return request(s, who, "POST", f"/basalt/documents?name={name}", raw=data,
                   content_type=content_type)


def test_documents(world):
    s, u = world
    alice, bob = u["alice"], u["bob"]
    st, _, txt = upload(s, alice, "notes.txt", "Jeju has black lava beaches.\n".encode(),
                        "text/plain")
    assert st == 201, txt
    doc = txt["document"]
    assert re.fullmatch(r"doc-[0-9a-f]{16}", doc["documentId"])
    assert doc["name"] == "notes.txt" and doc["mediaType"] == "text/plain"
    assert doc["bytes"] == 29 and "lava" in doc["preview"] and doc["chars"] >= 28

    md = ("# 제주 안내\n\n" + "- 한라산\n" * 200).encode()
    st, _, mdd = upload(s, alice, "guide.md", md, "text/markdown; charset=utf-8")
    assert st == 201 and mdd["document"]["mediaType"] == "text/markdown"
    assert len(mdd["document"]["preview"]) == 500  # code points, not bytes

    st, _, pdf = upload(s, alice, "brochure.pdf", hand_written_pdf("Hello from a PDF brochure"),
                        "application/pdf")
    assert st == 201, pdf
    assert "Hello from a PDF brochure" in pdf["document"]["preview"]

    st, _, full = request(s, alice, "GET", f"/basalt/documents/{pdf['document']['documentId']}")
    assert st == 200 and "Hello from a PDF brochure" in full["document"]["text"]

    for name, data, ctype in [
            ("big.txt", b"a" * (64 * 1024 + 1), "text/plain"),
            ("broken.pdf", b"%PDF-1.4\n1 0 obj garbage\n%%EOF\n", "application/pdf"),
            ("latin1.txt", "caf\xe9".encode("latin-1"), "text/plain"),
            ("image.png", b"\x89PNG\r\n\x1a\n", "image/png")]:
        st, h, body = upload(s, alice, name, data, ctype)
        assert st == 400 and h["x-amzn-errortype"] == "ValidationException", (name, body)
        assert body["message"]

    # Only the uploader may read a document.
    for who in (bob, u["carol"]):
        st, h, _ = request(s, who, "GET", f"/basalt/documents/{doc['documentId']}")
        assert st == 404 and h["x-amzn-errortype"] == "ResourceNotFoundException"


def test_generate_saves_definitions_that_round_trip(world):
    s, u = world
    alice = u["alice"]
    descriptions = [
        "An app that writes a short poem about a topic the user types.",
        "Summarize a document the user uploads and list three questions about it.",
        "A travel planner: the user gives a city and a budget, the app plans a day.",
        "주제를 입력하면 짧은 이야기를 써 주는 앱",
        "A recipe helper: ingredients in, a recipe out, and a chatbot to ask about it.",
        "Turn meeting notes into action items and a summary email.",
    ]
    for seed, description in enumerate(descriptions, 1):
        st, _, gen = request(s, alice, "POST", "/basalt/apps/generate",
                             {"description": description, "seed": seed})
        assert st == 201, (seed, gen)
        app = gen["app"]
        assert app["version"] == 1 and app["definition"]["widgets"], (seed, app)
        st, _, versions = request(s, alice, "GET", f"/basalt/apps/{app['appId']}/versions")
        assert versions["versions"][0]["note"] == "generated"
        # The server's own round trip: what it saved, it accepts back unchanged.
        st, _, got = request(s, alice, "GET", f"/basalt/apps/{app['appId']}")
        st, _, put = request(s, alice, "PUT", f"/basalt/apps/{app['appId']}",
                             {"definition": got["app"]["definition"], "baseVersion": 1})
        assert st == 200, (seed, put)
        assert put["app"]["definition"] == got["app"]["definition"]
    # Regenerate from a version that is no longer current: 409 before any model call.
    st, h, stale = request(s, alice, "POST", "/basalt/apps/generate",
                           {"description": descriptions[0], "appId": app["appId"],
                            "baseVersion": 1})
    assert st == 409 and h["x-amzn-errortype"] == "ConflictException", stale
    st, _, bad = request(s, alice, "POST", "/basalt/apps/generate", {"description": ""})
    assert st == 400


def test_backstage_equals_the_usage_records(world):
    s, u = world
    alice = u["alice"]
    # Spend something with source "app" on an app: a Regenerate (and a run when runs are
    # built). Generate's spending without an app (app id "") is there from the test above
    # when it ran first; either way every row must match.
    app_id = create(s, alice, trip_definition("Haiku writer"))["appId"]
    st, _, gen = request(s, alice, "POST", "/basalt/apps/generate",
                         {"description": "A haiku writer", "seed": 6, "appId": app_id,
                          "baseVersion": 1})
    assert st == 201, gen
    # Regenerate: a new version of the same app.
    assert gen["app"]["appId"] == app_id and gen["app"]["version"] == 2
    st, _, versions = request(s, alice, "GET", f"/basalt/apps/{app_id}/versions")
    assert versions["versions"][0]["note"] == "generated"
    st, _, runs = request(s, alice, "POST", f"/basalt/apps/{app_id}/runs", {"inputs": {}})
    ran = st == 200  # app runs are their own module (test_app_runs.py)

    st, _, back = request(s, alice, "GET", "/basalt/backstage")
    assert st == 200, back
    st, _, usage = request(s, alice, "GET", "/basalt/usage?source=app&groupBy=app")
    assert st == 200
    by_app = {r["group"]["app"]: r for r in usage["rows"]}
    assert by_app, usage
    rows = {a["appId"]: a for a in back["apps"]}
    for app, row in by_app.items():
        assert rows[app]["credits"] == pytest.approx(row["cost"], abs=1e-9)
        assert rows[app]["requests"] == row["requests"]
    assert rows[app_id]["isOwner"] is True and rows[app_id]["credits"] > 0
    assert sum(d["credits"] for d in back["days"]) == pytest.approx(usage["total"]["cost"],
                                                                   abs=1e-9)
    assert len(back["days"]) == 30
    today = back["today"]
    assert today["day"] == back["days"][-1]["day"] == time.strftime("%Y-%m-%d", time.gmtime())
    assert today["used"] == pytest.approx(back["days"][-1]["credits"], abs=1e-9)
    assert today["allowance"] == 50
    assert today["remaining"] == pytest.approx(50 - today["used"], abs=1e-9)
    if ran:
        assert rows[app_id]["runs"] >= 1
        assert back["recentRuns"][0]["appId"] == app_id
        assert back["recentRuns"][0]["runner"] == {"userName": "alice"}
        st, _, app_runs = request(s, alice, "GET", f"/basalt/apps/{app_id}/runs")
        assert st == 200 and app_runs["runs"][0]["runId"] == runs["runId"]
    # Bob has spent nothing on apps.
    st, _, bobs = request(s, u["bob"], "GET", "/basalt/backstage")
    assert st == 200 and bobs["today"]["used"] == 0
    assert all(a["credits"] == 0 for a in bobs["apps"])


def test_samples_are_seeded_once(tmp_path):
    if not (MODELS_DIR / "stories260K.gguf").exists():
        pytest.skip(f"test models not found in {MODELS_DIR}")
    admin = None
    counts = []
    for _ in range(2):
        s = BasaltServer(tmp_path / "data")
        try:
            admin = {"key": s.env["AWS_ACCESS_KEY_ID"], "secret": s.env["AWS_SECRET_ACCESS_KEY"]}
            st, _, discover = request(s, admin, "GET", "/basalt/discover")
            assert st == 200
            counts.append(sorted(a["appId"] for a in discover["apps"]))
        finally:
            s.stop()
    assert len(counts[0]) >= 10 and counts[0] == counts[1]
    # --no-sample-apps: Discover starts empty.
    s = BasaltServer(tmp_path / "bare", extra_args=("--no-sample-apps",))
    try:
        admin = {"key": s.env["AWS_ACCESS_KEY_ID"], "secret": s.env["AWS_SECRET_ACCESS_KEY"]}
        st, _, discover = request(s, admin, "GET", "/basalt/discover")
        assert st == 200 and discover["apps"] == []
    finally:
        s.stop()


def test_console_reaches_the_same_handlers(world):
    s, u = world
    bob = u["bob"]
    out = subprocess.run([str(BINARY), "admin", "set-password", "--user", bob["user"],
                          "--password-stdin", "--data-dir", str(s.data_dir)],
                         input="apps-console-pass-1\n", capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr

    def console(method, path, body=None, cookie=None, csrf=None):
        headers = {"Content-Type": "application/json"}
        if cookie:
            headers["Cookie"] = "basalt_session=" + cookie
        if csrf:
            headers["X-CSRF-Token"] = csrf
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers=headers)
        r = conn.getresponse()
        raw = r.read()
        return r.status, r.getheader("Set-Cookie", ""), json.loads(raw) if raw else {}

    st, cookie, session = console("POST", "/console/api/session",
                                  {"account": bob["account"], "userName": "bob",
                                   "password": "apps-console-pass-1"})
    assert st == 200, session
    token = re.match(r"basalt_session=([^;]+);", cookie).group(1)
    st, _, _ = console("POST", "/console/api/basalt/apps", {}, cookie=token)
    assert st == 403  # a change without the CSRF token
    st, _, made = console("POST", "/console/api/basalt/apps",
                          {"definition": trip_definition("From the console")}, cookie=token,
                          csrf=session["csrfToken"])
    assert st == 201 and made["app"]["owner"] == {"userName": "bob"}
    st, _, listed = request(s, bob, "GET", "/basalt/apps")
    assert made["app"]["appId"] in [a["appId"] for a in listed["apps"]]
    alices = create(s, u["alice"], trip_definition("Alice again"))
    st, _, _ = console("GET", f"/console/api/basalt/apps/{alices['appId']}", cookie=token)
    assert st == 404
