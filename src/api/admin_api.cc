// Administration over HTTP (/basalt/admin/...): accounts, users, access keys, API keys and
// model access, authorized with IAM-style actions.
#include "api/api.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "api/authorize.h"
#include "api/call.h"
#include "api/errors.h"
#include "auth/sigv4.h"

namespace basalt::api {

using http::Header;

namespace {

Json AccessKeyJson(const store::AccessKey& k) {
  return {{"AccessKeyId", k.access_key_id},
          {"UserId", k.user_id},
          {"AccountId", k.account_id},
          {"Status", k.status},
          {"CreateDate", k.created_at}};
}

Json ApiKeyJson(const store::ApiKey& k) {
  return {{"ApiKeyId", k.id},   {"UserId", k.user_id},       {"AccountId", k.account_id},
          {"Status", k.status}, {"ExpiresAt", k.expires_at}, {"CreateDate", k.created_at}};
}

}  // namespace

// Administration over HTTP (the same operations as `basalt admin`), authorized with IAM-style
// actions ("iam:CreateAccessKey" on the user's ARN...). Callers act within their own account;
// administrators of the operator account (created on first start) act on every account.
void BedrockApi::Admin(Call& call, const std::vector<std::string>& rest) {
  auto now = options_.clock();
  const std::string& method = call.request.method;
  auto operator_account = store_->GetSetting("operator_account");
  if (!operator_account.ok()) return SendError(call, operator_account.status(), now);
  // Users of the operator account may act on other accounts, as far as their policies allow
  // on that account's ARNs; nobody else ever reaches another account.
  bool is_operator =
      operator_account->has_value() && **operator_account == call.principal.account_id;
  auto body = ControlBody(call.request.body);
  if (!body.ok()) return SendError(call, body.status(), now);
  // Optional string members; a member of another type is refused, never read as absent.
  for (const char* key : {"accountId", "userId", "status", "name", "role", "modelId", "state"}) {
    auto v = OptionalString(*body, key, 2048);
    if (!v.ok()) return SendError(call, v.status(), now);
  }
  auto opt_string = [&](const char* key) -> std::string {
    return body->contains(key) && (*body)[key].is_string() ? (*body)[key].get<std::string>() : "";
  };
  // Privilege escalation guard: nobody grants, or takes the keys of, more than they hold.
  auto within_caller = [&](const std::vector<iam::Policy>& policies,
                           const iam::EvalContext& subject) -> Status {
    for (const auto& p : policies) {
      if (!iam::PolicyWithin(p, subject, call.identity.policies, call.identity.context)) {
        return Status::PermissionDenied("User: " + call.identity.arn +
                                        " may not grant policy " + p.name +
                                        ": it allows more than the caller's own policies");
      }
    }
    return Status::Ok();
  };
  // A key acts as its user: making one for someone else must not reach beyond the caller's
  // own rights.
  auto may_act_as = [&](const store::User& u) -> Status {
    if (u.id == call.principal.user_id) return Status::Ok();
    auto policies = LoadUserPolicies(*store_, u.account_id, u.id);
    if (!policies.ok()) return policies.status();
    return within_caller(*policies, iam::EvalContext{u.name, u.id, u.account_id});
  };
  auto account_scope = [&](const std::string& wanted) -> StatusOr<std::string> {
    std::string acct = wanted.empty() ? call.principal.account_id : wanted;
    if (acct != call.principal.account_id && !is_operator) {
      return Status::PermissionDenied(call.identity.arn + " may only manage its own account");
    }
    auto a = store_->GetAccount(acct);
    if (!a.ok()) return a.status();
    return acct;
  };
  // The user an operation targets (default: the caller), with the account check.
  auto target_user = [&](const std::string& wanted) -> StatusOr<store::User> {
    auto u = store_->GetUser(wanted.empty() ? call.principal.user_id : wanted);
    if (!u.ok()) return u.status();
    if (u->account_id != call.principal.account_id && !is_operator) {
      return Status::NotFound("User " + wanted + " not found.");
    }
    return *u;
  };
  auto check = [&](const std::string& action, const std::string& resource) {
    return Authorize(call.identity, action, resource);
  };
  std::string what = rest.empty() ? "" : rest[0];
  std::string id;
  if (rest.size() >= 2) {
    auto d = PercentDecode(rest[1]);
    if (!d.ok()) return SendError(call, d.status(), now);
    id = *d;
  }

  if (what == "accounts" && rest.size() == 1) {
    if (!is_operator) {
      return SendError(call,
                       Status::PermissionDenied(call.identity.arn + " is not an operator "
                                                                    "administrator"),
                       now);
    }
    if (method == "GET") {
      Status st = check("iam:ListAccounts", "*");
      if (!st.ok()) return SendError(call, st, now);
      auto list = store_->ListAccounts();
      if (!list.ok()) return SendError(call, list.status(), now);
      Json out = Json::array();
      for (const auto& a : *list) out.push_back({{"AccountId", a.id}, {"Name", a.name}});
      return SendJson(call, 200, {{"Accounts", out}}, now);
    }
    if (method == "POST") {
      Status st = check("iam:CreateAccount", "*");
      if (!st.ok()) return SendError(call, st, now);
      auto name = RequiredString(*body, "name", 64);
      if (!name.ok()) return SendError(call, name.status(), now);
      auto a = store_->CreateAccount(*name);
      if (!a.ok()) return SendError(call, a.status(), now);
      return SendJson(call, 200, {{"Account", {{"AccountId", a->id}, {"Name", a->name}}}}, now);
    }
  }
  if (what == "users" && rest.size() == 1) {
    if (method == "GET") {
      auto acct = account_scope(QueryParam(call.query, "accountId"));
      if (!acct.ok()) return SendError(call, acct.status(), now);
      Status st = check("iam:ListUsers", "arn:aws:iam::" + *acct + ":user/*");
      if (!st.ok()) return SendError(call, st, now);
      auto users = store_->ListUsers(*acct);
      if (!users.ok()) return SendError(call, users.status(), now);
      Json out = Json::array();
      for (const auto& u : *users) {
        out.push_back({{"UserId", u.id},
                       {"UserName", u.name},
                       {"AccountId", u.account_id},
                       {"Role", u.role},
                       {"Arn", UserArn(u.account_id, u.name)}});
      }
      return SendJson(call, 200, {{"Users", out}}, now);
    }
    if (method == "POST") {
      auto acct = account_scope(opt_string("accountId"));
      if (!acct.ok()) return SendError(call, acct.status(), now);
      auto name = RequiredString(*body, "name", 64);
      if (!name.ok()) return SendError(call, name.status(), now);
      std::string role = opt_string("role").empty() ? "user" : opt_string("role");
      if (role != "user" && role != "admin") {
        return SendError(call, Status::InvalidArgument("role must be user or admin"), now);
      }
      Status st = check("iam:CreateUser", UserArn(*acct, *name));
      if (!st.ok()) return SendError(call, st, now);
      std::vector<std::string> policies;
      if (body->contains("policies")) {
        if (!(*body)["policies"].is_array()) {
          return SendError(call, Status::InvalidArgument("policies must be a list of names"), now);
        }
        for (const auto& p : (*body)["policies"]) {
          if (!p.is_string()) {
            return SendError(call, Status::InvalidArgument("policies must be a list of names"),
                             now);
          }
          policies.push_back(p.get<std::string>());
        }
      } else {
        policies.push_back(role == "admin" ? "BasaltAdministrator" : "AmazonBedrockFullAccess");
      }
      // Creating a user with policies is attaching them: it needs iam:AttachUserPolicy, and
      // each policy must stay within what the caller itself may do.
      std::vector<iam::Policy> granted;
      for (const auto& p : policies) {
        auto builtin = iam::BuiltinPolicy(p);
        if (builtin.ok()) {
          granted.push_back(std::move(*builtin));
          continue;
        }
        auto doc = store_->GetPolicy(*acct, p);
        if (!doc.ok()) return SendError(call, Status::NotFound("Policy " + p + " not found."), now);
        auto parsed = iam::ParsePolicyDocument(p, *doc);
        if (!parsed.ok()) return SendError(call, parsed.status(), now);
        granted.push_back(std::move(*parsed));
      }
      if (!policies.empty()) {
        st = check("iam:AttachUserPolicy", UserArn(*acct, *name));
        if (!st.ok()) return SendError(call, st, now);
      }
      st = within_caller(granted, iam::EvalContext{*name, "", *acct});
      if (!st.ok()) return SendError(call, st, now);
      auto u = store_->CreateUser(*acct, *name, role);
      if (!u.ok()) return SendError(call, u.status(), now);
      for (const auto& p : policies) {
        st = store_->AttachUserPolicy(u->id, p);
        if (!st.ok()) return SendError(call, st, now);
      }
      return SendJson(call, 200,
                      {{"User",
                        {{"UserId", u->id},
                         {"UserName", u->name},
                         {"AccountId", u->account_id},
                         {"Role", u->role},
                         {"Arn", UserArn(u->account_id, u->name)},
                         {"Policies", policies}}}},
                      now);
    }
  }
  if (what == "access-keys") {
    if (rest.size() == 1 && (method == "GET" || method == "POST")) {
      std::string wanted =
          method == "GET" ? QueryParam(call.query, "userId") : opt_string("userId");
      auto u = target_user(wanted);
      if (!u.ok()) return SendError(call, u.status(), now);
      Status st = check(method == "GET" ? "iam:ListAccessKeys" : "iam:CreateAccessKey",
                        UserArn(u->account_id, u->name));
      if (!st.ok()) return SendError(call, st, now);
      if (method == "GET") {
        auto keys = store_->ListAccessKeys(u->id);
        if (!keys.ok()) return SendError(call, keys.status(), now);
        Json out = Json::array();
        for (const auto& k : *keys) out.push_back(AccessKeyJson(k));
        return SendJson(call, 200, {{"AccessKeyMetadata", out}}, now);
      }
      st = may_act_as(*u);
      if (!st.ok()) return SendError(call, st, now);
      auto k = store_->CreateAccessKey(u->id);
      if (!k.ok()) return SendError(call, k.status(), now);
      Json out = AccessKeyJson(*k);
      out["SecretAccessKey"] = k->secret_access_key;  // shown once
      return SendJson(call, 200, {{"AccessKey", out}}, now);
    }
    if (rest.size() == 2 && (method == "PUT" || method == "DELETE")) {
      auto k = store_->GetAccessKey(id);
      if (!k.ok())
        return SendError(call, Status::NotFound("Access key " + id + " not found."), now);
      auto u = target_user(k->user_id);
      if (!u.ok())
        return SendError(call, Status::NotFound("Access key " + id + " not found."), now);
      Status st = check(method == "PUT" ? "iam:UpdateAccessKey" : "iam:DeleteAccessKey",
                        UserArn(u->account_id, u->name));
      if (!st.ok()) return SendError(call, st, now);
      if (method == "DELETE") {
        st = store_->DeleteAccessKey(id);
      } else {
        std::string status = opt_string("status");
        if (status != "Active" && status != "Inactive") {
          return SendError(call, Status::InvalidArgument("status must be Active or Inactive"), now);
        }
        st = store_->SetAccessKeyStatus(id, status);
      }
      if (!st.ok()) return SendError(call, st, now);
      return SendJson(call, 200, Json::object(), now);
    }
  }
  if (what == "api-keys") {
    if (rest.size() == 1 && (method == "GET" || method == "POST")) {
      std::string wanted =
          method == "GET" ? QueryParam(call.query, "userId") : opt_string("userId");
      auto u = target_user(wanted);
      if (!u.ok()) return SendError(call, u.status(), now);
      Status st = check(method == "GET" ? "iam:ListServiceSpecificCredentials"
                                        : "iam:CreateServiceSpecificCredential",
                        UserArn(u->account_id, u->name));
      if (!st.ok()) return SendError(call, st, now);
      if (method == "GET") {
        auto keys = store_->ListApiKeys(u->id);
        if (!keys.ok()) return SendError(call, keys.status(), now);
        Json out = Json::array();
        for (const auto& k : *keys) out.push_back(ApiKeyJson(k));
        return SendJson(call, 200, {{"ApiKeys", out}}, now);
      }
      int64_t expires_at = 0;
      if (body->contains("expiresInSeconds")) {
        const Json& v = (*body)["expiresInSeconds"];
        if (!v.is_number_integer() || v.get<int64_t>() < 1) {
          return SendError(call,
                           Status::InvalidArgument("expiresInSeconds must be a positive "
                                                   "integer"),
                           now);
        }
        expires_at =
            std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() +
            v.get<int64_t>();
      }
      st = may_act_as(*u);
      if (!st.ok()) return SendError(call, st, now);
      auto k = store_->CreateApiKey(u->id, expires_at);
      if (!k.ok()) return SendError(call, k.status(), now);
      Json out = ApiKeyJson(k->key);
      out["Token"] = k->token;  // shown once
      return SendJson(call, 200, {{"ApiKey", out}}, now);
    }
    if (rest.size() == 2 && (method == "PUT" || method == "DELETE")) {
      // API keys are found through their owner's list.
      auto u =
          target_user(QueryParam(call.query, "userId").empty() ? opt_string("userId")
                                                               : QueryParam(call.query, "userId"));
      if (!u.ok()) return SendError(call, u.status(), now);
      auto keys = store_->ListApiKeys(u->id);
      if (!keys.ok()) return SendError(call, keys.status(), now);
      bool found = false;
      for (const auto& k : *keys) found = found || k.id == id;
      if (!found) return SendError(call, Status::NotFound("API key " + id + " not found."), now);
      Status st = check(method == "PUT" ? "iam:UpdateServiceSpecificCredential"
                                        : "iam:DeleteServiceSpecificCredential",
                        UserArn(u->account_id, u->name));
      if (!st.ok()) return SendError(call, st, now);
      if (method == "DELETE") {
        st = store_->DeleteApiKey(id);
      } else {
        std::string status = opt_string("status");
        if (status != "Active" && status != "Inactive") {
          return SendError(call, Status::InvalidArgument("status must be Active or Inactive"), now);
        }
        st = store_->SetApiKeyStatus(id, status);
      }
      if (!st.ok()) return SendError(call, st, now);
      return SendJson(call, 200, Json::object(), now);
    }
  }
  if (what == "model-access" && rest.size() == 1) {
    if (method == "GET") {
      auto acct = account_scope(QueryParam(call.query, "accountId"));
      if (!acct.ok()) return SendError(call, acct.status(), now);
      Status st = check("basalt:ListModelAccess", "arn:aws:iam::" + *acct + ":root");
      if (!st.ok()) return SendError(call, st, now);
      auto list = store_->ListModelAccess(*acct);
      if (!list.ok()) return SendError(call, list.status(), now);
      Json out = Json::array();
      for (const auto& [model, state] : *list) {
        out.push_back({{"modelId", model}, {"state", state}});
      }
      return SendJson(call, 200, {{"AccountId", *acct}, {"ModelAccess", out}}, now);
    }
    if (method == "PUT") {
      // Approving or denying access is the operator's decision.
      if (!is_operator) {
        return SendError(call,
                         Status::PermissionDenied(call.identity.arn + " is not an "
                                                                      "operator administrator"),
                         now);
      }
      auto acct = account_scope(opt_string("accountId"));
      if (!acct.ok()) return SendError(call, acct.status(), now);
      Status st = check("basalt:PutModelAccess", "arn:aws:iam::" + *acct + ":root");
      if (!st.ok()) return SendError(call, st, now);
      auto model = RequiredString(*body, "modelId");
      if (!model.ok()) return SendError(call, model.status(), now);
      auto state = RequiredString(*body, "state", 32);
      if (!state.ok()) return SendError(call, state.status(), now);
      if (!iam::ParseAccessState(*state).ok()) {
        return SendError(call,
                         Status::InvalidArgument("state must be NOT_REQUESTED, "
                                                 "REQUESTED, GRANTED or DENIED"),
                         now);
      }
      st = store_->SetModelAccess(*acct, *model, *state);
      if (!st.ok()) return SendError(call, st, now);
      return SendJson(call, 200, Json::object(), now);
    }
  }
  SendError(call, Status::NotFound("Unknown administration operation " + method + " " + call.path),
            now);
}

}  // namespace basalt::api
