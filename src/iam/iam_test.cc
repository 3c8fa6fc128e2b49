#include "iam/iam.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace basalt::iam {
namespace {

constexpr char kModelArn[] = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0";

Policy MustParse(const std::string& json) {
  auto p = ParsePolicyDocument("p", json);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : Policy{};
}

Status ParseError(const std::string& json) { return ParsePolicyDocument("p", json).status(); }

TEST(GlobMatch, StarsAndQuestionMarks) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("*", "anything:at/all"));
  EXPECT_TRUE(GlobMatch("", ""));
  EXPECT_FALSE(GlobMatch("", "x"));
  EXPECT_TRUE(GlobMatch("abc", "abc"));
  EXPECT_FALSE(GlobMatch("abc", "abd"));
  EXPECT_FALSE(GlobMatch("abc", "ABC"));  // case-sensitive
  EXPECT_TRUE(GlobMatch("a?c", "abc"));
  EXPECT_FALSE(GlobMatch("a?c", "ac"));
  EXPECT_TRUE(GlobMatch("bedrock:List*", "bedrock:ListFoundationModels"));
  EXPECT_TRUE(GlobMatch("bedrock:List*", "bedrock:List"));
  EXPECT_FALSE(GlobMatch("bedrock:List*", "bedrock:GetFoundationModel"));
  EXPECT_TRUE(GlobMatch("*foundation-model/*", kModelArn));
  EXPECT_TRUE(GlobMatch("arn:aws:bedrock:*::foundation-model/amazon.*", kModelArn));
  EXPECT_FALSE(GlobMatch("arn:aws:bedrock:*::foundation-model/meta.*", kModelArn));
  EXPECT_TRUE(GlobMatch("a*b*c", "aXXbYYbZZc"));
  EXPECT_FALSE(GlobMatch("a*b*c", "aXXbYYbZZ"));
  EXPECT_TRUE(GlobMatch("**?", "x"));
  EXPECT_FALSE(GlobMatch("**?", ""));
  EXPECT_TRUE(GlobMatch("*?*?", "ab"));
  // A pathological pattern finishes quickly (no exponential backtracking).
  EXPECT_FALSE(GlobMatch(std::string(50, '*') + "b", std::string(5000, 'a')));
}

TEST(Builtins, MemberPolicy) {
  auto member = *BuiltinPolicy("BasaltMember");
  EvalContext me{"ada@example.com", "AIDAMEMBER", "123456789012"};
  auto allowed = [&](const std::string& action, const std::string& resource) {
    return Evaluate({member}, action, resource, me) == Decision::kAllow;
  };
  for (const char* a : {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream",
                        "bedrock:Converse", "bedrock:ConverseStream", "bedrock:CountTokens",
                        "bedrock:ListFoundationModels", "bedrock:GetFoundationModel"}) {
    EXPECT_TRUE(allowed(a, kModelArn)) << a;
  }
  const std::string own = "arn:aws:iam::123456789012:user/ada@example.com";
  const std::string other = "arn:aws:iam::123456789012:user/bob@example.com";
  EXPECT_TRUE(allowed("basalt:GetUsageReport", own));
  EXPECT_FALSE(allowed("basalt:GetUsageReport", other));
  EXPECT_TRUE(allowed("iam:CreateServiceSpecificCredential", own));
  EXPECT_TRUE(allowed("iam:CreateAccessKey", own));
  EXPECT_FALSE(allowed("iam:CreateAccessKey", other));
  EXPECT_FALSE(allowed("iam:CreateAccessKey", "arn:aws:iam::999999999999:user/ada@example.com"));
  EXPECT_FALSE(allowed("iam:CreateUser", own));
  EXPECT_FALSE(allowed("iam:AttachUserPolicy", own));
  EXPECT_FALSE(allowed("bedrock:CreateFoundationModelAgreement", kModelArn));
  EXPECT_FALSE(allowed("bedrock:PutUseCaseForModelAccess", "*"));
  EXPECT_FALSE(allowed("basalt:PutModelAccess", "arn:aws:iam::123456789012:root"));
  EXPECT_FALSE(allowed("basalt:PullModel", "*"));
}

TEST(Builtins, NamesAndContents) {
  std::vector<std::string> names = BuiltinPolicyNames();
  ASSERT_EQ(names.size(), 5u);
  for (const std::string& name : names) {
    auto p = BuiltinPolicy(name);
    ASSERT_TRUE(p.ok()) << name;
    EXPECT_EQ(p->name, name);
    // Every built-in survives a round trip through its document form.
    auto again = ParsePolicyDocument(name, PolicyDocumentJson(*p));
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    ASSERT_EQ(again->statements.size(), p->statements.size());
    EXPECT_EQ(again->statements[0].actions, p->statements[0].actions);
  }
  EXPECT_EQ(BuiltinPolicy("amazonbedrockfullaccess").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(BuiltinPolicy("").status().code(), StatusCode::kNotFound);

  auto full = *BuiltinPolicy("AmazonBedrockFullAccess");
  auto read = *BuiltinPolicy("AmazonBedrockReadOnly");
  auto invoke = *BuiltinPolicy("BasaltInvokeOnly");
  auto admin = *BuiltinPolicy("BasaltAdministrator");
  auto allowed = [](const Policy& p, const std::string& action) {
    return Evaluate({p}, action, kModelArn) == Decision::kAllow;
  };
  EXPECT_TRUE(allowed(full, "bedrock:InvokeModel"));
  EXPECT_TRUE(allowed(full, "bedrock:CreateFoundationModelAgreement"));
  EXPECT_FALSE(allowed(full, "basalt:CreateUser"));
  EXPECT_TRUE(allowed(read, "bedrock:ListFoundationModels"));
  EXPECT_TRUE(allowed(read, "bedrock:GetFoundationModel"));
  EXPECT_FALSE(allowed(read, "bedrock:InvokeModel"));
  for (const char* a : {"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream",
                        "bedrock:Converse", "bedrock:ConverseStream", "bedrock:CountTokens",
                        "bedrock:GetFoundationModel", "bedrock:ListFoundationModels"}) {
    EXPECT_TRUE(allowed(invoke, a)) << a;
  }
  EXPECT_FALSE(allowed(invoke, "bedrock:ListInferenceProfiles"));
  EXPECT_FALSE(allowed(invoke, "bedrock:PutUseCaseForModelAccess"));
  EXPECT_TRUE(allowed(admin, "basalt:CreateUser"));
  EXPECT_TRUE(allowed(admin, "bedrock:InvokeModel"));
}

TEST(ParsePolicyDocument, AcceptsIamShapes) {
  Policy p = MustParse(R"({"Version":"2012-10-17","Statement":[
      {"Sid":"a","Effect":"Allow","Action":["bedrock:InvokeModel","bedrock:Converse"],
       "Resource":["arn:aws:bedrock:*::foundation-model/amazon.*"]},
      {"Effect":"Deny","Action":"bedrock:*","Resource":"*"}]})");
  EXPECT_EQ(p.name, "p");
  ASSERT_EQ(p.statements.size(), 2u);
  EXPECT_TRUE(p.statements[0].allow);
  EXPECT_EQ(p.statements[0].actions,
            (std::vector<std::string>{"bedrock:InvokeModel", "bedrock:Converse"}));
  EXPECT_EQ(p.statements[0].resources,
            std::vector<std::string>{"arn:aws:bedrock:*::foundation-model/amazon.*"});
  EXPECT_FALSE(p.statements[1].allow);
  EXPECT_EQ(p.statements[1].actions, std::vector<std::string>{"bedrock:*"});

  // Version is optional; Statement may be a single object; Id is allowed.
  Policy single =
      MustParse(R"({"Id":"x","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}})");
  ASSERT_EQ(single.statements.size(), 1u);
  EXPECT_EQ(single.statements[0].actions, std::vector<std::string>{"*"});
  MustParse(R"({"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:*",
      "Resource":"*"}]})");
}

TEST(ParsePolicyDocument, RejectsWhatItCannotEnforce) {
  auto expect_invalid = [](const std::string& json, const std::string& mention) {
    Status st = ParseError(json);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << json;
    EXPECT_NE(st.message().find(mention), std::string::npos) << st.message();
  };
  expect_invalid("not json", "JSON");
  expect_invalid("[]", "object");
  expect_invalid("{}", "Statement");
  expect_invalid(R"({"Statement":[]})", "Statement");
  expect_invalid(R"({"Statement":"x"})", "Statement");
  expect_invalid(R"({"Version":"2020-01-01","Statement":[]})", "Version");
  expect_invalid(R"({"Version":"2012-10-17","Statment":[]})", "Statment");
  const std::string ok_tail = R"("Action":"bedrock:*","Resource":"*")";
  expect_invalid(R"({"Statement":[{"Effect":"Maybe",)" + ok_tail + "}]}", "Effect");
  expect_invalid(R"({"Statement":[{"Effect":"allow",)" + ok_tail + "}]}", "Effect");
  expect_invalid(R"({"Statement":[{)" + ok_tail + "}]}", "Effect");
  expect_invalid(R"({"Statement":[{"Effect":"Allow","Resource":"*"}]})", "Action");
  expect_invalid(R"({"Statement":[{"Effect":"Allow","Action":"bedrock:*"}]})", "Resource");
  expect_invalid(R"({"Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]})", "Action");
  expect_invalid(R"({"Statement":[{"Effect":"Allow","Action":[1],"Resource":"*"}]})", "Action");
  expect_invalid(R"({"Statement":[{"Effect":"Allow","Action":"","Resource":"*"}]})", "Action");
  expect_invalid(R"({"Statement":[{"Effect":"Allow","Action":"InvokeModel","Resource":"*"}]})",
                 "InvokeModel");
  expect_invalid(R"({"Statement":[{"Effect":"Allow","Action":"bedrock:*","Resource":{}}]})",
                 "Resource");
  expect_invalid(R"({"Statement":[{"Effect":"Allow","NotAction":"bedrock:*","Resource":"*"}]})",
                 "NotAction");
  expect_invalid(R"({"Statement":[{"Effect":"Allow",)" + ok_tail + R"(,"NotResource":"x"}]})",
                 "NotResource");
  expect_invalid(R"({"Statement":[{"Effect":"Allow",)" + ok_tail + R"(,"Condition":{}}]})",
                 "Condition");
  expect_invalid(R"({"Statement":[{"Effect":"Allow",)" + ok_tail + R"(,"Principal":"*"}]})",
                 "Principal");
  expect_invalid(R"({"Statement":[{"Effect":"Allow",)" + ok_tail + "}, 5]}", "Statement[1]");
}

TEST(PolicyDocumentJson, IamShape) {
  Policy p{"x", {Statement{false, {"bedrock:InvokeModel"}, {"*"}}}};
  auto doc = nlohmann::json::parse(PolicyDocumentJson(p));
  EXPECT_EQ(doc["Version"], "2012-10-17");
  ASSERT_EQ(doc["Statement"].size(), 1u);
  EXPECT_EQ(doc["Statement"][0]["Effect"], "Deny");
  EXPECT_EQ(doc["Statement"][0]["Action"][0], "bedrock:InvokeModel");
  EXPECT_EQ(doc["Statement"][0]["Resource"][0], "*");
}

TEST(Evaluate, ExplicitDenyWinsThenAllowThenImplicitDeny) {
  Policy allow_all = *BuiltinPolicy("AmazonBedrockFullAccess");
  Policy deny_meta = MustParse(R"({"Statement":{"Effect":"Deny","Action":"bedrock:Invoke*",
      "Resource":"arn:aws:bedrock:*::foundation-model/meta.*"}})");
  const std::string meta = "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-8b";
  EXPECT_EQ(Evaluate({}, "bedrock:InvokeModel", meta), Decision::kImplicitDeny);
  EXPECT_EQ(Evaluate({allow_all}, "bedrock:InvokeModel", meta), Decision::kAllow);
  EXPECT_EQ(Evaluate({allow_all, deny_meta}, "bedrock:InvokeModel", meta),
            Decision::kExplicitDeny);
  EXPECT_EQ(Evaluate({deny_meta, allow_all}, "bedrock:InvokeModel", meta),
            Decision::kExplicitDeny);
  EXPECT_EQ(Evaluate({allow_all, deny_meta}, "bedrock:InvokeModel", kModelArn), Decision::kAllow);
  EXPECT_EQ(Evaluate({allow_all, deny_meta}, "bedrock:Converse", meta), Decision::kAllow);
  // A Deny alone never allows anything.
  EXPECT_EQ(Evaluate({deny_meta}, "bedrock:Converse", meta), Decision::kImplicitDeny);
}

TEST(Evaluate, ActionsAreCaseInsensitiveResourcesAreNot) {
  Policy p = MustParse(R"({"Statement":[{"Effect":"Allow","Action":"Bedrock:invokeMODEL",
      "Resource":"arn:aws:bedrock:*::foundation-model/amazon.*"}]})");
  EXPECT_EQ(Evaluate({p}, "bedrock:InvokeModel", kModelArn), Decision::kAllow);
  EXPECT_EQ(Evaluate({p}, "bedrock:invokemodel", kModelArn), Decision::kAllow);
  EXPECT_EQ(Evaluate({p}, "BEDROCK:INVOKEMODEL", kModelArn), Decision::kAllow);
  EXPECT_EQ(Evaluate({p}, "bedrock:InvokeModelWithResponseStream", kModelArn),
            Decision::kImplicitDeny);
  EXPECT_EQ(Evaluate({p}, "bedrock:InvokeModel",
                     "arn:aws:bedrock:us-east-1::foundation-model/AMAZON.nova-lite-v1:0"),
            Decision::kImplicitDeny);
  Policy list = *BuiltinPolicy("AmazonBedrockReadOnly");
  EXPECT_EQ(Evaluate({list}, "bedrock:listfoundationmodels", "*"), Decision::kAllow);
}

TEST(DenialMessage, MatchesBedrockWording) {
  const std::string arn = "arn:aws:iam::123456789012:user/alice";
  EXPECT_EQ(DenialMessage(arn, "bedrock:InvokeModel", kModelArn, Decision::kImplicitDeny),
            "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: "
            "bedrock:InvokeModel on resource: " +
                std::string(kModelArn) +
                " because no identity-based policy allows the bedrock:InvokeModel action");
  EXPECT_EQ(DenialMessage(arn, "bedrock:InvokeModel", kModelArn, Decision::kExplicitDeny),
            "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: "
            "bedrock:InvokeModel on resource: " +
                std::string(kModelArn) + " with an explicit deny in an identity-based policy");
}

TEST(AccessState, NamesRoundTrip) {
  EXPECT_STREQ(AccessStateName(AccessState::kNotRequested), "NOT_REQUESTED");
  EXPECT_STREQ(AccessStateName(AccessState::kRequested), "REQUESTED");
  EXPECT_STREQ(AccessStateName(AccessState::kGranted), "GRANTED");
  EXPECT_STREQ(AccessStateName(AccessState::kDenied), "DENIED");
  for (AccessState s : {AccessState::kNotRequested, AccessState::kRequested,
                        AccessState::kGranted, AccessState::kDenied}) {
    auto parsed = ParseAccessState(AccessStateName(s));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(ParseAccessState("granted").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseAccessState("").status().code(), StatusCode::kInvalidArgument);
}

TEST(PolicyVariables, OwnUsageOnly) {
  auto invoke = *BuiltinPolicy("BasaltInvokeOnly");
  EvalContext bob{"bob", "AIDABOB", "111122223333"};
  EXPECT_EQ(Evaluate({invoke}, "basalt:GetUsageReport", "arn:aws:iam::111122223333:user/bob", bob),
            Decision::kAllow);
  EXPECT_NE(Evaluate({invoke}, "basalt:GetUsageReport", "arn:aws:iam::111122223333:user/eve", bob),
            Decision::kAllow);
  EXPECT_NE(Evaluate({invoke}, "basalt:GetUsageReport", "arn:aws:iam::111122223333:user/*", bob),
            Decision::kAllow);
  // Without a context the variable matches nothing (never everything).
  EXPECT_NE(Evaluate({invoke}, "basalt:GetUsageReport", "arn:aws:iam::1:user/"),
            Decision::kAllow);
}

TEST(PatternRelations, Covers) {
  EXPECT_TRUE(PatternCovers("*", "anything*"));
  EXPECT_TRUE(PatternCovers("bedrock:*", "bedrock:invoke*"));
  EXPECT_TRUE(PatternCovers("bedrock:invoke*", "bedrock:invokemodel"));
  EXPECT_FALSE(PatternCovers("bedrock:invokemodel", "bedrock:*"));
  EXPECT_FALSE(PatternCovers("bedrock:invoke?", "bedrock:invoke*"));  // ? is one character
  EXPECT_TRUE(PatternCovers("a?c", "a?c"));
  EXPECT_TRUE(PatternCovers("a*", "a?c"));
  EXPECT_FALSE(PatternCovers("abc", "a?c"));
  EXPECT_FALSE(PatternCovers("iam:*", "*"));
}

TEST(PatternRelations, Overlap) {
  EXPECT_TRUE(PatternsOverlap("bedrock:invoke*", "bedrock:*model"));
  EXPECT_TRUE(PatternsOverlap("*", "x"));
  EXPECT_FALSE(PatternsOverlap("bedrock:get*", "bedrock:list*"));
  EXPECT_TRUE(PatternsOverlap("a?c", "*c"));
  EXPECT_FALSE(PatternsOverlap("a?", "abc"));
  EXPECT_FALSE(PatternsOverlap(std::string(200, '*') + "b", std::string(200, 'a')));
}

// Issue 7: a user allowed only iam:CreateUser and iam:CreateAccessKey created an
// administrator.
TEST(PolicyWithin, NoEscalation) {
  Policy creator{"Creator", {Statement{true, {"iam:CreateUser", "iam:CreateAccessKey"}, {"*"}}}};
  auto admin = *BuiltinPolicy("BasaltAdministrator");
  auto full = *BuiltinPolicy("AmazonBedrockFullAccess");
  auto invoke = *BuiltinPolicy("BasaltInvokeOnly");
  EvalContext newbie{"x2", "", "111122223333"}, me{"creator", "AIDA1", "111122223333"};
  EXPECT_FALSE(PolicyWithin(admin, newbie, {creator}, me));
  EXPECT_FALSE(PolicyWithin(full, newbie, {creator}, me));
  EXPECT_TRUE(PolicyWithin(invoke, newbie, {full}, me));
  EXPECT_TRUE(PolicyWithin(full, newbie, {admin}, me));
  EXPECT_FALSE(PolicyWithin(full, newbie, {invoke}, me));
  // A Deny the holder is under may not be granted away.
  Policy denied{"Denied",
                {Statement{true, {"*"}, {"*"}},
                 Statement{false, {"bedrock:InvokeModel"},
                           {"arn:aws:bedrock:us-east-1::foundation-model/secret"}}}};
  EXPECT_FALSE(PolicyWithin(full, newbie, {denied}, me));
  Policy narrow{"Narrow", {Statement{true, {"bedrock:ListFoundationModels"}, {"*"}}}};
  EXPECT_TRUE(PolicyWithin(narrow, newbie, {denied}, me));
  // Granting a Deny takes nothing extra.
  Policy deny_only{"DenyOnly", {Statement{false, {"*"}, {"*"}}}};
  EXPECT_TRUE(PolicyWithin(deny_only, newbie, {creator}, me));
}

}  // namespace
}  // namespace basalt::iam
