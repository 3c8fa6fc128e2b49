// The web console's HTTP side (docs/console.md): sign-in, sessions and password changes
// under /console/api/session, the session cookie and CSRF checks in front of every other
// /console/api/<path> call (which then runs <path> through the same route table as a SigV4
// call), and the front end's static files.
#include <spdlog/spdlog.h>

#include <cctype>
#include <ctime>
#include <mutex>

#include "admin/admin.h"
#include "api/api.h"
#include "api/authorize.h"
#include "api/call.h"
#include "api/console_state.h"
#include "api/errors.h"
#include "console/password.h"
#include "console/session.h"
#include "console/static_files.h"
#include "console/throttle.h"

namespace basalt::api {

using http::Header;

BedrockApi::ConsoleStatePtr BedrockApi::MakeConsoleState(store::Store* store,
                                                         const ApiOptions& options) {
  return ConsoleStatePtr(new ConsoleState(store, options));
}

void BedrockApi::ConsoleStateDeleter::operator()(ConsoleState* state) const { delete state; }

namespace {

constexpr size_t kConsoleApiPrefix = std::string_view("/console/api").size();

Status SignInFailed() {
  return Status::Unauthenticated(console::kSignInFailedMessage, console::kConsoleAuthReason);
}

// Every value of the Cookie header: HTTP/2 clients may split it into several fields.
std::string SessionToken(const http::Request& request) {
  for (const Header& h : request.headers) {
    if (h.name != "cookie") continue;
    std::string v = console::CookieValue(h.value, console::kSessionCookieName);
    if (!v.empty()) return v;
  }
  return "";
}

std::string HeaderOr(const http::Request& request, std::string_view name) {
  const std::string* v = request.FindHeader(name);
  return v ? *v : "";
}

bool IsAccountId(const std::string& s) {
  if (s.size() != 12) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// CSRF: the session's token in X-CSRF-Token, and an Origin (when sent) naming this host.
Status CheckCsrf(const http::Request& request, const store::ConsoleSession* session) {
  if (const std::string* origin = request.FindHeader("origin");
      origin != nullptr && !console::OriginMatchesHost(*origin, request.authority)) {
    return Status::PermissionDenied(console::kCsrfMessage);
  }
  if (session == nullptr) return Status::Ok();
  const std::string* token = request.FindHeader("x-csrf-token");
  if (token == nullptr || !console::SecureEquals(*token, session->csrf_token)) {
    return Status::PermissionDenied(console::kCsrfMessage);
  }
  return Status::Ok();
}

void SendNoContent(BedrockApi::Call& call, std::chrono::system_clock::time_point now,
                   std::vector<Header> extra = {}) {
  std::vector<Header> headers = {{"x-amzn-RequestId", call.request_id}, {"Date", HttpDate(now)}};
  headers.insert(headers.end(), extra.begin(), extra.end());
  call.responded = true;
  call.writer->Respond(204, std::move(headers), "");
}

}  // namespace

void BedrockApi::Console(Call& call) {
  auto now = options_.clock();
  const std::string& method = call.request.method;
  std::string rest = call.path.substr(kConsoleApiPrefix);
  if (rest == "/session") {
    if (method == "POST") return ConsoleSignIn(call);
    if (method == "GET") return ConsoleGetSession(call);
    if (method == "DELETE") return ConsoleSignOut(call);
  }
  if (rest == "/session/password" && method == "PUT") return ConsoleChangePassword(call);
  if (rest == "/session" || rest == "/session/password") {
    return SendError(call, Status::NotFound("Unknown operation " + method + " " + call.path), now);
  }

  auto session = console_->sessions.Find(SessionToken(call.request));
  if (!session.ok()) return SendError(call, session.status(), now);
  if (method != "GET" && method != "HEAD") {
    Status csrf = CheckCsrf(call.request, &*session);
    if (!csrf.ok()) return SendError(call, csrf, now);
  }
  call.principal = Principal{};
  call.principal.account_id = session->account_id;
  call.principal.user_id = session->user_id;
  call.principal.method = "console";
  call.region = options_.default_region;
  call.source = "console";
  call.path = rest.empty() ? "/" : rest;
  RouteCall(call);
}

namespace {

// Session.can: what the user's policies allow, as hints for the UI.
Json Capabilities(const Identity& id, const catalog::Catalog& catalog, const std::string& region) {
  const std::string& acct = id.principal.account_id;
  auto allowed = [&](const char* action, const std::string& resource) {
    return iam::Evaluate(id.policies, action, resource, id.context) == iam::Decision::kAllow;
  };
  auto any_model = [&](const char* action) {
    for (const auto& e : catalog.entries()) {
      if (allowed(action, FoundationModelArn(region, e.model_id))) return true;
    }
    return false;
  };
  const std::string all_users = UserArn(acct, "*");
  return {
      {"invoke", any_model("bedrock:InvokeModel")},
      {"listModels", allowed("bedrock:ListFoundationModels", "*")},
      {"manageAccess", allowed("bedrock:PutUseCaseForModelAccess", "*") ||
                           any_model("bedrock:CreateFoundationModelAgreement")},
      {"approveAccess", allowed("basalt:PutModelAccess", "arn:aws:iam::" + acct + ":root")},
      {"viewUsage", allowed("basalt:GetUsageReport", id.arn)},
      {"viewAccountUsage", allowed("basalt:GetUsageReport", all_users)},
      {"manageOwnKeys", allowed("iam:CreateServiceSpecificCredential", id.arn) ||
                            allowed("iam:CreateAccessKey", id.arn)},
      {"manageUsers", allowed("iam:ListUsers", all_users) && allowed("iam:CreateUser", all_users)},
      {"manageModels", allowed("basalt:PullModel", "*")},
  };
}

// The Session reply for `session`; kUnauthenticated when its user is gone.
StatusOr<Json> SessionJson(store::Store& store, const catalog::Catalog& catalog,
                           const store::ConsoleSession& session, const http::Request& req,
                           const std::string& region, bool tls) {
  Principal p;
  p.account_id = session.account_id;
  p.user_id = session.user_id;
  p.method = "console";
  auto identity = LoadIdentity(store, p);
  if (!identity.ok()) {
    if (identity.status().code() == StatusCode::kNotFound) {
      return Status::Unauthenticated(console::kNoSessionMessage, console::kConsoleAuthReason);
    }
    return identity.status();
  }
  auto account = store.GetAccount(session.account_id);
  if (!account.ok()) return account.status();
  auto op = store.GetSetting("operator_account");
  if (!op.ok()) return op.status();
  return Json{{"user",
               {{"UserName", identity->user_name},
                {"UserId", session.user_id},
                {"AccountId", session.account_id},
                {"AccountName", account->name},
                {"Arn", identity->arn}}},
              {"csrfToken", session.csrf_token},
              {"expiresAt", admin::Iso8601(session.expires_at)},
              {"region", region},
              {"endpoint", std::string(tls ? "https://" : "http://") + req.authority},
              {"operator", op->has_value() && **op == session.account_id},
              {"can", Capabilities(*identity, catalog, region)}};
}

}  // namespace

void BedrockApi::ConsoleSignIn(Call& call) {
  auto now = options_.clock();
  Status csrf = CheckCsrf(call.request, nullptr);  // Origin only: no session yet
  if (!csrf.ok()) return SendError(call, csrf, now);
  auto body = ControlBody(call.request.body);
  if (!body.ok()) return SendError(call, body.status(), now);
  auto account_in = RequiredString(*body, "account", 256);
  if (!account_in.ok()) return SendError(call, account_in.status(), now);
  auto user_name = RequiredString(*body, "userName", 256);
  if (!user_name.ok()) return SendError(call, user_name.status(), now);
  auto password = RequiredString(*body, "password", 1024);
  if (!password.ok()) return SendError(call, password.status(), now);

  // Resolve the account first, so its id and its name share one throttle count.
  StatusOr<store::Account> account = IsAccountId(*account_in)
                                         ? store_->GetAccount(*account_in)
                                         : store_->FindAccountByName(*account_in);
  if (!account.ok() && account.status().code() != StatusCode::kNotFound &&
      account.status().code() != StatusCode::kFailedPrecondition) {
    return SendError(call, account.status(), now);
  }
  const std::string throttle_key =
      (account.ok() ? account->id : "?" + Lower(*account_in)) + "\n" + *user_name;
  const std::string& address = call.request.remote_address;
  auto steady = std::chrono::steady_clock::now();
  if (auto wait = console_->throttle.RetryAfter(throttle_key, address, steady); wait.count() > 0) {
    return SendError(call,
                     Status::ResourceExhausted("Too many failed sign-in attempts. Try again in " +
                                               std::to_string(wait.count()) + " seconds."),
                     now, {{"Retry-After", std::to_string(wait.count())}});
  }

  std::optional<store::User> user;
  std::string hash;
  if (account.ok()) {
    auto found = store_->FindUserByName(account->id, *user_name);
    if (!found.ok() && found.status().code() != StatusCode::kNotFound) {
      return SendError(call, found.status(), now);
    }
    if (found.ok()) {
      auto stored = store_->GetUserPassword(found->id);
      if (!stored.ok()) return SendError(call, stored.status(), now);
      user = *found;
      hash = *stored;
    }
  }
  // Always one Argon2id verification, so timing does not tell which part was wrong.
  bool ok = console::VerifyPassword(hash.empty() ? console_->DummyHash() : hash, *password);
  if (!ok || !user || hash.empty()) {
    console_->throttle.RecordFailure(throttle_key, address, steady);
    spdlog::info("{} console sign-in failed for {} in {} from {}", call.request_id, *user_name,
                 *account_in, address);
    return SendError(call, SignInFailed(), now);
  }
  console_->throttle.RecordSuccess(throttle_key, address);
  auto signed_in =
      StartConsoleSession(console_->sessions, *store_, *catalog_, options_, call.request, *user);
  if (!signed_in.ok()) return SendError(call, signed_in.status(), now);
  spdlog::info("{} console sign-in: {} ({}) from {}", call.request_id, user->name, user->id,
               address);
  SendJson(call, 200, signed_in->reply, now,
           {{"Set-Cookie", signed_in->set_cookie}, {"Cache-Control", "no-store"}});
}

// The one way a console session starts (password sign-in here, members in members_api.cc).
StatusOr<ConsoleSignedIn> StartConsoleSession(console::Sessions& sessions, store::Store& store,
                                              const catalog::Catalog& catalog,
                                              const ApiOptions& options,
                                              const http::Request& request,
                                              const store::User& user) {
  auto session = sessions.Create(user);
  if (!session.ok()) return session.status();
  auto reply = SessionJson(store, catalog, session->row, request, options.default_region,
                           options.console.secure_cookies);
  if (!reply.ok()) return reply.status();
  return ConsoleSignedIn{
      console::SessionCookie(session->token, sessions.ttl(), options.console.secure_cookies),
      std::move(*reply)};
}

void BedrockApi::ConsoleGetSession(Call& call) {
  auto now = options_.clock();
  auto session = console_->sessions.Find(SessionToken(call.request));
  if (!session.ok()) return SendError(call, session.status(), now);
  auto reply = SessionJson(*store_, *catalog_, *session, call.request, options_.default_region,
                           options_.console.secure_cookies);
  if (!reply.ok()) return SendError(call, reply.status(), now);
  SendJson(call, 200, *reply, now, {{"Cache-Control", "no-store"}});
}

void BedrockApi::ConsoleSignOut(Call& call) {
  auto now = options_.clock();
  std::vector<Header> clear = {
      {"Set-Cookie", console::ClearedSessionCookie(options_.console.secure_cookies)}};
  std::string token = SessionToken(call.request);
  auto session = console_->sessions.Find(token);
  if (!session.ok()) {
    if (session.status().code() != StatusCode::kUnauthenticated) {
      return SendError(call, session.status(), now);
    }
    return SendNoContent(call, now, clear);  // already signed out
  }
  Status csrf = CheckCsrf(call.request, &*session);
  if (!csrf.ok()) return SendError(call, csrf, now);
  Status st = console_->sessions.End(token);
  if (!st.ok()) return SendError(call, st, now);
  SendNoContent(call, now, clear);
}

void BedrockApi::ConsoleChangePassword(Call& call) {
  auto now = options_.clock();
  std::string token = SessionToken(call.request);
  auto session = console_->sessions.Find(token);
  if (!session.ok()) return SendError(call, session.status(), now);
  Status csrf = CheckCsrf(call.request, &*session);
  if (!csrf.ok()) return SendError(call, csrf, now);
  auto body = ControlBody(call.request.body);
  if (!body.ok()) return SendError(call, body.status(), now);
  auto current = RequiredString(*body, "currentPassword", 1024);
  if (!current.ok()) return SendError(call, current.status(), now);
  auto next = RequiredString(*body, "newPassword", 1024);
  if (!next.ok()) return SendError(call, next.status(), now);
  Status policy = console::CheckPasswordPolicy(*next);
  if (!policy.ok()) return SendError(call, policy, now);

  // Guessing the current password is throttled like signing in.
  auto user = store_->GetUser(session->user_id);
  if (!user.ok()) return SendError(call, user.status(), now);
  const std::string throttle_key = user->account_id + "\n" + user->name;
  const std::string& address = call.request.remote_address;
  auto steady = std::chrono::steady_clock::now();
  if (auto wait = console_->throttle.RetryAfter(throttle_key, address, steady); wait.count() > 0) {
    return SendError(call,
                     Status::ResourceExhausted("Too many failed attempts. Try again in " +
                                               std::to_string(wait.count()) + " seconds."),
                     now, {{"Retry-After", std::to_string(wait.count())}});
  }
  auto stored = store_->GetUserPassword(user->id);
  if (!stored.ok()) return SendError(call, stored.status(), now);
  if (stored->empty() || !console::VerifyPassword(*stored, *current)) {
    console_->throttle.RecordFailure(throttle_key, address, steady);
    return SendError(call, Status::InvalidArgument("The current password is incorrect."), now);
  }
  console_->throttle.RecordSuccess(throttle_key, address);
  auto hash = console::HashPassword(*next);
  if (!hash.ok()) return SendError(call, hash.status(), now);
  // Setting the password ends every session of the user; this browser's carries on.
  Status st = store_->SetUserPassword(user->id, *hash);
  if (st.ok()) st = store_->CreateConsoleSession(*session);
  if (!st.ok()) return SendError(call, st, now);
  spdlog::info("{} console password changed by {} ({})", call.request_id, user->name, user->id);
  SendNoContent(call, now);
}

bool BedrockApi::ServeStatic(Call& call) {
  auto now = options_.clock();
  console::StaticRequest r;
  std::string accept = HeaderOr(call.request, "accept-encoding");
  std::string if_none_match = HeaderOr(call.request, "if-none-match");
  r.path = call.path;
  r.accept_encoding = accept;
  r.if_none_match = if_none_match;
  auto reply = console_->files.Serve(r);
  if (!reply) return false;
  if (reply->status == 404) {
    SendError(call, Status::NotFound("The console has no file " + call.path + "."), now);
    return true;
  }
  std::vector<Header> headers = {{"x-amzn-RequestId", call.request_id}, {"Date", HttpDate(now)}};
  for (auto& [name, value] : reply->headers) headers.push_back({name, value});
  call.responded = true;
  call.writer->Respond(reply->status, std::move(headers), std::move(reply->body));
  return true;
}

}  // namespace basalt::api
