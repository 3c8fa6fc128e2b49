#include "iam/iam.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/json_depth.h"

namespace basalt::iam {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr const char* kBuiltinNames[] = {
    "AmazonBedrockFullAccess",
    "AmazonBedrockReadOnly",
    "BasaltInvokeOnly",
    "BasaltAdministrator",
    "BasaltMember",
};

Policy AllowAll(const std::string& name, std::vector<std::string> actions) {
  return Policy{name, {Statement{true, std::move(actions), {"*"}}}};
}

// Every user may read the usage of their own calls.
Policy WithOwnUsage(Policy policy) {
  policy.statements.push_back(
      Statement{true, {"basalt:GetUsageReport"}, {"arn:aws:iam::*:user/${aws:username}"}});
  return policy;
}

std::string Substitute(const std::string& pattern, const EvalContext& ctx) {
  if (pattern.find("${") == std::string::npos) return pattern;
  std::string out;
  for (size_t i = 0; i < pattern.size();) {
    bool replaced = false;
    for (const auto& [name, value] :
         {std::pair<std::string_view, const std::string*>{"${aws:username}", &ctx.username},
          {"${aws:userid}", &ctx.userid},
          {"${aws:PrincipalAccount}", &ctx.account}}) {
      if (pattern.compare(i, name.size(), name) == 0) {
        // An unknown value must match nothing, not everything.
        out += value->empty() ? std::string("\x01") : *value;
        i += name.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) out += pattern[i++];
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads a field that IAM lets be a string or a list of strings.
Status ReadStringList(const Json& value, const std::string& field,
                      std::vector<std::string>* out) {
  if (value.is_string()) {
    out->push_back(value.get<std::string>());
  } else if (value.is_array()) {
    for (const Json& item : value) {
      if (!item.is_string()) {
        return Status::InvalidArgument("policy " + field + " must hold only strings");
      }
      out->push_back(item.get<std::string>());
    }
  } else {
    return Status::InvalidArgument("policy " + field + " must be a string or a list of strings");
  }
  if (out->empty()) return Status::InvalidArgument("policy " + field + " must not be empty");
  for (const std::string& s : *out) {
    if (s.empty()) return Status::InvalidArgument("policy " + field + " has an empty entry");
  }
  return Status::Ok();
}

StatusOr<Statement> ParseStatement(const Json& json, size_t index) {
  const std::string where = "Statement[" + std::to_string(index) + "]";
  if (!json.is_object()) return Status::InvalidArgument("policy " + where + " must be an object");
  Statement statement;
  bool has_effect = false, has_action = false, has_resource = false;
  for (const auto& [key, value] : json.items()) {
    if (key == "Sid") {
      if (!value.is_string()) return Status::InvalidArgument("policy Sid must be a string");
    } else if (key == "Effect") {
      if (value == "Allow") {
        statement.allow = true;
      } else if (value == "Deny") {
        statement.allow = false;
      } else {
        return Status::InvalidArgument("policy " + where +
                                       ".Effect must be \"Allow\" or \"Deny\"");
      }
      has_effect = true;
    } else if (key == "Action") {
      BASALT_RETURN_IF_ERROR(ReadStringList(value, where + ".Action", &statement.actions));
      has_action = true;
    } else if (key == "Resource") {
      BASALT_RETURN_IF_ERROR(ReadStringList(value, where + ".Resource", &statement.resources));
      has_resource = true;
    } else {
      // NotAction, NotResource, Principal, Condition, ...: not supported, so never ignored.
      return Status::InvalidArgument("policy " + where + " field \"" + key +
                                     "\" is not supported");
    }
  }
  if (!has_effect) return Status::InvalidArgument("policy " + where + " is missing Effect");
  if (!has_action) return Status::InvalidArgument("policy " + where + " is missing Action");
  if (!has_resource) return Status::InvalidArgument("policy " + where + " is missing Resource");
  for (const std::string& action : statement.actions) {
    // IAM's own rule: every action but "*" names its service ("bedrock:...").
    if (action != "*" && action.find(':') == std::string::npos) {
      return Status::InvalidArgument("policy " + where + ".Action \"" + action +
                                     "\" must be prefixed by a service, e.g. bedrock:");
    }
  }
  return statement;
}

bool Matches(const std::vector<std::string>& patterns, const std::string& text, bool lower,
             const EvalContext* ctx = nullptr) {
  for (const std::string& pattern : patterns) {
    if (lower ? GlobMatch(Lower(pattern), text)
              : GlobMatch(ctx ? Substitute(pattern, *ctx) : pattern, text)) {
      return true;
    }
  }
  return false;
}

}  // namespace

StatusOr<Policy> BuiltinPolicy(const std::string& name) {
  if (name == "AmazonBedrockFullAccess") return WithOwnUsage(AllowAll(name, {"bedrock:*"}));
  if (name == "AmazonBedrockReadOnly") {
    return WithOwnUsage(AllowAll(name, {"bedrock:Get*", "bedrock:List*"}));
  }
  if (name == "BasaltInvokeOnly") {
    return WithOwnUsage(
        AllowAll(name, {"bedrock:InvokeModel*", "bedrock:Converse*", "bedrock:CountTokens",
                        "bedrock:GetFoundationModel", "bedrock:ListFoundationModels"}));
  }
  if (name == "BasaltAdministrator") return AllowAll(name, {"*"});
  if (name == "BasaltMember") {
    Policy p = WithOwnUsage(
        AllowAll(name, {"bedrock:InvokeModel*", "bedrock:Converse*", "bedrock:CountTokens",
                        "bedrock:GetFoundationModel", "bedrock:ListFoundationModels",
                        "bedrock:GetFoundationModelAvailability", "bedrock:GetInferenceProfile",
                        "bedrock:ListInferenceProfiles", "basalt:ListModels"}));
    p.statements.push_back(
        Statement{true,
                  {"iam:GetUser", "iam:CreateAccessKey", "iam:ListAccessKeys",
                   "iam:UpdateAccessKey", "iam:DeleteAccessKey",
                   "iam:CreateServiceSpecificCredential", "iam:ListServiceSpecificCredentials",
                   "iam:UpdateServiceSpecificCredential", "iam:DeleteServiceSpecificCredential"},
                  {"arn:aws:iam::${aws:PrincipalAccount}:user/${aws:username}"}});
    return p;
  }
  return Status::NotFound("no built-in policy named '" + name + "'");
}

std::vector<std::string> BuiltinPolicyNames() {
  return std::vector<std::string>(std::begin(kBuiltinNames), std::end(kBuiltinNames));
}

StatusOr<Policy> ParsePolicyDocument(const std::string& name, const std::string& json) {
  if (!JsonDepthWithin(json)) return Status::InvalidArgument("policy document nests too deep");
  Json doc = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::InvalidArgument("policy document is not valid JSON");
  if (!doc.is_object()) return Status::InvalidArgument("policy document must be a JSON object");
  Policy policy{name, {}};
  bool has_statement = false;
  for (const auto& [key, value] : doc.items()) {
    if (key == "Version") {
      if (value != "2012-10-17" && value != "2008-10-17") {
        return Status::InvalidArgument(
            "policy Version must be \"2012-10-17\" or \"2008-10-17\"");
      }
    } else if (key == "Id") {
      if (!value.is_string()) return Status::InvalidArgument("policy Id must be a string");
    } else if (key == "Statement") {
      has_statement = true;
      if (value.is_object()) {
        BASALT_ASSIGN_OR_RETURN(Statement s, ParseStatement(value, 0));
        policy.statements.push_back(std::move(s));
      } else if (value.is_array()) {
        for (size_t i = 0; i < value.size(); ++i) {
          BASALT_ASSIGN_OR_RETURN(Statement s, ParseStatement(value[i], i));
          policy.statements.push_back(std::move(s));
        }
      } else {
        return Status::InvalidArgument("policy Statement must be an object or a list");
      }
    } else {
      return Status::InvalidArgument("policy document field \"" + key + "\" is not supported");
    }
  }
  if (!has_statement) return Status::InvalidArgument("policy document is missing Statement");
  if (policy.statements.empty()) {
    return Status::InvalidArgument("policy Statement must not be empty");
  }
  return policy;
}

std::string PolicyDocumentJson(const Policy& policy) {
  OrderedJson statements = OrderedJson::array();
  for (const Statement& s : policy.statements) {
    OrderedJson st;
    st["Effect"] = s.allow ? "Allow" : "Deny";
    st["Action"] = s.actions;
    st["Resource"] = s.resources;
    statements.push_back(std::move(st));
  }
  OrderedJson doc;
  doc["Version"] = "2012-10-17";
  doc["Statement"] = std::move(statements);
  return doc.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

Decision Evaluate(const std::vector<Policy>& policies, const std::string& action,
                  const std::string& resource, const EvalContext& context) {
  const std::string lower_action = Lower(action);
  bool allowed = false;
  for (const Policy& policy : policies) {
    for (const Statement& s : policy.statements) {
      if (!Matches(s.actions, lower_action, /*lower=*/true)) continue;
      if (!Matches(s.resources, resource, /*lower=*/false, &context)) continue;
      if (!s.allow) return Decision::kExplicitDeny;
      allowed = true;
    }
  }
  return allowed ? Decision::kAllow : Decision::kImplicitDeny;
}

std::string DenialMessage(const std::string& principal_arn, const std::string& action,
                          const std::string& resource, Decision decision) {
  std::string message = "User: " + principal_arn + " is not authorized to perform: " + action +
                        " on resource: " + resource;
  if (decision == Decision::kExplicitDeny) {
    return message + " with an explicit deny in an identity-based policy";
  }
  return message + " because no identity-based policy allows the " + action + " action";
}

bool GlobMatch(const std::string& pattern, const std::string& text) {
  // Iterative wildcard matching: on a mismatch, the last '*' absorbs one more character
  // (no recursion, so hostile patterns cannot blow the stack).
  size_t p = 0, t = 0;
  size_t star = std::string::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

const char* AccessStateName(AccessState state) {
  switch (state) {
    case AccessState::kNotRequested: return "NOT_REQUESTED";
    case AccessState::kRequested: return "REQUESTED";
    case AccessState::kGranted: return "GRANTED";
    case AccessState::kDenied: return "DENIED";
  }
  return "NOT_REQUESTED";
}

StatusOr<AccessState> ParseAccessState(const std::string& name) {
  for (AccessState state : {AccessState::kNotRequested, AccessState::kRequested,
                            AccessState::kGranted, AccessState::kDenied}) {
    if (name == AccessStateName(state)) return state;
  }
  return Status::InvalidArgument("unknown model access state '" + name +
                                 "' (NOT_REQUESTED, REQUESTED, GRANTED or DENIED)");
}

bool PatternCovers(const std::string& wide, const std::string& narrow) {
  // reach[j]: wide[0..i) can produce every text of narrow[0..j). A literal in `wide` matches
  // only the same literal; '?' matches a literal or '?'; '*' absorbs anything, wildcards too.
  const size_t n = narrow.size();
  std::vector<char> reach(n + 1, 0), next(n + 1, 0);
  reach[0] = 1;
  for (char w : wide) {
    std::fill(next.begin(), next.end(), 0);
    if (w == '*') {
      bool any = false;
      for (size_t j = 0; j <= n; ++j) {
        any = any || reach[j];
        next[j] = any;
      }
    } else {
      for (size_t j = 0; j < n; ++j) {
        if (!reach[j]) continue;
        const char q = narrow[j];
        if (q == '*') continue;  // only a '*' covers a '*'
        if (w == '?' || w == q) next[j + 1] = 1;
      }
    }
    reach.swap(next);
  }
  return reach[n] != 0;
}

bool PatternsOverlap(const std::string& a, const std::string& b) {
  // Reachability over (i, j): both patterns produce the same text up to a[0..i), b[0..j).
  const size_t n = a.size(), m = b.size();
  std::vector<char> seen((n + 1) * (m + 1), 0);
  std::vector<std::pair<size_t, size_t>> stack = {{0, 0}};
  auto push = [&](size_t i, size_t j) {
    char& s = seen[i * (m + 1) + j];
    if (!s) {
      s = 1;
      stack.emplace_back(i, j);
    }
  };
  seen[0] = 1;
  while (!stack.empty()) {
    auto [i, j] = stack.back();
    stack.pop_back();
    if (i == n && j == m) return true;
    if (i < n && a[i] == '*') push(i + 1, j);  // a's star produces nothing more
    if (j < m && b[j] == '*') push(i, j + 1);
    if (i == n || j == m) continue;
    // Both produce one more character.
    const char x = a[i], y = b[j];
    const bool x_lit = x != '*' && x != '?', y_lit = y != '*' && y != '?';
    if (x_lit && y_lit && x != y) continue;
    push(x == '*' ? i : i + 1, y == '*' ? j : j + 1);
  }
  return false;
}

bool PolicyWithin(const Policy& granted, const EvalContext& granted_context,
                  const std::vector<Policy>& holder, const EvalContext& holder_context) {
  for (const Statement& g : granted.statements) {
    if (!g.allow) continue;  // a Deny only takes away
    for (const std::string& raw_action : g.actions) {
      const std::string action = Lower(raw_action);
      for (const std::string& raw_resource : g.resources) {
        const std::string resource = Substitute(raw_resource, granted_context);
        bool covered = false;
        for (const Policy& p : holder) {
          for (const Statement& h : p.statements) {
            bool action_hit = false, resource_hit = false;
            for (const std::string& ha : h.actions) {
              action_hit = action_hit || (h.allow ? PatternCovers(Lower(ha), action)
                                                  : PatternsOverlap(Lower(ha), action));
            }
            if (!action_hit) continue;
            for (const std::string& hr : h.resources) {
              const std::string hs = Substitute(hr, holder_context);
              resource_hit = resource_hit || (h.allow ? PatternCovers(hs, resource)
                                                      : PatternsOverlap(hs, resource));
              // A right over one's own resources ("user/${aws:username}") may be passed on
              // as the same right over the grantee's own.
              resource_hit = resource_hit || (h.allow && raw_resource.find("${") !=
                                                             std::string::npos &&
                                              PatternCovers(hr, raw_resource));
            }
            if (!resource_hit) continue;
            if (!h.allow) return false;  // the holder is denied part of what it would grant
            covered = true;
          }
        }
        if (!covered) return false;
      }
    }
  }
  return true;
}

}  // namespace basalt::iam
