// Fuzz target: the whole Bedrock API (control plane, admin API, runtime operations up to
// generation) through BedrockApi::Handle, with an in-memory ResponseWriter, a real SQLite
// store in a temporary folder, the default catalog (empty weight files) and a fake engine.
//
// Input: byte 0 picks the route (below), byte 1 the credentials:
//   0  the operator administrator's API key (Bearer ABSK...)
//   1  SigV4, signed by the harness with the administrator's access key
//   2  the first line of the rest is sent as the Authorization header, verbatim
//   3  the web console: the route under /console/api with the administrator's session cookie
//      and CSRF token (signed in once per world through POST /console/api/session)
// For routes with "{}" (and the raw route) the next line is the id (or the whole
// "METHOD target"); everything after is the body.
//
// The store keeps state across inputs (the fuzzer may create users, keys, agreements); the
// world is rebuilt when the administrator's credentials stop working and every 2000 inputs.
#include "api/api.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "auth/sigv4.h"
#include "catalog/catalog.h"
#include "console/password.h"
#include "fake_engine.h"
#include "fuzz_util.h"
#include "store/store.h"

namespace basalt::fuzz {
namespace {

namespace fs = std::filesystem;

struct Route {
  const char* method;
  const char* target;  // "{}" is replaced by the id line; nullptr: raw "METHOD target" line
};

constexpr Route kRoutes[] = {
    {"GET", "/foundation-models"},
    {"GET", "/foundation-models?byProvider={}"},
    {"GET", "/foundation-models/{}"},
    {"GET", "/foundation-model-availability/{}"},
    {"GET", "/list-foundation-model-agreement-offers/{}"},
    {"POST", "/create-foundation-model-agreement"},
    {"POST", "/delete-foundation-model-agreement"},
    {"POST", "/use-case-for-model-access"},
    {"GET", "/use-case-for-model-access"},
    {"GET", "/inference-profiles"},
    {"GET", "/inference-profiles/{}"},
    {"PUT", "/logging/modelinvocations"},
    {"GET", "/logging/modelinvocations"},
    {"GET", "/basalt/usage?{}"},
    {"GET", "/basalt/admin/accounts"},
    {"POST", "/basalt/admin/accounts"},
    {"GET", "/basalt/admin/users"},
    {"POST", "/basalt/admin/users"},
    {"GET", "/basalt/admin/access-keys?{}"},
    {"POST", "/basalt/admin/access-keys"},
    {"PUT", "/basalt/admin/access-keys/{}"},
    {"DELETE", "/basalt/admin/access-keys/{}"},
    {"GET", "/basalt/admin/api-keys?{}"},
    {"POST", "/basalt/admin/api-keys"},
    {"PUT", "/basalt/admin/api-keys/{}"},
    {"DELETE", "/basalt/admin/api-keys/{}"},
    {"GET", "/basalt/admin/model-access"},
    {"PUT", "/basalt/admin/model-access"},
    {"POST", "/model/{}/invoke"},
    {"POST", "/model/{}/invoke-with-response-stream"},
    {"POST", "/model/{}/converse"},
    {"POST", "/model/{}/converse-stream"},
    {"POST", "/model/{}/count-tokens"},
    {"GET", "/health"},
    {"GET", "/metrics"},
    {nullptr, nullptr},
    // Later additions go here, so the seeds' route bytes keep their meaning.
    {"GET", "/basalt/catalog"},
    {"GET", "/basalt/models"},
    {"POST", "/basalt/models/pull"},
    {"GET", "/session"},  // under /console/api (credentials 3)
    {"DELETE", "/session"},
    {"PUT", "/session/password"},
    {"PUT", "/basalt/admin/users/{}/password"},
    {"GET", "/basalt/admin/model-access-requests"},
    {"GET", "/basalt/admin/policies"},
    {"PUT", "/basalt/admin/policies/{}"},
};
constexpr size_t kRouteCount = sizeof(kRoutes) / sizeof(kRoutes[0]);

class MemoryWriter : public http::ResponseWriter {
 public:
  void Respond(int status, std::vector<http::Header> headers, std::string body) override {
    FUZZ_CHECK(!responded_);
    responded_ = true;
    status_ = status;
    headers_ = std::move(headers);
    body_ = std::move(body);
  }
  void StartStream(int status, std::vector<http::Header>) override {
    FUZZ_CHECK(!responded_);
    responded_ = true;
    status_ = status;
  }
  bool Write(std::string data) override {
    body_ += data;
    return true;
  }
  void Finish() override {}
  bool Closed() const override { return false; }
  void OnClose(std::function<void()> callback) override { on_close_ = std::move(callback); }
  bool responded() const { return responded_; }
  int status() const { return status_; }
  const std::string& body() const { return body_; }
  std::string Header(std::string_view name) const {
    for (const auto& h : headers_) {
      if (h.name == name) return h.value;
    }
    return "";
  }

 private:
  bool responded_ = false;
  int status_ = 0;
  std::vector<http::Header> headers_;
  std::string body_;
  std::function<void()> on_close_;
};

std::chrono::system_clock::time_point FixedNow() {
  return std::chrono::system_clock::from_time_t(1738269507);  // 2025-01-30T20:38:27Z
}

struct World {
  fs::path dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<FakeEngine> engine;
  std::unique_ptr<api::BedrockApi> api;
  std::string user_id;
  std::string api_token;
  std::string access_key_id;
  std::string secret;
  std::string console_cookie;  // "basalt_session=..."
  std::string csrf_token;
  int inputs = 0;

  ~World() {
    api.reset();
    store.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

#define WORLD_CHECK(expr)                                                                      \
  do {                                                                                         \
    auto&& _v = (expr);                                                                        \
    if (!_v.ok()) {                                                                            \
      std::fprintf(stderr, "fuzz api setup: %s: %s\n", #expr, _v.status().ToString().c_str()); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (0)

constexpr const char* kConsolePassword = "fuzz-console-password";

std::unique_ptr<World> MakeWorld() {
  auto w = std::make_unique<World>();
  std::string tmpl = (fs::temp_directory_path() / "basalt-fuzz-api-XXXXXX").string();
  FUZZ_CHECK(mkdtemp(tmpl.data()) != nullptr);
  w->dir = tmpl;
  auto store = store::Store::OpenSqlite((w->dir / "basalt.db").string(), std::string(32, 'k'));
  WORLD_CHECK(store);
  w->store = std::move(*store);
  auto account = w->store->CreateAccount("fuzz");
  WORLD_CHECK(account);
  auto user = w->store->CreateUser(account->id, "operator", "admin");
  WORLD_CHECK(user);
  w->user_id = user->id;
  FUZZ_CHECK(w->store->AttachUserPolicy(user->id, "BasaltAdministrator").ok());
  FUZZ_CHECK(w->store->PutSetting("operator_account", account->id).ok());
  auto key = w->store->CreateApiKey(user->id, 0);
  WORLD_CHECK(key);
  w->api_token = key->token;
  auto access = w->store->CreateAccessKey(user->id);
  WORLD_CHECK(access);
  w->access_key_id = access->access_key_id;
  w->secret = access->secret_access_key;

  // The default catalog, with an empty file for every model's weights.
  catalog::LoadOptions load;
  load.models_dirs = {w->dir.string()};
  auto first = catalog::Catalog::Parse(catalog::Catalog::DefaultCatalogJson(), load);
  WORLD_CHECK(first);
  for (const auto& missing : (*first)->missing()) {
    fs::path p = w->dir / missing.weights;
    fs::create_directories(p.parent_path());
    std::ofstream(p).put('\0');
  }
  auto catalog = catalog::Catalog::Parse(catalog::Catalog::DefaultCatalogJson(), load);
  WORLD_CHECK(catalog);
  FUZZ_CHECK(!(*catalog)->entries().empty());
  FUZZ_CHECK(w->store->SetModelAccess(account->id, "*", "GRANTED").ok());

  w->engine = std::make_unique<FakeEngine>();
  api::ApiDeps deps;
  deps.store = w->store.get();
  deps.engine = w->engine.get();
  deps.catalog = *catalog;
  api::ApiOptions options;
  options.clock = FixedNow;
  w->api = std::make_unique<api::BedrockApi>(deps, options);

  // A console password for the administrator; the session comes with the first console input.
  auto hash = console::HashPassword(kConsolePassword);
  WORLD_CHECK(hash);
  FUZZ_CHECK(w->store->SetUserPassword(user->id, *hash).ok());
  return w;
}

// Signs the administrator in to the console; false when that no longer works (the fuzzer
// changed the password or tripped the sign-in throttle).
bool ConsoleSignIn(World& w) {
  http::Request signin;
  signin.http_version = 11;
  signin.method = "POST";
  signin.target = "/console/api/session";
  signin.authority = "127.0.0.1:8080";
  signin.remote_address = "127.0.0.1";
  signin.headers = {{"host", signin.authority}, {"content-type", "application/json"}};
  signin.body =
      nlohmann::json{{"account", "fuzz"}, {"userName", "operator"}, {"password", kConsolePassword}}
          .dump();
  auto writer = std::make_shared<MemoryWriter>();
  w.api->Handle(std::move(signin), writer);
  if (writer->status() != 200) return false;
  std::string cookie = writer->Header("Set-Cookie");
  w.console_cookie = cookie.substr(0, cookie.find(';'));
  w.csrf_token = nlohmann::json::parse(writer->body()).at("csrfToken").get<std::string>();
  return true;
}

// The administrator's credentials still work and still carry the administrator policy.
bool Healthy(World& w) {
  auto key = w.store->FindApiKeyByToken(w.api_token);
  if (!key.ok() || key->status != "Active") return false;
  auto access = w.store->GetAccessKey(w.access_key_id);
  if (!access.ok() || access->status != "Active") return false;
  auto policies = w.store->ListUserPolicies(w.user_id);
  return policies.ok() &&
         std::find(policies->begin(), policies->end(), "BasaltAdministrator") != policies->end();
}

std::string_view NextLine(std::string_view& text) {
  size_t nl = text.find('\n');
  std::string_view line = text.substr(0, nl);
  text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  return line;
}

}  // namespace
}  // namespace basalt::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace basalt;
  using namespace basalt::fuzz;
  static std::unique_ptr<World> world = [] {
    spdlog::set_level(spdlog::level::off);
    return MakeWorld();
  }();
  if (size < 2 || size > 256 * 1024) return 0;
  if (++world->inputs % 2000 == 0 || !Healthy(*world)) {
    world.reset();
    world = MakeWorld();
  }

  const Route& route = kRoutes[data[0] % kRouteCount];
  int auth_mode = data[1] % 4;
  if (auth_mode == 3 && world->console_cookie.empty() && !ConsoleSignIn(*world)) {
    world.reset();
    world = MakeWorld();
    FUZZ_CHECK(ConsoleSignIn(*world));
  }
  std::string_view rest = AsView(data + 2, size - 2);
  std::string raw_authorization;
  if (auth_mode == 2) raw_authorization = std::string(NextLine(rest));

  http::Request request;
  request.http_version = 11;
  request.authority = "127.0.0.1:8080";
  request.remote_address = "127.0.0.1";
  if (route.target == nullptr) {
    std::string_view line = NextLine(rest);
    size_t sp = line.find(' ');
    request.method = std::string(line.substr(0, sp));
    request.target = sp == std::string_view::npos ? "/" : std::string(line.substr(sp + 1));
  } else {
    request.method = route.method;
    request.target = route.target;
    if (size_t slot = request.target.find("{}"); slot != std::string::npos) {
      request.target.replace(slot, 2, NextLine(rest));
    }
  }
  request.body = std::string(rest);
  request.headers = {{"host", request.authority},
                     {"content-type", "application/json"},
                     {"x-amz-date", "20250130T203827Z"}};
  if (auth_mode == 0) {
    request.headers.push_back({"authorization", "Bearer " + world->api_token});
  } else if (auth_mode == 1) {
    auth::SignedRequest sr;
    sr.method = request.method;
    sr.raw_target = request.target;
    sr.authority = request.authority;
    for (const auto& h : request.headers) sr.headers.emplace_back(h.name, h.value);
    sr.body = request.body;
    request.headers.push_back(
        {"authorization",
         auth::SignRequest(sr, world->access_key_id, world->secret, "us-east-1", "20250130T203827Z",
                           {"content-type", "host", "x-amz-date"})});
  } else if (auth_mode == 2) {
    request.headers.push_back({"authorization", raw_authorization});
  } else {
    request.target = "/console/api" + request.target;
    request.headers.push_back({"cookie", world->console_cookie});
    request.headers.push_back({"x-csrf-token", world->csrf_token});
  }

  auto writer = std::make_shared<MemoryWriter>();
  world->api->Handle(std::move(request), writer);
  FUZZ_CHECK(writer->responded());  // every request gets an answer
  // Signed out, or the session renewed by a password change: sign in again next time.
  if (auth_mode == 3 && (writer->status() == 401 || !writer->Header("Set-Cookie").empty())) {
    world->console_cookie.clear();
  }
  if (std::getenv("BASALT_FUZZ_VERBOSE") != nullptr) {
    std::fprintf(stderr, "-> %d %.200s\n", writer->status(), writer->body().c_str());
  }
  return 0;
}
