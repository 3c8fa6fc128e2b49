"""App runs (issue 10): waves, streaming events, stop, client disconnect, supersede, chatbot
turns, billing to the runner (shared apps), the daily app credits, credits equal to the usage
records, and the app API from a botocore-signed request. Against the real binary."""
import copy
import http.client
import json
import socket
import time
import urllib.request

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import MODELS_DIR, TEST_CATALOG, BasaltServer, admin_cli, find

TINY = "test.llama-2-tiny-random-v1:0"  # random weights: runs to maxTokens, never ends early
STORIES = "tinystories.stories-260k-v1:0"  # priced in the test catalog


def catalog():
    c = copy.deepcopy(TEST_CATALOG)
    c["models"][1].update(parallel=4, contextLength=4096)
    return c


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    if not (MODELS_DIR / "stories260K.gguf").exists():
        pytest.skip(f"test models not found in {MODELS_DIR}")
    s = BasaltServer(tmp_path_factory.mktemp("app-runs"), catalog=catalog())
    yield s
    s.stop()
    assert "unhandled exception" not in s.log_text()


def creds(s, who=None):
    if who:
        return who["key"], who["secret"]
    return s.env["AWS_ACCESS_KEY_ID"], s.env["AWS_SECRET_ACCESS_KEY"]


def signed_headers(s, method, path, data, who=None, extra=None):
    key, secret = creds(s, who)
    headers = {"Content-Type": "application/json", **(extra or {})}
    req = AWSRequest(method=method, url=s.url + path, data=data, headers=headers)
    SigV4Auth(Credentials(key, secret), "bedrock", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def call(s, method, path, body=None, who=None, raw=None, content_type=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    extra = {"Content-Type": content_type} if content_type else None
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=120)
    conn.request(method, path, body=data, headers=signed_headers(s, method, path, data, who, extra))
    r = conn.getresponse()
    out = r.read()
    conn.close()
    return r.status, json.loads(out or b"{}")


class Sse:
    """A streamed run: yields (event, data) as they arrive."""

    def __init__(self, s, path, body, who=None):
        data = json.dumps({**body, "stream": True}).encode()
        self.conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=120)
        self.conn.request("POST", path, body=data, headers=signed_headers(s, "POST", path, data, who))
        self.r = self.conn.getresponse()
        assert self.r.status == 200, self.r.read()
        assert self.r.getheader("Content-Type").startswith("text/event-stream")
        self.events = []

    def __iter__(self):
        event = None
        while True:
            line = self.r.readline()
            if not line:
                return
            line = line.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                item = (event, json.loads(line[6:]))
                self.events.append(item)
                yield item

    def until(self, pred):
        for e in self:
            if pred(e):
                return e
        raise AssertionError(f"stream ended without it: {self.events}")

    def rest(self):
        for _ in self:
            pass
        return self.events

    def hang_up(self):
        self.conn.sock.shutdown(socket.SHUT_RDWR)
        self.conn.close()


def widget(id_, type_, title, y, **kw):
    return {"id": id_, "type": type_, "title": title, "layout": {"x": 0, "y": y, "w": 6, "h": 2},
            **kw}


def gen(id_, title, y, prompt, model=TINY, max_tokens=60, **kw):
    return widget(id_, "text-generation", title, y, prompt=prompt, model=model,
                  temperature=0.7, topP=0.9, maxTokens=max_tokens, **kw)


def make_app(s, widgets, who=None, title="Runs test"):
    st, body = call(s, "POST", "/basalt/apps",
                    {"definition": {"schemaVersion": 1, "title": title, "description": "",
                                    "widgets": widgets}}, who)
    assert st == 201, body
    return body["app"]["appId"]


def app_records(s, app_id, who=None):
    st, body = call(s, "GET", f"/basalt/usage?records=true&source=app&app={app_id}", who=who)
    assert st == 200, body
    return body["records"]


def usage_total(s, app_id, who=None):
    st, body = call(s, "GET", f"/basalt/usage?source=app&app={app_id}", who=who)
    assert st == 200, body
    return body["total"]


@pytest.fixture(scope="module")
def bob(srv):
    """A second account and user with access to the test models."""
    acct = find(admin_cli(srv, "create-account", "apps-runner"), "AccountId")
    uid = find(admin_cli(srv, "create-user", "--account", acct, "bob"), "UserId")
    key = admin_cli(srv, "create-access-key", "--user", uid)
    for m in (TINY, STORIES):
        admin_cli(srv, "grant-model-access", "--account", acct, m)
    return {"account": acct, "user": uid, "key": find(key, "AccessKeyId"),
            "secret": find(key, "SecretAccessKey")}


INPUT = widget("w1", "user-input", "Topic", 0, placeholder="", default="a cat")


def test_waves_feed_dependents_and_independent_widgets_overlap(srv):
    app = make_app(srv, [INPUT, gen("wa", "Story", 2, "Tell a story about @Topic.", max_tokens=400),
                         gen("wb", "Poem", 4, "A poem about @Topic.", max_tokens=400),
                         gen("wc", "Summary", 6, "Summarize: @Story", max_tokens=4)])
    sse = Sse(srv, f"/basalt/apps/{app}/runs", {"inputs": {"Topic": "the sea"}})
    events = sse.rest()
    names = [(e, d.get("widgetId")) for e, d in events]
    assert events[0][0] == "run" and events[0][1]["waves"] == [["wa", "wb"], ["wc"]]
    assert events[-1][0] == "done" and events[-1][1]["status"] == "succeeded"
    first_end = min(names.index(("widget-end", "wa")), names.index(("widget-end", "wb")))
    # The two independent widgets run at the same time...
    assert names.index(("widget-start", "wa")) < first_end
    assert names.index(("widget-start", "wb")) < first_end
    # (generating together: each streams text before the other one ends)
    assert names.index(("delta", "wa")) < names.index(("widget-end", "wb"))
    assert names.index(("delta", "wb")) < names.index(("widget-end", "wa"))
    # ...and the dependent one starts after its dependency ended.
    assert names.index(("widget-end", "wa")) < names.index(("widget-start", "wc"))
    ends = {d["widgetId"]: d for e, d in events if e == "widget-end"}
    assert all(d["status"] == "succeeded" for d in ends.values()), ends
    text_a = "".join(d["text"] for e, d in events if e == "delta" and d["widgetId"] == "wa")
    assert ends["wa"]["usage"]["outputTokens"] == 400 and text_a
    # The summary's prompt carried the story: run it alone with an empty story to compare.
    st, alone = call(srv, "POST", f"/basalt/apps/{app}/runs",
                     {"inputs": {"Story": ""}, "widgets": ["wc"]})
    assert st == 200, alone
    assert list(alone["outputs"]) == ["wc"] and alone["outputs"]["wc"]["status"] == "succeeded"
    grown = ends["wc"]["usage"]["inputTokens"] - alone["outputs"]["wc"]["usage"]["inputTokens"]
    assert grown >= 200, (grown, ends["wc"]["usage"])
    total = events[-1][1]["usage"]
    assert total["outputTokens"] == sum(d["usage"]["outputTokens"] for d in ends.values())


def test_stop_mid_run_bills_what_was_generated(srv):
    app = make_app(srv, [INPUT, gen("wa", "Long", 2, "Go on about @Topic.", max_tokens=4000),
                         gen("wc", "After", 4, "After @Long", max_tokens=4)])
    sse = Sse(srv, f"/basalt/apps/{app}/runs", {})
    run_id = sse.until(lambda e: e[0] == "run")[1]["runId"]
    sse.until(lambda e: e[0] == "delta")
    st, body = call(srv, "POST", f"/basalt/apps/runs/{run_id}/stop", {})
    assert st == 200, body
    events = sse.rest()
    ends = {d["widgetId"]: d for e, d in events if e == "widget-end"}
    assert ends["wa"]["status"] == "stopped" and ends["wc"]["status"] == "stopped"
    assert ("widget-start", "wc") not in [(e, d.get("widgetId")) for e, d in events]
    assert events[-1][0] == "done" and events[-1][1]["status"] == "stopped"
    generated = ends["wa"]["usage"]["outputTokens"]
    assert 0 < generated < 4000
    recs = app_records(srv, app)
    assert len(recs) == 1 and recs[0]["outcome"] in ("cancelled", "client_gone"), recs
    assert recs[0]["outputTokens"] == generated and recs[0]["source"] == "app"
    # Stopping again, or someone else's run: not found.
    assert call(srv, "POST", f"/basalt/apps/runs/{run_id}/stop", {})[0] == 404
    st, runs = call(srv, "GET", f"/basalt/apps/{app}/runs")
    assert st == 200 and runs["runs"][0]["status"] == "stopped", runs


def test_client_disconnect_stops_the_run(srv):
    app = make_app(srv, [INPUT, gen("wa", "Long", 2, "Go on about @Topic.", max_tokens=4000)])
    sse = Sse(srv, f"/basalt/apps/{app}/runs", {})
    sse.until(lambda e: e[0] == "delta")
    sse.hang_up()
    deadline = time.time() + 15
    recs = []
    while time.time() < deadline:
        recs = [r for r in app_records(srv, app) if r["outcome"] != "in_progress"]
        if recs:
            break
        time.sleep(0.1)
    assert len(recs) == 1 and recs[0]["outcome"] == "client_gone", recs
    assert 0 < recs[0]["outputTokens"] < 4000
    st, runs = call(srv, "GET", f"/basalt/apps/{app}/runs")
    assert runs["runs"][0]["status"] == "stopped", runs


def test_newer_run_supersedes_the_older_one(srv):
    app = make_app(srv, [INPUT, gen("wa", "Long", 2, "Go on about @Topic.", max_tokens=4000)])
    older = Sse(srv, f"/basalt/apps/{app}/runs", {})
    older.until(lambda e: e[0] == "delta")
    newer = Sse(srv, f"/basalt/apps/{app}/runs", {"widgets": ["wa"], "inputs": {"Topic": "dogs"}})
    new_id = newer.until(lambda e: e[0] == "run")[1]["runId"]
    events = older.rest()
    end = [d for e, d in events if e == "widget-end"][0]
    assert end["status"] == "superseded" and 0 < end["usage"]["outputTokens"] < 4000
    assert events[-1][1]["status"] == "superseded"
    newer.until(lambda e: e[0] == "delta")
    assert call(srv, "POST", f"/basalt/apps/runs/{new_id}/stop", {})[0] == 200
    assert newer.rest()[-1][1]["status"] == "stopped"


def test_chatbot_turns(srv):
    app = make_app(srv, [INPUT, widget("w9", "chatbot", "Guide", 2,
                                       prompt="You are a guide for @Topic.", model=STORIES,
                                       temperature=0.5, maxTokens=12)])
    path = f"/basalt/apps/{app}/chat"
    turn1 = Sse(srv, path, {"widgetId": "w9", "inputs": {"Topic": "Jeju"},
                            "messages": [{"role": "user", "content": "Once upon a time"}]}).rest()
    assert [e for e, _ in turn1][:2] == ["run", "widget-start"]
    end = [d for e, d in turn1 if e == "widget-end"][0]
    assert end["status"] == "succeeded" and 0 < end["usage"]["outputTokens"] <= 12
    reply = "".join(d["text"] for e, d in turn1 if e == "delta")
    st, turn2 = call(srv, "POST", path, {
        "widgetId": "Guide", "stream": False,
        "messages": [{"role": "user", "content": "Once upon a time"},
                     {"role": "assistant", "content": reply or "Hi."},
                     {"role": "user", "content": "And then?"}]})
    assert st == 200 and turn2["outputs"]["w9"]["status"] == "succeeded", turn2
    assert turn2["outputs"]["w9"]["usage"]["inputTokens"] > end["usage"]["inputTokens"]
    assert call(srv, "POST", path, {"widgetId": "w1", "messages": [
        {"role": "user", "content": "x"}]})[0] == 400
    assert call(srv, "POST", path, {"widgetId": "w9", "messages": []})[0] == 400
    assert call(srv, "POST", f"/basalt/apps/{app}/runs", {"widgets": ["w9"]})[0] == 400


def test_shared_app_bills_the_runner_and_credits_equal_usage(srv, bob):
    app = make_app(srv, [INPUT, gen("wa", "Story", 2, "Once upon a time @Topic", STORIES, 16),
                         gen("wb", "Poem", 4, "A poem about @Topic", STORIES, 16)])
    st, shared = call(srv, "PUT", f"/basalt/apps/{app}/share", {"listed": False})
    assert st == 200, shared
    token = shared["app"]["shareToken"]
    total = {"inputTokens": 0, "outputTokens": 0, "cost": 0.0}
    for topic in ("a fox", "a dog"):
        st, run = call(srv, "POST", f"/basalt/shared/{token}/runs", {"inputs": {"Topic": topic}},
                       who=bob)
        assert st == 200, run
        assert {o["status"] for o in run["outputs"].values()} == {"succeeded"}
        for k in total:
            total[k] += run["usage"][k]
        assert run["usage"]["outputTokens"] == sum(
            o["usage"]["outputTokens"] for o in run["outputs"].values())
    # Bob's account pays: its usage (source app, this app) equals the runs' usage exactly...
    mine = usage_total(srv, app, who=bob)
    assert mine["requests"] == 4
    assert mine["inputTokens"] == total["inputTokens"]
    assert mine["outputTokens"] == total["outputTokens"]
    assert mine["cost"] == pytest.approx(total["cost"], abs=1e-9) and mine["cost"] > 0
    assert {r["appId"] for r in app_records(srv, app, who=bob)} == {app}
    # ...and the owner's account nothing.
    assert usage_total(srv, app)["requests"] == 0
    # The runner only sees their own run; the owner cannot stop nor the runner read the app.
    assert call(srv, "GET", f"/basalt/apps/{app}", who=bob)[0] == 404


def test_documents_of_others_are_refused(srv, bob):
    app = make_app(srv, [widget("w3", "document", "Brochure", 0),
                         gen("wa", "Digest", 2, "Digest @Brochure", STORIES, 4)])
    st, doc = call(srv, "POST", "/basalt/documents?name=secret.txt", raw=b"TOP SECRET PLANS",
                   who=bob, content_type="text/plain")
    assert st == 201, doc
    bob_doc = doc["document"]["documentId"]
    st, err = call(srv, "POST", f"/basalt/apps/{app}/runs",
                   {"inputs": {"Brochure": {"documentId": bob_doc}}})
    assert st == 404 and "SECRET" not in json.dumps(err), err
    st, doc = call(srv, "POST", "/basalt/documents?name=mine.txt", raw=b"Our brochure text " * 20,
                   content_type="text/plain")
    assert st == 201, doc
    st, run = call(srv, "POST", f"/basalt/apps/{app}/runs",
                   {"inputs": {"Brochure": {"documentId": doc["document"]["documentId"]}}})
    assert st == 200 and run["outputs"]["wa"]["usage"]["inputTokens"] > 40, run
    assert call(srv, "POST", f"/basalt/apps/{app}/runs", {"inputs": {"Nope": "x"}})[0] == 400


def test_app_api_with_a_botocore_signed_request(srv, monkeypatch):
    app_id = make_app(srv, [INPUT, gen("wa", "Story", 2, "Once upon a time @Topic", STORIES, 8)])
    endpoint = srv.url
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", srv.env["AWS_ACCESS_KEY_ID"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", srv.env["AWS_SECRET_ACCESS_KEY"])
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    # --- the docs/apps.md example, as written there ---
    body = json.dumps({"inputs": {"Topic": "Jeju"}}).encode()

    request = AWSRequest(method="POST", url=f"{endpoint}/basalt/apps/{app_id}/runs", data=body,
                         headers={"Content-Type": "application/json"})
    credentials = boto3.Session().get_credentials()  # AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
    SigV4Auth(credentials, "bedrock", "us-east-1").add_auth(request)
    with urllib.request.urlopen(urllib.request.Request(
            request.url, data=body, headers=dict(request.headers), method="POST")) as reply:
        run = json.load(reply)
    for widget_id, output in run["outputs"].items():
        print(widget_id, output["status"], output["text"])
    # ---
    assert run["outputs"]["wa"]["status"] == "succeeded" and run["outputs"]["wa"]["text"]
    assert run["usage"]["outputTokens"] == run["outputs"]["wa"]["usage"]["outputTokens"] > 0


def test_image_widget_fails_like_an_sdk_call(srv):
    app = make_app(srv, [INPUT, widget("w5", "image-generation", "Postcard", 2,
                                       prompt="A postcard of @Topic", model="", width=512,
                                       height=512, seed=0, negativePrompt="")])
    st, run = call(srv, "POST", f"/basalt/apps/{app}/runs", {})
    assert st == 200, run
    out = run["outputs"]["w5"]
    assert out["status"] == "failed" and out["images"] == []
    assert out["error"] == {"type": "ValidationException",
                            "message": "The provided model identifier is invalid."}


def test_daily_app_credits_exhausted(tmp_path):
    s = BasaltServer(tmp_path / "credits", catalog=catalog(),
                     extra_args=("--daily-app-credits", "0.00002"))
    try:
        app = make_app(s, [INPUT, gen("wa", "Story", 2, "Once upon a time @Topic", STORIES, 40)])
        st, run = call(s, "POST", f"/basalt/apps/{app}/runs", {})
        assert st == 200 and run["usage"]["cost"] >= 0.00002, run
        st, err = call(s, "POST", f"/basalt/apps/{app}/runs", {})
        assert st == 429, err
        assert "daily credit allowance" in err["message"], err
        # SDK calls (source api) are not app credits.
        st, out = call(s, "POST", f"/model/{STORIES}/converse", {
            "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
            "inferenceConfig": {"maxTokens": 2}})
        assert st == 200, out
    finally:
        s.stop()


def test_console_session_runs_an_app(srv, bob):
    """The web console's path: session cookie and CSRF token, Accept: text/event-stream."""
    import subprocess
    from conftest import BINARY
    out = subprocess.run([str(BINARY), "admin", "set-password", "--user", bob["user"],
                          "--password-stdin", "--data-dir", str(srv.data_dir)],
                         input="app-runs-pass-1\n", capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr

    def console(method, path, body, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
        conn.request(method, path, body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json", **(headers or {})})
        return conn.getresponse()

    r = console("POST", "/console/api/session", {"account": bob["account"], "userName": "bob",
                                                 "password": "app-runs-pass-1"})
    assert r.status == 200
    cookie = r.getheader("Set-Cookie").split(";")[0]
    auth = {"Cookie": cookie, "X-CSRF-Token": json.loads(r.read())["csrfToken"]}
    r = console("POST", "/console/api/basalt/apps", {"definition": {
        "schemaVersion": 1, "title": "Console run", "description": "",
        "widgets": [INPUT, gen("wa", "Story", 2, "Once upon a time @Topic", STORIES, 6)]}}, auth)
    assert r.status == 201
    app = json.loads(r.read())["app"]["appId"]
    r = console("POST", f"/console/api/basalt/apps/{app}/runs", {"inputs": {"Topic": "owls"}},
                {**auth, "Accept": "text/event-stream"})
    assert r.status == 200 and r.getheader("Content-Type").startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in r.read().decode().splitlines()
              if line.startswith("data: ")]
    assert events[-1]["status"] == "succeeded" and events[-1]["usage"]["outputTokens"] > 0
    recs = app_records(srv, app, who=bob)
    assert [(x["source"], x["appId"]) for x in recs] == [("app", app)]
