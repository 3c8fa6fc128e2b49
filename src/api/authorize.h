// What a caller may do: the caller's IAM-style policies (iam.h) for each operation, and the
// account's model access for runtime calls.
#pragma once

#include <string>
#include <vector>

#include "api/authenticate.h"
#include "iam/iam.h"
#include "store/store.h"

namespace basalt::api {

// Who is calling and what their policies allow. Policies are the only source of privilege:
// there is no role that grants anything beside them.
struct Identity {
  Principal principal;
  std::string user_name;
  std::string arn;  // arn:aws:iam::<account>:user/<name>
  std::vector<iam::Policy> policies;
  iam::EvalContext context;  // ${aws:username} and friends
};

// Loads the user's attached policies. A stored custom policy that no longer parses denies
// everything (it may have held Deny statements). kInternal when the store fails.
StatusOr<Identity> LoadIdentity(store::Store& store, const Principal& principal);

// kPermissionDenied (AccessDeniedException) with IAM's wording when `action` on `resource` is
// not allowed.
Status Authorize(const Identity& identity, const std::string& action, const std::string& resource);

// The account's access to `model_id` ("*" grants every model). kPermissionDenied with
// Bedrock's wording when access was not granted.
Status CheckModelAccess(store::Store& store, const std::string& account_id,
                        const std::string& model_id);

std::string FoundationModelArn(const std::string& region, const std::string& model_id);
std::string UserArn(const std::string& account_id, const std::string& user_name);

// The policies attached to a user, resolved as LoadIdentity does.
StatusOr<std::vector<iam::Policy>> LoadUserPolicies(store::Store& store,
                                                    const std::string& account_id,
                                                    const std::string& user_id);

}  // namespace basalt::api
