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
// Returns kNotFound for other names.
StatusOr<Policy> BuiltinPolicy(const std::string& name);
std::vector<std::string> BuiltinPolicyNames();

// Parses an IAM-style policy document:
//   {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":[...],"Resource":[...]}]}
// (Action/Resource may be a string or a list). kInvalidArgument names the bad field.
StatusOr<Policy> ParsePolicyDocument(const std::string& name, const std::string& json);
std::string PolicyDocumentJson(const Policy& policy);

// IAM's decision: an explicit Deny wins, then any Allow, else an implicit deny.
enum class Decision { kAllow, kImplicitDeny, kExplicitDeny };
Decision Evaluate(const std::vector<Policy>& policies, const std::string& action,
                  const std::string& resource);

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
