#include "admin/admin.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <utility>

#include "auth/sigv4.h"
#include "console/password.h"

namespace basalt::admin {
namespace {

constexpr char kDefaultUserPolicy[] = "AmazonBedrockFullAccess";
constexpr char kDefaultAdminPolicy[] = "BasaltAdministrator";

std::string UserArn(const std::string& account_id, const std::string& user_name) {
  return "arn:aws:iam::" + account_id + ":user/" + user_name;
}
std::string AccountRootArn(const std::string& account_id) {
  return "arn:aws:iam::" + account_id + ":root";
}
std::string PolicyArn(const std::string& account_id, const std::string& name) {
  return "arn:aws:iam::" + account_id + ":policy/" + name;
}

Json AccountJson(const store::Account& account) {
  return Json{{"AccountId", account.id},
              {"Name", account.name},
              {"CreateDate", Iso8601(account.created_at)}};
}

Json UserJson(const store::User& user, const std::vector<std::string>& policies,
              bool password_set) {
  return Json{{"UserName", user.name},
              {"UserId", user.id},
              {"AccountId", user.account_id},
              {"Arn", UserArn(user.account_id, user.name)},
              {"Role", user.role},
              {"CreateDate", Iso8601(user.created_at)},
              {"AttachedPolicies", policies},
              {"PasswordSet", password_set}};
}

// Metadata only: a secret never goes through here.
Json AccessKeyJson(const store::AccessKey& key) {
  return Json{{"AccessKeyId", key.access_key_id},
              {"UserId", key.user_id},
              {"AccountId", key.account_id},
              {"Status", key.status},
              {"CreateDate", Iso8601(key.created_at)}};
}

Json ApiKeyJson(const store::ApiKey& key) {
  return Json{{"ApiKeyId", key.id},
              {"UserId", key.user_id},
              {"AccountId", key.account_id},
              {"Status", key.status},
              {"ExpiresAt", key.expires_at == 0 ? Json(nullptr) : Json(Iso8601(key.expires_at))},
              {"CreateDate", Iso8601(key.created_at)}};
}

// A required request member, with the service's validation wording ("" counts as absent:
// the HTTP layer has already refused present-but-empty strings).
Status Required(const std::string& value, const char* field, size_t max_len) {
  if (value.empty()) {
    return Status::InvalidArgument(std::string("1 validation error detected: Value null at '") +
                                   field +
                                   "' failed to satisfy constraint: Member must not be null");
  }
  if (value.size() > max_len) {
    return Status::InvalidArgument(std::string("1 validation error detected: Value at '") + field +
                                   "' failed to satisfy constraint: Member must have length "
                                   "between 1 and " +
                                   std::to_string(max_len));
  }
  return Status::Ok();
}

Status ValidKeyStatus(const std::string& status) {
  if (status == "Active" || status == "Inactive") return Status::Ok();
  return Status::InvalidArgument("status must be Active or Inactive");
}

// 20 characters from 62 (about 119 bits), from OpenSSL's CSPRNG by rejection sampling.
StatusOr<std::string> GeneratePassword() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  constexpr size_t kLength = 20;
  std::string out;
  while (out.size() < kLength) {
    std::array<unsigned char, 32> bytes;
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
      return Status::Internal("cannot generate a password: no randomness");
    }
    for (unsigned char b : bytes) {
      if (b < 248 && out.size() < kLength) out.push_back(kAlphabet[b % 62]);  // 248 = 4 * 62
    }
  }
  return out;
}

bool HasDeny(const iam::Policy& policy) {
  return std::any_of(policy.statements.begin(), policy.statements.end(),
                     [](const iam::Statement& s) { return !s.allow; });
}

}  // namespace

std::string Iso8601(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

StatusOr<std::vector<iam::Policy>> LoadUserPolicies(store::Store& store,
                                                    const std::string& account_id,
                                                    const std::string& user_id) {
  std::vector<iam::Policy> policies;
  BASALT_ASSIGN_OR_RETURN(std::vector<std::string> names, store.ListUserPolicies(user_id));
  for (const auto& name : names) {
    auto builtin = iam::BuiltinPolicy(name);
    if (builtin.ok()) {
      policies.push_back(std::move(*builtin));
      continue;
    }
    auto doc = store.GetPolicy(account_id, name);
    if (!doc.ok()) {
      if (doc.status().code() == StatusCode::kNotFound) continue;  // detached concurrently
      return doc.status();
    }
    auto policy = iam::ParsePolicyDocument(name, *doc);
    if (!policy.ok()) {
      // Fail closed: skipping it would drop its Deny statements.
      spdlog::error("policy {} of account {} does not parse ({}); it denies everything", name,
                    account_id, policy.status().message());
      policies.push_back(iam::Policy{name, {iam::Statement{false, {"*"}, {"*"}}}});
      continue;
    }
    policies.push_back(std::move(*policy));
  }
  return policies;
}

Caller Caller::LocalOperator() {
  Caller c;
  c.local_operator = true;
  c.arn = "local operator";
  return c;
}

Caller Caller::User(std::string account_id, std::string user_id, std::string arn,
                    std::vector<iam::Policy> policies, iam::EvalContext context) {
  Caller c;
  c.account_id = std::move(account_id);
  c.user_id = std::move(user_id);
  c.arn = std::move(arn);
  c.policies = std::move(policies);
  c.context = std::move(context);
  return c;
}

// The authorization helpers of one operation: what the caller is, which account and user an
// operation reaches, and the escalation guard. The local operator passes every check.
class Service::Scope {
 public:
  Scope(store::Store& store, const Caller& caller) : store_(store), caller_(caller) {}

  // Whether the caller belongs to the operator account (always, for the local operator).
  StatusOr<bool> IsOperator() {
    if (caller_.local_operator) return true;
    if (!is_operator_.has_value()) {
      BASALT_ASSIGN_OR_RETURN(std::optional<std::string> op, store_.GetSetting("operator_account"));
      is_operator_ = op.has_value() && *op == caller_.account_id;
    }
    return *is_operator_;
  }

  Status RequireOperator() {
    BASALT_ASSIGN_OR_RETURN(bool is_operator, IsOperator());
    if (is_operator) return Status::Ok();
    return Status::PermissionDenied(caller_.arn + " is not an operator administrator");
  }

  Status Check(const std::string& action, const std::string& resource) const {
    if (caller_.local_operator) return Status::Ok();
    iam::Decision d = iam::Evaluate(caller_.policies, action, resource, caller_.context);
    if (d == iam::Decision::kAllow) return Status::Ok();
    return Status::PermissionDenied(iam::DenialMessage(caller_.arn, action, resource, d));
  }

  // The account an operation targets ("" = the caller's). Users of the operator account may
  // act on other accounts, as far as their policies allow on that account's ARNs; nobody else
  // ever reaches another account.
  StatusOr<std::string> Account(const std::string& wanted) {
    std::string account = wanted.empty() ? caller_.account_id : wanted;
    if (caller_.local_operator && account.empty()) {
      return Status::InvalidArgument("accountId is required");
    }
    if (account != caller_.account_id) {
      BASALT_ASSIGN_OR_RETURN(bool is_operator, IsOperator());
      if (!is_operator) {
        return Status::PermissionDenied(caller_.arn + " may only manage its own account");
      }
    }
    BASALT_RETURN_IF_ERROR(store_.GetAccount(account).status());
    return account;
  }

  // The user an operation targets ("" = the caller); users of other accounts are not found
  // unless the caller belongs to the operator account.
  StatusOr<store::User> TargetUser(const std::string& wanted) {
    std::string id = wanted.empty() ? caller_.user_id : wanted;
    if (id.empty()) return Status::InvalidArgument("userId is required");
    BASALT_ASSIGN_OR_RETURN(store::User user, store_.GetUser(id));
    if (user.account_id != caller_.account_id) {
      BASALT_ASSIGN_OR_RETURN(bool is_operator, IsOperator());
      if (!is_operator) return Status::NotFound("User " + wanted + " not found.");
    }
    return user;
  }

  // Privilege escalation guard: nobody grants, or takes the keys of, more than they hold.
  Status WithinCaller(const std::vector<iam::Policy>& policies,
                      const iam::EvalContext& subject) const {
    if (caller_.local_operator) return Status::Ok();
    for (const auto& p : policies) {
      if (!iam::PolicyWithin(p, subject, caller_.policies, caller_.context)) {
        return Status::PermissionDenied("User: " + caller_.arn + " may not grant policy " + p.name +
                                        ": it allows more than the caller's own policies");
      }
    }
    return Status::Ok();
  }

  // A key (or password) acts as its user: making one for someone else must not reach beyond
  // the caller's own rights.
  Status MayActAs(const store::User& user) const {
    if (caller_.local_operator || user.id == caller_.user_id) return Status::Ok();
    BASALT_ASSIGN_OR_RETURN(std::vector<iam::Policy> policies,
                            LoadUserPolicies(store_, user.account_id, user.id));
    return WithinCaller(policies, iam::EvalContext{user.name, user.id, user.account_id});
  }

  // A built-in policy, or a custom one of `account_id`.
  StatusOr<iam::Policy> ResolvePolicy(const std::string& account_id, const std::string& name) {
    auto builtin = iam::BuiltinPolicy(name);
    if (builtin.ok()) return std::move(*builtin);
    auto doc = store_.GetPolicy(account_id, name);
    if (!doc.ok()) {
      if (doc.status().code() == StatusCode::kNotFound) {
        return Status::NotFound("Policy " + name + " not found.");
      }
      return doc.status();
    }
    return iam::ParsePolicyDocument(name, *doc);
  }

  const Caller& caller() const { return caller_; }

 private:
  store::Store& store_;
  const Caller& caller_;
  std::optional<bool> is_operator_;
};

Service::Service(store::Store* store, ServiceOptions options)
    : store_(store), options_(std::move(options)) {}

// --- accounts and users ---------------------------------------------------------------------

StatusOr<Json> Service::CreateAccount(const Caller& caller, const std::string& name) {
  Scope scope(*store_, caller);
  BASALT_RETURN_IF_ERROR(scope.RequireOperator());
  BASALT_RETURN_IF_ERROR(scope.Check("iam:CreateAccount", "*"));
  BASALT_RETURN_IF_ERROR(Required(name, "name", 64));
  BASALT_ASSIGN_OR_RETURN(store::Account account, store_->CreateAccount(name));
  return Json{{"Account", AccountJson(account)}};
}

StatusOr<Json> Service::ListAccounts(const Caller& caller) {
  Scope scope(*store_, caller);
  BASALT_RETURN_IF_ERROR(scope.RequireOperator());
  BASALT_RETURN_IF_ERROR(scope.Check("iam:ListAccounts", "*"));
  BASALT_ASSIGN_OR_RETURN(std::vector<store::Account> accounts, store_->ListAccounts());
  Json list = Json::array();
  for (const store::Account& a : accounts) list.push_back(AccountJson(a));
  return Json{{"Accounts", std::move(list)}};
}

StatusOr<Json> Service::CreateUser(const Caller& caller, const CreateUserRequest& request) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(std::string account, scope.Account(request.account_id));
  BASALT_RETURN_IF_ERROR(Required(request.name, "name", 64));
  const std::string role = request.role.empty() ? "user" : request.role;
  if (role != "user" && role != "admin") {
    return Status::InvalidArgument("role must be user or admin");
  }
  const std::string arn = UserArn(account, request.name);
  BASALT_RETURN_IF_ERROR(scope.Check("iam:CreateUser", arn));
  std::vector<std::string> policies =
      request.policies.has_value()
          ? *request.policies
          : std::vector<std::string>{role == "admin" ? kDefaultAdminPolicy : kDefaultUserPolicy};
  // Every policy is resolved first, so a typo does not leave a half-configured user behind.
  std::vector<iam::Policy> granted;
  for (const auto& name : policies) {
    BASALT_ASSIGN_OR_RETURN(iam::Policy p, scope.ResolvePolicy(account, name));
    granted.push_back(std::move(p));
  }
  // Creating a user with policies is attaching them: it needs iam:AttachUserPolicy, and each
  // policy must stay within what the caller itself may do.
  if (!policies.empty()) BASALT_RETURN_IF_ERROR(scope.Check("iam:AttachUserPolicy", arn));
  BASALT_RETURN_IF_ERROR(scope.WithinCaller(granted, iam::EvalContext{request.name, "", account}));
  BASALT_ASSIGN_OR_RETURN(store::User user, store_->CreateUser(account, request.name, role));
  for (const auto& name : policies) {
    BASALT_RETURN_IF_ERROR(store_->AttachUserPolicy(user.id, name));
  }
  return GetUserJson(user);
}

StatusOr<Json> Service::GetUser(const Caller& caller, const std::string& user_id) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(store::User user, scope.TargetUser(user_id));
  BASALT_RETURN_IF_ERROR(scope.Check("iam:GetUser", UserArn(user.account_id, user.name)));
  return GetUserJson(user);
}

StatusOr<Json> Service::ListUsers(const Caller& caller, const std::string& account_id) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(std::string account, scope.Account(account_id));
  BASALT_RETURN_IF_ERROR(scope.Check("iam:ListUsers", "arn:aws:iam::" + account + ":user/*"));
  BASALT_ASSIGN_OR_RETURN(std::vector<store::User> users, store_->ListUsers(account));
  Json list = Json::array();
  for (const store::User& user : users) {
    BASALT_ASSIGN_OR_RETURN(Json one, UserEntry(user));
    list.push_back(std::move(one));
  }
  return Json{{"Users", std::move(list)}};
}

StatusOr<Json> Service::UserEntry(const store::User& user) {
  BASALT_ASSIGN_OR_RETURN(std::vector<std::string> policies, store_->ListUserPolicies(user.id));
  BASALT_ASSIGN_OR_RETURN(std::string password, store_->GetUserPassword(user.id));
  return UserJson(user, policies, !password.empty());
}

StatusOr<Json> Service::GetUserJson(const store::User& user) {
  BASALT_ASSIGN_OR_RETURN(Json one, UserEntry(user));
  return Json{{"User", std::move(one)}};
}

// --- policies -------------------------------------------------------------------------------

StatusOr<Json> Service::PutPolicy(const Caller& caller, const std::string& account_id,
                                  const std::string& name, const std::string& document) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(std::string account, scope.Account(account_id));
  BASALT_RETURN_IF_ERROR(Required(name, "name", 128));
  BASALT_RETURN_IF_ERROR(scope.Check("iam:CreatePolicy", PolicyArn(account, name)));
  BASALT_ASSIGN_OR_RETURN(iam::Policy parsed, iam::ParsePolicyDocument(name, document));
  if (!caller.local_operator) {
    // Rewriting a policy changes what every user it is attached to may do: the new document
    // must stay within the caller's rights, for the caller and for each of those users.
    BASALT_RETURN_IF_ERROR(scope.WithinCaller({parsed}, caller.context));
    BASALT_ASSIGN_OR_RETURN(std::vector<store::User> users, store_->ListUsers(account));
    for (const store::User& user : users) {
      BASALT_ASSIGN_OR_RETURN(std::vector<std::string> names, store_->ListUserPolicies(user.id));
      if (std::find(names.begin(), names.end(), name) == names.end()) continue;
      BASALT_RETURN_IF_ERROR(
          scope.WithinCaller({parsed}, iam::EvalContext{user.name, user.id, user.account_id}));
    }
  }
  BASALT_RETURN_IF_ERROR(store_->PutPolicy(account, name, document));
  return Json{
      {"Policy", Json{{"PolicyName", name},
                      {"AccountId", account},
                      {"Arn", PolicyArn(account, name)},
                      {"Document", Json::parse(document, nullptr, /*allow_exceptions=*/false)}}}};
}

StatusOr<Json> Service::ListPolicies(const Caller& caller, const std::string& account_id) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(std::string account, scope.Account(account_id));
  BASALT_RETURN_IF_ERROR(scope.Check("iam:ListPolicies", PolicyArn(account, "*")));
  BASALT_ASSIGN_OR_RETURN(std::vector<std::string> custom, store_->ListPolicies(account));
  Json list = Json::array();
  for (const std::string& name : iam::BuiltinPolicyNames()) {
    list.push_back(Json{{"PolicyName", name}, {"Type", "BuiltIn"}});
  }
  for (const std::string& name : custom) {
    list.push_back(Json{{"PolicyName", name}, {"Type", "Custom"}});
  }
  return Json{{"AccountId", account}, {"Policies", std::move(list)}};
}

StatusOr<Json> Service::AttachUserPolicy(const Caller& caller, const std::string& user_id,
                                         const std::string& policy) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(store::User user, scope.TargetUser(user_id));
  BASALT_RETURN_IF_ERROR(Required(policy, "policyName", 128));
  BASALT_RETURN_IF_ERROR(scope.Check("iam:AttachUserPolicy", UserArn(user.account_id, user.name)));
  BASALT_ASSIGN_OR_RETURN(iam::Policy p, scope.ResolvePolicy(user.account_id, policy));
  BASALT_RETURN_IF_ERROR(
      scope.WithinCaller({p}, iam::EvalContext{user.name, user.id, user.account_id}));
  BASALT_RETURN_IF_ERROR(store_->AttachUserPolicy(user.id, policy));
  return AttachedPoliciesJson(user.id);
}

StatusOr<Json> Service::DetachUserPolicy(const Caller& caller, const std::string& user_id,
                                         const std::string& policy) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(store::User user, scope.TargetUser(user_id));
  BASALT_RETURN_IF_ERROR(Required(policy, "policyName", 128));
  BASALT_RETURN_IF_ERROR(scope.Check("iam:DetachUserPolicy", UserArn(user.account_id, user.name)));
  // Detaching a policy with Deny statements lifts them: what the user may do afterwards must
  // stay within what the caller may do.
  auto detached = scope.ResolvePolicy(user.account_id, policy);
  if (!caller.local_operator && detached.ok() && HasDeny(*detached)) {
    BASALT_ASSIGN_OR_RETURN(std::vector<iam::Policy> held,
                            LoadUserPolicies(*store_, user.account_id, user.id));
    std::vector<iam::Policy> remaining;
    for (auto& p : held) {
      if (p.name != policy) remaining.push_back(std::move(p));
    }
    BASALT_RETURN_IF_ERROR(
        scope.WithinCaller(remaining, iam::EvalContext{user.name, user.id, user.account_id}));
  }
  BASALT_RETURN_IF_ERROR(store_->DetachUserPolicy(user.id, policy));
  return AttachedPoliciesJson(user.id);
}

StatusOr<Json> Service::ListAttachedUserPolicies(const Caller& caller, const std::string& user_id) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(store::User user, scope.TargetUser(user_id));
  BASALT_RETURN_IF_ERROR(
      scope.Check("iam:ListAttachedUserPolicies", UserArn(user.account_id, user.name)));
  return AttachedPoliciesJson(user.id);
}

StatusOr<Json> Service::AttachedPoliciesJson(const std::string& user_id) {
  BASALT_ASSIGN_OR_RETURN(std::vector<std::string> names, store_->ListUserPolicies(user_id));
  return Json{{"UserId", user_id}, {"AttachedPolicies", names}};
}

// --- access keys ----------------------------------------------------------------------------

StatusOr<Json> Service::CreateAccessKey(const Caller& caller, const std::string& user_id) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(store::User user, scope.TargetUser(user_id));
  BASALT_RETURN_IF_ERROR(scope.Check("iam:CreateAccessKey", UserArn(user.account_id, user.name)));
  BASALT_RETURN_IF_ERROR(scope.MayActAs(user));
  BASALT_ASSIGN_OR_RETURN(store::AccessKey key, store_->CreateAccessKey(user.id));
  Json out = AccessKeyJson(key);
  out["SecretAccessKey"] = key.secret_access_key;  // shown once
  std::string credentials = "[basalt]\naws_access_key_id = " + key.access_key_id +
                            "\naws_secret_access_key = " + key.secret_access_key + "\n";
  return Json{{"AccessKey", std::move(out)}, {"CredentialsFileSnippet", std::move(credentials)}};
}

StatusOr<Json> Service::ListAccessKeys(const Caller& caller, const std::string& user_id) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(store::User user, scope.TargetUser(user_id));
  BASALT_RETURN_IF_ERROR(scope.Check("iam:ListAccessKeys", UserArn(user.account_id, user.name)));
  BASALT_ASSIGN_OR_RETURN(std::vector<store::AccessKey> keys, store_->ListAccessKeys(user.id));
  Json list = Json::array();
  for (const store::AccessKey& key : keys) list.push_back(AccessKeyJson(key));
  return Json{{"AccessKeyMetadata", std::move(list)}};
}

// The owner of an access key, within the caller's reach; one answer for unknown and unreachable.
StatusOr<store::User> Service::AccessKeyOwner(Scope& scope, const std::string& access_key_id) {
  const Status not_found = Status::NotFound("Access key " + access_key_id + " not found.");
  auto key = store_->GetAccessKey(access_key_id);
  if (!key.ok()) {
    return key.status().code() == StatusCode::kNotFound ? not_found : key.status();
  }
  auto user = scope.TargetUser(key->user_id);
  if (!user.ok()) return not_found;
  return *user;
}

StatusOr<Json> Service::UpdateAccessKey(const Caller& caller, const std::string& access_key_id,
                                        const std::string& status) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(store::User user, AccessKeyOwner(scope, access_key_id));
  BASALT_RETURN_IF_ERROR(scope.Check("iam:UpdateAccessKey", UserArn(user.account_id, user.name)));
  BASALT_RETURN_IF_ERROR(ValidKeyStatus(status));
  BASALT_RETURN_IF_ERROR(store_->SetAccessKeyStatus(access_key_id, status));
  return Json{{"AccessKeyId", access_key_id}, {"Status", status}};
}

StatusOr<Json> Service::DeleteAccessKey(const Caller& caller, const std::string& access_key_id) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(store::User user, AccessKeyOwner(scope, access_key_id));
  BASALT_RETURN_IF_ERROR(scope.Check("iam:DeleteAccessKey", UserArn(user.account_id, user.name)));
  BASALT_RETURN_IF_ERROR(store_->DeleteAccessKey(access_key_id));
  return Json{{"AccessKeyId", access_key_id}, {"Deleted", true}};
}

// --- API keys -------------------------------------------------------------------------------

StatusOr<Json> Service::CreateApiKey(const Caller& caller, const CreateApiKeyRequest& request) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(store::User user, scope.TargetUser(request.user_id));
  BASALT_RETURN_IF_ERROR(
      scope.Check("iam:CreateServiceSpecificCredential", UserArn(user.account_id, user.name)));
  int64_t expires_at = 0;
  if (request.expires_in_seconds.has_value()) {
    if (*request.expires_in_seconds < 1) {
      return Status::InvalidArgument("expiresInSeconds must be a positive integer");
    }
    expires_at =
        std::chrono::duration_cast<std::chrono::seconds>(options_.clock().time_since_epoch())
            .count() +
        *request.expires_in_seconds;
  }
  BASALT_RETURN_IF_ERROR(scope.MayActAs(user));
  BASALT_ASSIGN_OR_RETURN(store::NewApiKey key, store_->CreateApiKey(user.id, expires_at));
  Json out = ApiKeyJson(key.key);
  out["Token"] = key.token;  // shown once
  return Json{{"ApiKey", std::move(out)}};
}

StatusOr<Json> Service::CreateShortTermApiKey(const Caller& caller,
                                              const CreateShortTermApiKeyRequest& request) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(store::User user, AccessKeyOwner(scope, request.access_key_id));
  BASALT_RETURN_IF_ERROR(
      scope.Check("iam:CreateServiceSpecificCredential", UserArn(user.account_id, user.name)));
  if (request.expires_in_seconds < 1 || request.expires_in_seconds > kMaxShortTermSeconds) {
    return Status::InvalidArgument("expiresInSeconds must be between 1 and " +
                                   std::to_string(kMaxShortTermSeconds));
  }
  // The token is signed with the key's secret: it acts as the key's user.
  BASALT_RETURN_IF_ERROR(scope.MayActAs(user));
  BASALT_ASSIGN_OR_RETURN(store::AccessKey key, store_->GetAccessKey(request.access_key_id));
  if (key.status != "Active") {
    return Status::FailedPrecondition("access key " + key.access_key_id + " is inactive");
  }
  const std::string region = request.region.empty() ? options_.region : request.region;
  auto now = options_.clock();
  std::string token = auth::MakeShortTermToken(key.access_key_id, key.secret_access_key, region,
                                               now, request.expires_in_seconds);
  int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return Json{{"AccessKeyId", key.access_key_id},
              {"UserId", user.id},
              {"Region", region},
              {"ExpiresAt", Iso8601(now_s + request.expires_in_seconds)},
              {"Token", std::move(token)}};  // never stored
}

StatusOr<Json> Service::ListApiKeys(const Caller& caller, const std::string& user_id) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(store::User user, scope.TargetUser(user_id));
  BASALT_RETURN_IF_ERROR(
      scope.Check("iam:ListServiceSpecificCredentials", UserArn(user.account_id, user.name)));
  BASALT_ASSIGN_OR_RETURN(std::vector<store::ApiKey> keys, store_->ListApiKeys(user.id));
  Json list = Json::array();
  for (const store::ApiKey& key : keys) list.push_back(ApiKeyJson(key));
  return Json{{"ApiKeys", std::move(list)}};
}

// API keys are found through their owner's list; `action` is checked on the owner's ARN.
Status Service::AuthorizeApiKey(Scope& scope, const std::string& user_id,
                                const std::string& api_key_id, const std::string& action) {
  // The local operator may name a key by its id alone (the store answers for unknown ids).
  if (scope.caller().local_operator && user_id.empty()) return Status::Ok();
  BASALT_ASSIGN_OR_RETURN(store::User user, scope.TargetUser(user_id));
  BASALT_ASSIGN_OR_RETURN(std::vector<store::ApiKey> keys, store_->ListApiKeys(user.id));
  bool found = std::any_of(keys.begin(), keys.end(),
                           [&](const store::ApiKey& k) { return k.id == api_key_id; });
  if (!found) return Status::NotFound("API key " + api_key_id + " not found.");
  return scope.Check(action, UserArn(user.account_id, user.name));
}

StatusOr<Json> Service::UpdateApiKey(const Caller& caller, const std::string& user_id,
                                     const std::string& api_key_id, const std::string& status) {
  Scope scope(*store_, caller);
  BASALT_RETURN_IF_ERROR(
      AuthorizeApiKey(scope, user_id, api_key_id, "iam:UpdateServiceSpecificCredential"));
  BASALT_RETURN_IF_ERROR(ValidKeyStatus(status));
  BASALT_RETURN_IF_ERROR(store_->SetApiKeyStatus(api_key_id, status));
  return Json{{"ApiKeyId", api_key_id}, {"Status", status}};
}

StatusOr<Json> Service::DeleteApiKey(const Caller& caller, const std::string& user_id,
                                     const std::string& api_key_id) {
  Scope scope(*store_, caller);
  BASALT_RETURN_IF_ERROR(
      AuthorizeApiKey(scope, user_id, api_key_id, "iam:DeleteServiceSpecificCredential"));
  BASALT_RETURN_IF_ERROR(store_->DeleteApiKey(api_key_id));
  return Json{{"ApiKeyId", api_key_id}, {"Deleted", true}};
}

// --- model access ---------------------------------------------------------------------------

StatusOr<Json> Service::SetModelAccess(const Caller& caller, const std::string& account_id,
                                       const std::string& model_id, const std::string& state) {
  Scope scope(*store_, caller);
  // Approving or denying access is the operator's decision.
  BASALT_RETURN_IF_ERROR(scope.RequireOperator());
  BASALT_ASSIGN_OR_RETURN(std::string account, scope.Account(account_id));
  BASALT_RETURN_IF_ERROR(scope.Check("basalt:PutModelAccess", AccountRootArn(account)));
  BASALT_RETURN_IF_ERROR(Required(model_id, "modelId", 2048));
  BASALT_RETURN_IF_ERROR(Required(state, "state", 32));
  if (!iam::ParseAccessState(state).ok()) {
    return Status::InvalidArgument("state must be NOT_REQUESTED, REQUESTED, GRANTED or DENIED");
  }
  BASALT_RETURN_IF_ERROR(store_->SetModelAccess(account, model_id, state));
  return Json{{"AccountId", account}, {"ModelId", model_id}, {"State", state}};
}

StatusOr<Json> Service::ListModelAccess(const Caller& caller, const std::string& account_id) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(std::string account, scope.Account(account_id));
  BASALT_RETURN_IF_ERROR(scope.Check("basalt:ListModelAccess", AccountRootArn(account)));
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  BASALT_ASSIGN_OR_RETURN(Pairs rows, store_->ListModelAccess(account));
  Json list = Json::array();
  for (const auto& [model, state] : rows) {
    list.push_back(Json{{"ModelId", model}, {"State", state}});
  }
  return Json{{"AccountId", account}, {"ModelAccess", std::move(list)}};
}

StatusOr<Json> Service::ListModelAccessRequests(const Caller& caller) {
  Scope scope(*store_, caller);
  BASALT_RETURN_IF_ERROR(scope.RequireOperator());
  // The queue is the approvers' view: a caller who may not list even their own account's
  // model access is refused, not shown an empty queue.
  BASALT_RETURN_IF_ERROR(scope.Check("basalt:ListModelAccess", AccountRootArn(caller.account_id)));
  BASALT_ASSIGN_OR_RETURN(std::vector<store::Account> accounts, store_->ListAccounts());
  Json list = Json::array();
  for (const store::Account& account : accounts) {
    // The queue shows the accounts whose model access the caller may list, and no others.
    if (!scope.Check("basalt:ListModelAccess", AccountRootArn(account.id)).ok()) continue;
    using Pairs = std::vector<std::pair<std::string, std::string>>;
    BASALT_ASSIGN_OR_RETURN(Pairs rows, store_->ListModelAccess(account.id));
    for (const auto& [model, state] : rows) {
      if (state != iam::AccessStateName(iam::AccessState::kRequested)) continue;
      list.push_back(Json{{"AccountId", account.id},
                          {"AccountName", account.name},
                          {"ModelId", model},
                          {"State", state}});
    }
  }
  return Json{{"ModelAccessRequests", std::move(list)}};
}

// --- console passwords ----------------------------------------------------------------------

StatusOr<Json> Service::SetUserPassword(const Caller& caller,
                                        const SetUserPasswordRequest& request) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(store::User user, scope.TargetUser(request.user_id));
  BASALT_RETURN_IF_ERROR(
      scope.Check("iam:UpdateLoginProfile", UserArn(user.account_id, user.name)));
  // A password signs in as its user, as a key does.
  BASALT_RETURN_IF_ERROR(scope.MayActAs(user));
  std::string password = request.password;
  if (request.generate) {
    BASALT_ASSIGN_OR_RETURN(password, GeneratePassword());
  }
  BASALT_ASSIGN_OR_RETURN(std::string encoded, console::HashPassword(password));
  BASALT_RETURN_IF_ERROR(store_->SetUserPassword(user.id, encoded));
  Json out{{"UserId", user.id}, {"PasswordSet", true}};
  if (request.generate) out["Password"] = password;  // shown once
  return out;
}

StatusOr<Json> Service::DeleteUserPassword(const Caller& caller, const std::string& user_id) {
  Scope scope(*store_, caller);
  BASALT_ASSIGN_OR_RETURN(store::User user, scope.TargetUser(user_id));
  BASALT_RETURN_IF_ERROR(
      scope.Check("iam:DeleteLoginProfile", UserArn(user.account_id, user.name)));
  BASALT_RETURN_IF_ERROR(store_->SetUserPassword(user.id, ""));
  return Json{{"UserId", user.id}, {"PasswordSet", false}};
}

}  // namespace basalt::admin
