#include "api/authorize.h"

#include "admin/admin.h"

namespace basalt::api {

// One implementation, shared with the administration service's escalation guard.
StatusOr<std::vector<iam::Policy>> LoadUserPolicies(store::Store& store,
                                                    const std::string& account_id,
                                                    const std::string& user_id) {
  return admin::LoadUserPolicies(store, account_id, user_id);
}

StatusOr<Identity> LoadIdentity(store::Store& store, const Principal& principal) {
  Identity id;
  id.principal = principal;
  auto user = store.GetUser(principal.user_id);
  if (!user.ok()) return user.status();
  id.user_name = user->name;
  id.arn = UserArn(principal.account_id, user->name);
  id.context = {user->name, user->id, principal.account_id};
  BASALT_ASSIGN_OR_RETURN(id.policies,
                          LoadUserPolicies(store, principal.account_id, principal.user_id));
  return id;
}

Status Authorize(const Identity& identity, const std::string& action, const std::string& resource) {
  iam::Decision d = iam::Evaluate(identity.policies, action, resource, identity.context);
  if (d == iam::Decision::kAllow) return Status::Ok();
  return Status::PermissionDenied(iam::DenialMessage(identity.arn, action, resource, d));
}

Status CheckModelAccess(store::Store& store, const std::string& account_id,
                        const std::string& model_id) {
  for (const std::string& id : {model_id, std::string("*")}) {
    auto state = store.GetModelAccess(account_id, id);
    if (!state.ok()) return state.status();
    if (*state == "GRANTED") return Status::Ok();
    if (*state == "DENIED" && id == model_id) break;
  }
  return Status::PermissionDenied(
      "You don't have access to the model with the specified model ID.");
}

std::string UserArn(const std::string& account_id, const std::string& user_name) {
  return "arn:aws:iam::" + account_id + ":user/" + user_name;
}

std::string FoundationModelArn(const std::string& region, const std::string& model_id) {
  return "arn:aws:bedrock:" + region + "::foundation-model/" + model_id;
}

}  // namespace basalt::api
