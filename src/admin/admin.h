// The administration service: accounts, users, policies, access keys, API keys, model access
// and console passwords. It is the one implementation behind every caller (`basalt admin`, the
// HTTP admin API /basalt/admin/..., and through it the web console): each operation authorizes
// its Caller, acts on the Store and returns its reply in the one JSON shape that docs/admin.md
// specifies (IAM-like names, ISO-8601 UTC dates, secrets only in the reply that creates them).
//
// Authorization rules (the same for every caller that is not the local operator):
//   - each operation needs its IAM action on the resource's ARN (listed in docs/admin.md);
//   - callers act within their own account; only users of the operator account (created on
//     first start, store setting "operator_account") reach other accounts, and users of other
//     accounts are reported as not found;
//   - nobody grants (creates a user with, attaches, or rewrites an attached policy) more than
//     their own policies allow, and nobody makes keys or passwords for another user who may do
//     more than they may (privilege escalation guard, iam::PolicyWithin).
//
// Thread-safety: a Service keeps no mutable state of its own; it may be used from several
// threads at once, as the Store may.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "iam/iam.h"
#include "store/store.h"

namespace basalt::admin {

// Replies keep their members in the documented order.
using Json = nlohmann::ordered_json;

// Who acts.
struct Caller {
  // `basalt admin` on the data folder: whoever can open the store may do everything.
  static Caller LocalOperator();
  // An authenticated user, authorized by `policies` (evaluated with `context`).
  static Caller User(std::string account_id, std::string user_id, std::string arn,
                     std::vector<iam::Policy> policies, iam::EvalContext context);

  bool local_operator = false;
  std::string account_id;
  std::string user_id;
  std::string arn;  // arn:aws:iam::<account>:user/<name>, for denial messages
  std::vector<iam::Policy> policies;
  iam::EvalContext context;
};

struct CreateUserRequest {
  std::string account_id;  // "" = the caller's account
  std::string name;
  std::string role;  // "admin" | "user"; "" = "user"
  // Absent: the role's default policy (BasaltAdministrator or AmazonBedrockFullAccess).
  std::optional<std::vector<std::string>> policies;
};

struct CreateApiKeyRequest {
  std::string user_id;  // "" = the caller
  // Absent: never expires. Values below 1 are refused (kInvalidArgument).
  std::optional<int64_t> expires_in_seconds;
};

inline constexpr int kMaxShortTermSeconds = 43200;  // Bedrock's limit for short-term keys

struct CreateShortTermApiKeyRequest {
  std::string access_key_id;  // the (active) access key whose secret signs the token
  std::string region;         // "" = ServiceOptions::region
  int expires_in_seconds = kMaxShortTermSeconds;  // 1..kMaxShortTermSeconds
};

struct SetUserPasswordRequest {
  std::string user_id;
  std::string password;   // used when !generate; must pass console::CheckPasswordPolicy
  bool generate = false;  // make a random password and return it (once)
};

struct ServiceOptions {
  std::function<std::chrono::system_clock::time_point()> clock = std::chrono::system_clock::now;
  std::string region = "us-east-1";  // default region of short-term API keys
};

// Every operation returns its JSON reply or a Status: kPermissionDenied (not allowed),
// kNotFound (no such account, user, key or policy, or one outside the caller's reach),
// kInvalidArgument (a bad request), kAlreadyExists, kFailedPrecondition, kInternal (store).
class Service {
 public:
  // `store` must outlive the Service.
  explicit Service(store::Store* store, ServiceOptions options = {});

  // Accounts (users of the operator account only).
  StatusOr<Json> CreateAccount(const Caller& caller, const std::string& name);
  StatusOr<Json> ListAccounts(const Caller& caller);

  // Users. `account_id` "" is the caller's account; `user_id` "" is the caller.
  StatusOr<Json> CreateUser(const Caller& caller, const CreateUserRequest& request);
  StatusOr<Json> GetUser(const Caller& caller, const std::string& user_id);
  StatusOr<Json> ListUsers(const Caller& caller, const std::string& account_id);

  // Policies: built-in ones and each account's custom ones (IAM JSON documents).
  StatusOr<Json> PutPolicy(const Caller& caller, const std::string& account_id,
                           const std::string& name, const std::string& document);
  StatusOr<Json> ListPolicies(const Caller& caller, const std::string& account_id);
  StatusOr<Json> AttachUserPolicy(const Caller& caller, const std::string& user_id,
                                  const std::string& policy);
  StatusOr<Json> DetachUserPolicy(const Caller& caller, const std::string& user_id,
                                  const std::string& policy);
  StatusOr<Json> ListAttachedUserPolicies(const Caller& caller, const std::string& user_id);

  // Access keys (SigV4). `status` is "Active" or "Inactive".
  StatusOr<Json> CreateAccessKey(const Caller& caller, const std::string& user_id);
  StatusOr<Json> ListAccessKeys(const Caller& caller, const std::string& user_id);
  StatusOr<Json> UpdateAccessKey(const Caller& caller, const std::string& access_key_id,
                                 const std::string& status);
  StatusOr<Json> DeleteAccessKey(const Caller& caller, const std::string& access_key_id);

  // Bedrock API keys: long-term (stored as hashes) and short-term (presigned, not stored).
  // Long-term keys are found through their owner: `user_id` "" is the caller, except for the
  // local operator, who may name a key by its id alone.
  StatusOr<Json> CreateApiKey(const Caller& caller, const CreateApiKeyRequest& request);
  StatusOr<Json> CreateShortTermApiKey(const Caller& caller,
                                       const CreateShortTermApiKeyRequest& request);
  StatusOr<Json> ListApiKeys(const Caller& caller, const std::string& user_id);
  StatusOr<Json> UpdateApiKey(const Caller& caller, const std::string& user_id,
                              const std::string& api_key_id, const std::string& status);
  StatusOr<Json> DeleteApiKey(const Caller& caller, const std::string& user_id,
                              const std::string& api_key_id);

  // Model access. Setting a state (NOT_REQUESTED, REQUESTED, GRANTED, DENIED) is the
  // operator's decision; ListModelAccessRequests is the operator's queue: every account's
  // REQUESTED models, as far as the caller may list that account's model access.
  StatusOr<Json> SetModelAccess(const Caller& caller, const std::string& account_id,
                                const std::string& model_id, const std::string& state);
  StatusOr<Json> ListModelAccess(const Caller& caller, const std::string& account_id);
  StatusOr<Json> ListModelAccessRequests(const Caller& caller);

  // Console passwords (docs/console.md), stored as Argon2id hashes; setting or clearing one
  // ends the user's console sessions. Hashing takes tens of milliseconds.
  StatusOr<Json> SetUserPassword(const Caller& caller, const SetUserPasswordRequest& request);
  StatusOr<Json> DeleteUserPassword(const Caller& caller, const std::string& user_id);

 private:
  class Scope;  // one operation's authorization helpers (admin.cc)

  StatusOr<Json> UserEntry(const store::User& user);
  StatusOr<Json> GetUserJson(const store::User& user);
  StatusOr<Json> AttachedPoliciesJson(const std::string& user_id);
  StatusOr<store::User> AccessKeyOwner(Scope& scope, const std::string& access_key_id);
  Status AuthorizeApiKey(Scope& scope, const std::string& user_id, const std::string& api_key_id,
                         const std::string& action);

  store::Store* store_;
  ServiceOptions options_;
};

// The policies attached to a user: built-in ones by name, custom ones from the account. A
// custom policy that no longer parses denies everything (it may have held Deny statements);
// one detached concurrently is skipped. kInternal when the store fails.
StatusOr<std::vector<iam::Policy>> LoadUserPolicies(store::Store& store,
                                                    const std::string& account_id,
                                                    const std::string& user_id);

// Unix seconds as ISO-8601 UTC ("2026-11-29T05:00:00Z"), the shape of every date in replies.
std::string Iso8601(int64_t unix_seconds);

}  // namespace basalt::admin
