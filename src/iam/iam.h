// Identity and access in the spirit of IAM: policies (built-in and custom) attached to users,
// evaluated for every API operation, and per-account model access (Bedrock's "request model
// access": not requested -> requested -> granted / denied, with a use-case form first for
// providers that need one).
//
// Pure policy logic lives here; state lives in the Store (store.h).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace basalt::iam {

struct Statement {
  bool allow = true;                   // "Effect": "Allow" | "Deny"
  std::vector<std::string> actions;    // "bedrock:InvokeModel", "bedrock:*", "bedrock:List*"
  std::vector<std::string> resources;  // ARN patterns with * and ?, or "*"
};

struct Policy {
  std::string name;
  std::vector<Statement> statements;
};

// Built-in managed policies:
//   AmazonBedrockFullAccess      bedrock:* on *
//   AmazonBedrockReadOnly        bedrock:Get*, bedrock:List* on *
//   BasaltInvokeOnly             bedrock:InvokeModel*, bedrock:Converse*, bedrock:CountTokens,
//                                bedrock:GetFoundationModel, bedrock:ListFoundationModels
//   BasaltAdministrator          * on * (account and key administration too)
//   BasaltMember                 what a member (docs/apps.md) needs: BasaltInvokeOnly's
//                                actions, model availability, inference profiles and the
//                                served-model list, and the user's own access keys and API keys
//                                (iam:*AccessKey*, iam:*ServiceSpecificCredential*, iam:GetUser
//                                on arn:aws:iam::${aws:PrincipalAccount}:user/${aws:username})
// All but BasaltAdministrator also allow basalt:GetUsageReport on the user's own ARN
// (arn:aws:iam::*:user/${aws:username}): everyone may see their own usage.
// Returns kNotFound for other names.
StatusOr<Policy> BuiltinPolicy(const std::string& name);
std::vector<std::string> BuiltinPolicyNames();

// Parses an IAM-style policy document:
//   {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[...],"Resource":[...]}]}
// (Action/Resource may be a string or a list). kInvalidArgument names the bad field.
StatusOr<Policy> ParsePolicyDocument(const std::string& name, const std::string& json);
std::string PolicyDocumentJson(const Policy& policy);

// Values of the policy variables ${aws:username}, ${aws:userid} and ${aws:PrincipalAccount}
// in Resource patterns, as IAM substitutes them for the caller.
struct EvalContext {
  std::string username;
  std::string userid;
  std::string account;
};

// IAM's decision: an explicit Deny wins, then any Allow, else an implicit deny.
enum class Decision { kAllow, kImplicitDeny, kExplicitDeny };
Decision Evaluate(const std::vector<Policy>& policies, const std::string& action,
                  const std::string& resource, const EvalContext& context = {});

// Privilege escalation guard: true when everything `granted` allows (evaluated for
// `granted_context`, e.g. a new user) is allowed to `holder` too (for `holder_context`):
// each Allow statement's action and resource patterns are covered by one of the holder's
// Allow patterns, and none of the holder's Deny statements overlaps them. Judged on the
// patterns themselves, so it may refuse a grant that is in fact within, never the reverse.
bool PolicyWithin(const Policy& granted, const EvalContext& granted_context,
                  const std::vector<Policy>& holder, const EvalContext& holder_context);

// Glob pattern relations (* and ?): every text `narrow` matches is matched by `wide`
// (sound, may answer false for some true cases); some text is matched by both.
bool PatternCovers(const std::string& wide, const std::string& narrow);
bool PatternsOverlap(const std::string& a, const std::string& b);

// "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: bedrock:InvokeModel
//  on resource: arn:aws:bedrock:us-east-1::foundation-model/x because no identity-based policy
//  allows the bedrock:InvokeModel action" (or "... with an explicit deny in an identity-based
//  policy").
std::string DenialMessage(const std::string& principal_arn, const std::string& action,
                          const std::string& resource, Decision decision);

// Case-sensitive glob match with * and ? (IAM semantics; the action's service prefix is
// matched case-insensitively by the caller passing lower-cased actions).
bool GlobMatch(const std::string& pattern, const std::string& text);

// Model access state of an account for one model.
enum class AccessState { kNotRequested, kRequested, kGranted, kDenied };
const char* AccessStateName(AccessState state);  // "NOT_REQUESTED", "REQUESTED", ...
StatusOr<AccessState> ParseAccessState(const std::string& name);

}  // namespace basalt::iam
