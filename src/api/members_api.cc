// Members (docs/apps.md, "Members"): OpenID Connect sign-in and self-service sign-up, each
// member in a personal account of their own. Runs before authentication (api.cc):
//
//   GET  /console/api/members/config        providers and whether sign-up is on
//   POST /console/api/members/signup        {"email","password","name"?}
//   POST /console/api/members/signin        {"email","password"}
//   GET  /console/oidc/{id}/start?next=/x   302 to the provider (PKCE S256, state, nonce)
//   GET  /console/oidc/{id}/callback        code exchange, ID token verified, 302 to next
//
// Every path that signs someone in starts the session with StartConsoleSession, as the
// console's password sign-in does. Identity links ((issuer, subject) -> user id) and member
// e-mail addresses (-> user id) are store settings ("member.oidc:<issuer>\n<sub>",
// "member.email:<address>"), so they are durable and a second sign-in finds the same user.
#include <spdlog/spdlog.h>

#include <cctype>
#include <map>
#include <mutex>

#include "api/api.h"
#include "api/call.h"
#include "api/console_state.h"
#include "api/errors.h"
#include "console/oidc.h"

namespace basalt::api {

namespace oidc = console::oidc;
using http::Header;

namespace {

constexpr auto kPendingTtl = std::chrono::minutes(10);
constexpr size_t kMaxPending = 10'000;
constexpr const char* kMemberPolicy = "BasaltMember";
constexpr std::string_view kOidcCookie = "basalt_oidc";

}  // namespace

struct MembersState {
  struct Pending {
    std::string provider_id;
    std::string verifier;
    std::string nonce;
    std::string next;
    std::string redirect_uri;
    std::chrono::steady_clock::time_point expires;
  };

  std::vector<std::unique_ptr<oidc::Provider>> providers;
  std::mutex mu;
  std::map<std::string, Pending> pending;  // by state; guarded by mu
  std::mutex create_mu;                    // one member created at a time (no duplicates)

  oidc::Provider* Find(const std::string& id) {
    for (auto& p : providers) {
      if (p->config().id == id) return p.get();
    }
    return nullptr;
  }
};

void MembersStateDeleter::operator()(MembersState* state) const { delete state; }

std::unique_ptr<MembersState, MembersStateDeleter> MakeMembersState(const ApiOptions& options) {
  std::unique_ptr<MembersState, MembersStateDeleter> state(new MembersState);
  if (options.members.oidc_config_file.empty()) return state;
  // main.cc has checked the file at start; a file that went bad since is logged here.
  auto configs = oidc::LoadProviderConfigs(options.members.oidc_config_file);
  if (!configs.ok()) {
    spdlog::error("OpenID Connect sign-in is off: {}", configs.status().message());
    return state;
  }
  auto fetch = [](const std::string& method, const std::string& url,
                  const std::vector<std::pair<std::string, std::string>>& headers,
                  const std::string& body) { return oidc::Fetch(method, url, headers, body); };
  for (auto& c : *configs) {
    state->providers.push_back(std::make_unique<oidc::Provider>(c, fetch, options.clock));
  }
  return state;
}

namespace {

constexpr size_t kMembersApiPrefix = std::string_view("/console/api/members/").size();

// A same-site path to return to after sign-in: "/x..." but never "//host" or "/\host" (which
// browsers read as another origin), no scheme, no control characters. "" when not one.
std::string SafeNext(const std::string& next) {
  if (next.empty()) return "/apps";
  if (next.size() > 1024 || next[0] != '/') return "";
  if (next.size() > 1 && (next[1] == '/' || next[1] == '\\')) return "";
  for (unsigned char c : next) {
    if (c < 0x20 || c == 0x7f || c == '\\') return "";
  }
  return next;
}

bool ValidEmail(const std::string& email) {
  if (email.size() < 3 || email.size() > 254) return false;
  size_t at = email.find('@');
  if (at == 0 || at == std::string::npos || at != email.rfind('@') || at > 64) return false;
  std::string domain = email.substr(at + 1);
  if (domain.size() < 3 || domain.find('.') == std::string::npos || domain.front() == '.' ||
      domain.back() == '.' || domain.find("..") != std::string::npos) {
    return false;
  }
  for (unsigned char c : email) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '(' || c == ')' || c == ',' || c == ':' ||
        c == ';' || c == '<' || c == '>' || c == '[' || c == ']' || c == '\\') {
      return false;
    }
  }
  return true;
}

std::string OidcCookieValue(const http::Request& request) {
  for (const Header& h : request.headers) {
    if (h.name != "cookie") continue;
    std::string v = console::CookieValue(h.value, kOidcCookie);
    if (!v.empty()) return v;
  }
  return "";
}

std::string OidcCookie(const std::string& value, int max_age, bool secure) {
  return std::string(kOidcCookie) + "=" + value +
         "; Path=/console/oidc; Max-Age=" + std::to_string(max_age) + "; HttpOnly; SameSite=Lax" +
         (secure ? "; Secure" : "");
}

// Account names are at most 64 characters (admin.cc); keep the display name shorter.
std::string SpaceName(std::string name) {
  if (name.size() > 48) {
    name.resize(48);
    // Do not cut a UTF-8 sequence in half.
    while (!name.empty() && (static_cast<unsigned char>(name.back()) & 0xC0) == 0x80) {
      name.pop_back();
    }
    if (!name.empty() && (static_cast<unsigned char>(name.back()) & 0x80)) name.pop_back();
  }
  return name + "'s space";
}

Status CheckOrigin(const http::Request& request) {
  if (const std::string* origin = request.FindHeader("origin");
      origin != nullptr && !console::OriginMatchesHost(*origin, request.authority)) {
    return Status::PermissionDenied(console::kCsrfMessage);
  }
  return Status::Ok();
}

void Redirect(BedrockApi::Call& call, const std::string& location,
              std::chrono::system_clock::time_point now, std::vector<Header> extra = {}) {
  std::vector<Header> headers = {{"x-amzn-RequestId", call.request_id},
                                 {"Date", HttpDate(now)},
                                 {"Location", location},
                                 {"Cache-Control", "no-store"}};
  headers.insert(headers.end(), extra.begin(), extra.end());
  call.responded = true;
  call.writer->Respond(302, std::move(headers), "");
}

}  // namespace

// Creates a member: a personal account, one user with role "user" and the member policy,
// model access granted for the member models, and (when given) a console password.
static StatusOr<store::User> CreateMember(store::Store& store, const catalog::Catalog& catalog,
                                          const MembersOptions& options,
                                          const std::string& display_name,
                                          const std::string& user_name,
                                          const std::string& password_hash) {
  BASALT_ASSIGN_OR_RETURN(store::Account account, store.CreateAccount(SpaceName(display_name)));
  BASALT_ASSIGN_OR_RETURN(store::User user, store.CreateUser(account.id, user_name, "user"));
  BASALT_RETURN_IF_ERROR(store.AttachUserPolicy(user.id, kMemberPolicy));
  std::vector<std::string> models = options.member_models;
  if (models.empty()) {
    for (const auto& e : catalog.entries()) models.push_back(e.model_id);
  }
  for (const std::string& m : models) {
    BASALT_RETURN_IF_ERROR(store.SetModelAccess(account.id, m, "GRANTED"));
  }
  if (!password_hash.empty()) BASALT_RETURN_IF_ERROR(store.SetUserPassword(user.id, password_hash));
  return user;
}

// The user a stored link (setting `key`) names, if it still exists.
static StatusOr<std::optional<store::User>> LinkedUser(store::Store& store,
                                                       const std::string& key) {
  BASALT_ASSIGN_OR_RETURN(auto id, store.GetSetting(key));
  if (!id.has_value() || id->empty()) return std::optional<store::User>();
  auto user = store.GetUser(*id);
  if (!user.ok()) {
    if (user.status().code() == StatusCode::kNotFound) return std::optional<store::User>();
    return user.status();
  }
  return std::optional<store::User>(*user);
}

bool BedrockApi::Members(Call& call) {
  const std::string& path = call.path;
  const std::string& method = call.request.method;
  auto now = options_.clock();
  MembersState& members = *console_->members;
  const bool secure = options_.console.secure_cookies;

  if (path.rfind("/console/api/members/", 0) == 0) {
    std::string op = path.substr(kMembersApiPrefix);
    if (op == "config" && method == "GET") {
      Json providers = Json::array();
      for (const auto& p : members.providers) {
        providers.push_back({{"id", p->config().id}, {"label", p->config().label}});
      }
      SendJson(call, 200, {{"providers", providers}, {"signup", options_.members.allow_signup}},
               now, {{"Cache-Control", "no-store"}});
      return true;
    }
    if ((op == "signup" || op == "signin") && method == "POST") {
      Status origin = CheckOrigin(call.request);
      if (!origin.ok()) {
        SendError(call, origin, now);
        return true;
      }
      auto body = ControlBody(call.request.body);
      if (!body.ok()) {
        SendError(call, body.status(), now);
        return true;
      }
      auto email_in = RequiredString(*body, "email", 254);
      if (!email_in.ok()) {
        SendError(call, email_in.status(), now);
        return true;
      }
      auto password = RequiredString(*body, "password", 1024);
      if (!password.ok()) {
        SendError(call, password.status(), now);
        return true;
      }
      const std::string email = Lower(*email_in);
      const std::string email_key = "member.email:" + email;
      if (op == "signup") {
        if (!options_.members.allow_signup) {
          SendError(call, Status::PermissionDenied("Sign-up is not enabled on this server."), now);
          return true;
        }
        auto name = OptionalString(*body, "name", 64);
        if (!name.ok()) {
          SendError(call, name.status(), now);
          return true;
        }
        if (!ValidEmail(email)) {
          SendError(call, Status::InvalidArgument("Enter a valid e-mail address."), now);
          return true;
        }
        Status policy = console::CheckPasswordPolicy(*password);
        if (!policy.ok()) {
          SendError(call, policy, now);
          return true;
        }
        auto hash = console::HashPassword(*password);
        if (!hash.ok()) {
          SendError(call, hash.status(), now);
          return true;
        }
        StatusOr<store::User> user = Status::Internal("unset");
        {
          std::lock_guard lock(members.create_mu);
          auto existing = LinkedUser(*store_, email_key);
          if (!existing.ok()) {
            SendError(call, existing.status(), now);
            return true;
          }
          if (existing->has_value()) {
            SendError(call,
                      Status(StatusCode::kFailedPrecondition,
                             "A member with this e-mail address already exists. Sign in instead.",
                             "Conflict"),
                      now);
            return true;
          }
          std::string display = name->empty() ? email.substr(0, email.find('@')) : *name;
          user = CreateMember(*store_, *catalog_, options_.members, display, email, *hash);
          if (user.ok()) {
            Status st = store_->PutSetting(email_key, user->id);
            if (!st.ok()) user = st;
          }
        }
        if (!user.ok()) {
          spdlog::error("{} member sign-up for {} failed: {}", call.request_id, email,
                        user.status().ToString());
          SendError(call, user.status(), now);
          return true;
        }
        spdlog::info("{} member signed up: {} ({}) from {}", call.request_id, email, user->id,
                     call.request.remote_address);
        auto signed_in = StartConsoleSession(console_->sessions, *store_, *catalog_, options_,
                                             call.request, *user);
        if (!signed_in.ok()) {
          SendError(call, signed_in.status(), now);
          return true;
        }
        SendJson(call, 201, signed_in->reply, now,
                 {{"Set-Cookie", signed_in->set_cookie}, {"Cache-Control", "no-store"}});
        return true;
      }

      // Member sign-in: throttled and timed as the console's password sign-in.
      const std::string throttle_key = "member\n" + email;
      const std::string& address = call.request.remote_address;
      auto steady = std::chrono::steady_clock::now();
      if (auto wait = console_->throttle.RetryAfter(throttle_key, address, steady);
          wait.count() > 0) {
        SendError(call,
                  Status::ResourceExhausted("Too many failed sign-in attempts. Try again in " +
                                            std::to_string(wait.count()) + " seconds."),
                  now, {{"Retry-After", std::to_string(wait.count())}});
        return true;
      }
      auto user = LinkedUser(*store_, email_key);
      if (!user.ok()) {
        SendError(call, user.status(), now);
        return true;
      }
      std::string hash;
      if (user->has_value()) {
        auto stored = store_->GetUserPassword((*user)->id);
        if (!stored.ok()) {
          SendError(call, stored.status(), now);
          return true;
        }
        hash = *stored;
      }
      bool ok = console::VerifyPassword(hash.empty() ? console_->DummyHash() : hash, *password);
      if (!ok || !user->has_value() || hash.empty()) {
        console_->throttle.RecordFailure(throttle_key, address, steady);
        spdlog::info("{} member sign-in failed for {} from {}", call.request_id, email, address);
        SendError(
            call,
            Status::Unauthenticated(console::kSignInFailedMessage, console::kConsoleAuthReason),
            now);
        return true;
      }
      console_->throttle.RecordSuccess(throttle_key, address);
      auto signed_in = StartConsoleSession(console_->sessions, *store_, *catalog_, options_,
                                           call.request, **user);
      if (!signed_in.ok()) {
        SendError(call, signed_in.status(), now);
        return true;
      }
      spdlog::info("{} member sign-in: {} ({}) from {}", call.request_id, email, (*user)->id,
                   address);
      SendJson(call, 200, signed_in->reply, now,
               {{"Set-Cookie", signed_in->set_cookie}, {"Cache-Control", "no-store"}});
      return true;
    }
    return false;  // the console answers unknown operations
  }

  // /console/oidc/{id}/start and /console/oidc/{id}/callback
  if (path.rfind("/console/oidc/", 0) != 0) return false;
  std::vector<std::string> seg;  // "", "console", "oidc", {id}, {step}
  for (size_t i = 0; i <= path.size();) {
    size_t slash = path.find('/', i);
    if (slash == std::string::npos) slash = path.size();
    seg.push_back(path.substr(i, slash - i));
    i = slash + 1;
  }
  seg.erase(seg.begin());
  if (seg.size() != 4 || method != "GET" || (seg[3] != "start" && seg[3] != "callback")) {
    SendError(call, Status::NotFound("Unknown operation " + method + " " + path), now);
    return true;
  }
  auto fail = [&](const std::string& code, std::string why) {
    // The reason may quote the provider (or a crafted URL): one printable line in the log.
    if (why.size() > 300) why.resize(300);
    for (char& c : why) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    std::string id = seg[2].substr(0, 32);
    for (char& c : id) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    spdlog::warn("{} OpenID Connect sign-in with {} refused ({}): {}", call.request_id, id, code,
                 why);
    Redirect(call, "/signin?error=" + code, now, {{"Set-Cookie", OidcCookie("", 0, secure)}});
    return true;
  };
  oidc::Provider* provider = members.Find(seg[2]);
  if (provider == nullptr) return fail("unknown_provider", "no provider " + seg[2]);

  if (seg[3] == "start") {
    std::string next = SafeNext(QueryParam(call.query, "next"));
    if (next.empty()) {
      SendError(call, Status::InvalidArgument("next must be a path on this site, such as /apps."),
                now);
      return true;
    }
    std::string base = options_.members.public_url;
    if (base.empty()) base = std::string(secure ? "https://" : "http://") + call.request.authority;
    while (!base.empty() && base.back() == '/') base.pop_back();
    MembersState::Pending p;
    p.provider_id = seg[2];
    p.next = next;
    p.redirect_uri = base + "/console/oidc/" + seg[2] + "/callback";
    auto state = console::RandomToken(32);
    auto verifier = console::RandomToken(32);
    auto nonce = console::RandomToken(24);
    if (!state.ok() || !verifier.ok() || !nonce.ok()) {
      SendError(call, Status::Internal("cannot make random values"), now);
      return true;
    }
    p.verifier = *verifier;
    p.nonce = *nonce;
    auto url = provider->AuthorizationUrl(p.redirect_uri, *state, p.nonce, p.verifier);
    if (!url.ok()) return fail("provider_unavailable", url.status().ToString());
    {
      std::lock_guard lock(members.mu);
      auto steady = std::chrono::steady_clock::now();
      std::erase_if(members.pending, [&](const auto& kv) { return kv.second.expires <= steady; });
      if (members.pending.size() >= kMaxPending) {
        SendError(call,
                  Status::ResourceExhausted("Too many sign-ins in progress. Try again shortly."),
                  now);
        return true;
      }
      p.expires = steady + kPendingTtl;
      members.pending[*state] = p;
    }
    Redirect(call, *url, now, {{"Set-Cookie", OidcCookie(*state, 600, secure)}});
    return true;
  }

  // The callback: the state must be one we issued, to this browser, for this provider.
  std::string state = QueryParam(call.query, "state");
  std::optional<MembersState::Pending> pending;
  if (!state.empty()) {
    std::lock_guard lock(members.mu);
    auto it = members.pending.find(state);
    if (it != members.pending.end()) {
      if (it->second.expires > std::chrono::steady_clock::now()) pending = it->second;
      members.pending.erase(it);  // one use only
    }
  }
  if (!pending || pending->provider_id != seg[2]) {
    return fail("oidc_state", "unknown, used or expired state");
  }
  if (!console::SecureEquals(OidcCookieValue(call.request), state)) {
    return fail("oidc_state", "the state was issued to another browser");
  }
  if (std::string err = QueryParam(call.query, "error"); !err.empty()) {
    return fail("oidc_denied", "the provider answered " + err);
  }
  std::string code = QueryParam(call.query, "code");
  if (code.empty()) return fail("oidc_failed", "no code");
  auto claims = provider->Redeem(code, pending->verifier, pending->redirect_uri, pending->nonce);
  if (!claims.ok()) {
    return fail(
        claims.status().code() == StatusCode::kUnavailable ? "provider_unavailable" : "oidc_failed",
        claims.status().ToString());
  }

  const std::string link_key = "member.oidc:" + claims->issuer + "\n" + claims->subject;
  StatusOr<store::User> user = Status::Internal("unset");
  bool created = false;
  {
    std::lock_guard lock(members.create_mu);
    auto linked = LinkedUser(*store_, link_key);
    if (!linked.ok()) {
      user = linked.status();
    } else if (linked->has_value()) {
      user = **linked;
    } else {
      std::string user_name = claims->email.empty() ? claims->subject : Lower(claims->email);
      std::string display = !claims->name.empty() ? claims->name
                            : !claims->email.empty()
                                ? claims->email.substr(0, claims->email.find('@'))
                                : "Member";
      user = CreateMember(*store_, *catalog_, options_.members, display, user_name, "");
      if (user.ok()) {
        Status st = store_->PutSetting(link_key, user->id);
        if (!st.ok()) user = st;
        created = true;
      }
    }
  }
  if (!user.ok()) return fail("server_error", user.status().ToString());
  auto signed_in =
      StartConsoleSession(console_->sessions, *store_, *catalog_, options_, call.request, *user);
  if (!signed_in.ok()) return fail("server_error", signed_in.status().ToString());
  spdlog::info("{} member {} with {}: {} ({}) from {}", call.request_id,
               created ? "joined" : "signed in", seg[2], user->name, user->id,
               call.request.remote_address);
  Redirect(call, pending->next, now,
           {{"Set-Cookie", signed_in->set_cookie}, {"Set-Cookie", OidcCookie("", 0, secure)}});
  return true;
}

}  // namespace basalt::api
