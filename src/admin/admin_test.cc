#include "admin/admin.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>

namespace basalt::admin {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using std::chrono::system_clock;

// 2026-11-29T05:00:00Z
const system_clock::time_point kNow = system_clock::time_point(seconds(1795928400));

class AdminServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "basalt_admin_service_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto key = store::LoadOrCreateMasterKey((dir_ / "master.key").string());
    ASSERT_TRUE(key.ok());
    auto opened = store::Store::OpenSqlite((dir_ / "basalt.db").string(), *key);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
    service_ = std::make_unique<Service>(store_.get(), ServiceOptions{[] { return kNow; }});
    // The operator account with its administrator, as the first start makes them.
    op_ = Value(service_->CreateAccount(root_, "admin"))["Account"]["AccountId"];
    ASSERT_TRUE(store_->PutSetting("operator_account", op_).ok());
    admin_ = MakeUser(op_, "admin", {"BasaltAdministrator"});
    tenant_ = Value(service_->CreateAccount(root_, "tenant"))["Account"]["AccountId"];
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static Json Value(StatusOr<Json> r) {
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Json();
  }
  static void Refused(const StatusOr<Json>& r, StatusCode code, const std::string& mention) {
    ASSERT_FALSE(r.ok()) << r->dump();
    EXPECT_EQ(r.status().code(), code) << r.status().ToString();
    EXPECT_NE(r.status().message().find(mention), std::string::npos) << r.status().ToString();
  }

  std::string MakeUser(const std::string& account, const std::string& name,
                       std::vector<std::string> policies) {
    CreateUserRequest request{account, name, "", std::move(policies)};
    return Value(service_->CreateUser(root_, request))["User"]["UserId"];
  }
  std::string PutPolicy(const std::string& account, const std::string& name,
                        const std::string& statements) {
    Value(service_->PutPolicy(root_, account, name,
                              R"({"Version":"2012-10-17","Statement":)" + statements + "}"));
    return name;
  }
  // The caller a request authenticated as `user_id` gets (as api::LoadIdentity builds it).
  Caller As(const std::string& user_id) {
    auto user = store_->GetUser(user_id);
    EXPECT_TRUE(user.ok());
    auto policies = LoadUserPolicies(*store_, user->account_id, user->id);
    EXPECT_TRUE(policies.ok());
    return Caller::User(user->account_id, user->id,
                        "arn:aws:iam::" + user->account_id + ":user/" + user->name, *policies,
                        iam::EvalContext{user->name, user->id, user->account_id});
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Service> service_;
  const Caller root_ = Caller::LocalOperator();
  std::string op_, admin_, tenant_;
};

TEST_F(AdminServiceTest, OneShapeForUsersAndKeys) {
  Json user = Value(service_->GetUser(root_, admin_))["User"];
  EXPECT_EQ(user["UserName"], "admin");
  EXPECT_EQ(user["Arn"], "arn:aws:iam::" + op_ + ":user/admin");
  EXPECT_EQ(user["AttachedPolicies"], Json::array({"BasaltAdministrator"}));
  EXPECT_EQ(user["CreateDate"].get<std::string>().size(), 20u);  // 2026-11-29T05:00:00Z
  EXPECT_EQ(user["CreateDate"].get<std::string>().back(), 'Z');

  Json never = Value(service_->CreateApiKey(root_, {admin_, std::nullopt}))["ApiKey"];
  EXPECT_TRUE(never["ExpiresAt"].is_null());
  EXPECT_EQ(never["Token"].get<std::string>().substr(0, 4), "ABSK");
  Json hour = Value(service_->CreateApiKey(root_, {admin_, 3600}))["ApiKey"];
  EXPECT_EQ(hour["ExpiresAt"], "2026-11-29T06:00:00Z");
  Json listed = Value(service_->ListApiKeys(root_, admin_));
  EXPECT_EQ(listed.dump().find("Token"), std::string::npos);  // secrets once, when created
  Refused(service_->CreateApiKey(root_, {admin_, 0}), StatusCode::kInvalidArgument,
          "expiresInSeconds");

  Json short_term = Value(service_->CreateShortTermApiKey(
      root_,
      {Value(service_->CreateAccessKey(root_, admin_))["AccessKey"]["AccessKeyId"], "", 900}));
  EXPECT_EQ(short_term["Region"], "us-east-1");
  EXPECT_EQ(short_term["ExpiresAt"], "2026-11-29T05:15:00Z");
  EXPECT_EQ(Iso8601(0), "1970-01-01T00:00:00Z");
}

TEST_F(AdminServiceTest, PoliciesDecide) {
  const std::string bob = MakeUser(tenant_, "bob", {"BasaltInvokeOnly"});
  Refused(service_->CreateAccessKey(As(bob), ""), StatusCode::kPermissionDenied,
          "not authorized to perform: iam:CreateAccessKey");
  Refused(service_->ListAccounts(As(bob)), StatusCode::kPermissionDenied,
          "not an operator administrator");
  // The operator's administrator reaches every account.
  EXPECT_EQ(Value(service_->ListUsers(As(admin_), tenant_))["Users"].size(), 1u);
  EXPECT_EQ(Value(service_->ListAccounts(As(admin_)))["Accounts"].size(), 2u);
}

TEST_F(AdminServiceTest, AccountsAreIsolated) {
  const std::string boss = MakeUser(tenant_, "boss", {"BasaltAdministrator"});
  Caller caller = As(boss);
  // Full rights in its own account, nothing in another.
  EXPECT_TRUE(service_->CreateAccessKey(caller, "").ok());
  Refused(service_->ListUsers(caller, op_), StatusCode::kPermissionDenied,
          "may only manage its own account");
  Refused(service_->GetUser(caller, admin_), StatusCode::kNotFound, "not found");
  Refused(service_->CreateAccessKey(caller, admin_), StatusCode::kNotFound, "not found");
  std::string key = Value(service_->CreateAccessKey(root_, admin_))["AccessKey"]["AccessKeyId"];
  Refused(service_->DeleteAccessKey(caller, key), StatusCode::kNotFound,
          "Access key " + key + " not found.");
  Refused(service_->SetModelAccess(caller, tenant_, "m", "GRANTED"), StatusCode::kPermissionDenied,
          "not an operator administrator");
  Refused(service_->ListModelAccessRequests(caller), StatusCode::kPermissionDenied,
          "not an operator administrator");
}

TEST_F(AdminServiceTest, NobodyGrantsMoreThanTheyHold) {
  PutPolicy(op_, "Delegate",
            R"([{"Effect":"Allow","Action":["iam:*","bedrock:InvokeModel"],"Resource":"*"}])");
  const std::string delegate = MakeUser(op_, "delegate", {"Delegate"});
  Caller caller = As(delegate);
  Refused(
      service_->CreateUser(caller, {"", "x", "", std::vector<std::string>{"BasaltAdministrator"}}),
      StatusCode::kPermissionDenied, "may not grant policy BasaltAdministrator");
  Json ok =
      Value(service_->CreateUser(caller, {"", "y", "", std::vector<std::string>{"Delegate"}}));
  const std::string y = ok["User"]["UserId"];
  Refused(service_->AttachUserPolicy(caller, y, "AmazonBedrockFullAccess"),
          StatusCode::kPermissionDenied, "may not grant");
  // Keys and short-term keys of a stronger user are out of reach.
  Refused(service_->CreateAccessKey(caller, admin_), StatusCode::kPermissionDenied,
          "may not grant");
  std::string admin_key =
      Value(service_->CreateAccessKey(root_, admin_))["AccessKey"]["AccessKeyId"];
  Refused(service_->CreateShortTermApiKey(caller, {admin_key, "", 60}),
          StatusCode::kPermissionDenied, "may not grant");
  EXPECT_TRUE(service_->CreateAccessKey(caller, y).ok());
  // Rewriting a policy attached to users may not widen it beyond the caller's.
  Refused(service_->PutPolicy(caller, "", "Delegate",
                              R"({"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})"),
          StatusCode::kPermissionDenied, "may not grant");
}

TEST_F(AdminServiceTest, DetachingADenyNeedsTheRightsItLifts) {
  PutPolicy(op_, "NoInvoke",
            R"([{"Effect":"Deny","Action":"bedrock:InvokeModel","Resource":"*"}])");
  PutPolicy(op_, "IamOnly", R"([{"Effect":"Allow","Action":"iam:*","Resource":"*"}])");
  const std::string self =
      MakeUser(op_, "self", {"AmazonBedrockFullAccess", "IamOnly", "NoInvoke"});
  Refused(service_->DetachUserPolicy(As(self), "", "NoInvoke"), StatusCode::kPermissionDenied,
          "may not grant");
  // Detaching an allow only takes rights away.
  Json left = Value(service_->DetachUserPolicy(As(self), "", "AmazonBedrockFullAccess"));
  EXPECT_EQ(left["AttachedPolicies"], Json::array({"IamOnly", "NoInvoke"}));
  EXPECT_TRUE(service_->DetachUserPolicy(As(admin_), self, "NoInvoke").ok());
}

TEST_F(AdminServiceTest, ModelAccessQueue) {
  Value(service_->SetModelAccess(root_, tenant_, "anthropic.claude-v2", "REQUESTED"));
  Value(service_->SetModelAccess(root_, tenant_, "meta.llama", "GRANTED"));
  Value(service_->SetModelAccess(root_, op_, "amazon.titan", "REQUESTED"));
  Json queue = Value(service_->ListModelAccessRequests(As(admin_)))["ModelAccessRequests"];
  ASSERT_EQ(queue.size(), 2u);
  for (const Json& r : queue) EXPECT_EQ(r["State"], "REQUESTED");
  Json approved =
      Value(service_->SetModelAccess(As(admin_), tenant_, "anthropic.claude-v2", "GRANTED"));
  EXPECT_EQ(approved["State"], "GRANTED");
  EXPECT_EQ(Value(service_->ListModelAccessRequests(root_))["ModelAccessRequests"].size(), 1u);
  Refused(service_->SetModelAccess(root_, tenant_, "m", "MAYBE"), StatusCode::kInvalidArgument,
          "state must be");
  Refused(service_->SetModelAccess(root_, tenant_, "", "GRANTED"), StatusCode::kInvalidArgument,
          "'modelId'");
}

TEST_F(AdminServiceTest, ConsolePasswords) {
  const std::string bob = MakeUser(tenant_, "bob", {"BasaltInvokeOnly"});
  EXPECT_EQ(Value(service_->GetUser(root_, bob))["User"]["PasswordSet"], false);
  Json set = Value(service_->SetUserPassword(root_, {bob, "correct horse", false}));
  EXPECT_EQ(set, (Json{{"UserId", bob}, {"PasswordSet", true}}));  // no secret echoed
  EXPECT_EQ(Value(service_->GetUser(root_, bob))["User"]["PasswordSet"], true);
  auto stored = store_->GetUserPassword(bob);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->rfind("$argon2id$", 0), 0u);

  Json generated = Value(service_->SetUserPassword(As(admin_), {bob, "", true}));
  const std::string password = generated["Password"];
  EXPECT_EQ(password.size(), 20u);
  EXPECT_NE(*store_->GetUserPassword(bob), *stored);
  Refused(service_->SetUserPassword(root_, {bob, "short", false}), StatusCode::kInvalidArgument,
          "minimum length of 8");
  // iam:UpdateLoginProfile on the user, and never for a stronger user.
  Refused(service_->SetUserPassword(As(bob), {bob, "long enough", false}),
          StatusCode::kPermissionDenied, "iam:UpdateLoginProfile");
  PutPolicy(op_, "Passwords",
            R"([{"Effect":"Allow","Action":["iam:UpdateLoginProfile","bedrock:*","basalt:*"],)"
            R"("Resource":"*"}])");
  const std::string helper = MakeUser(op_, "helper", {"Passwords"});
  Refused(service_->SetUserPassword(As(helper), {admin_, "long enough", false}),
          StatusCode::kPermissionDenied, "may not grant");
  EXPECT_TRUE(service_->SetUserPassword(As(helper), {bob, "long enough", false}).ok());
  Refused(service_->DeleteUserPassword(As(helper), bob), StatusCode::kPermissionDenied,
          "iam:DeleteLoginProfile");

  EXPECT_EQ(Value(service_->DeleteUserPassword(root_, bob))["PasswordSet"], false);
  EXPECT_EQ(*store_->GetUserPassword(bob), "");
}

TEST_F(AdminServiceTest, LocalOperatorNamesItsTargets) {
  Refused(service_->ListUsers(root_, ""), StatusCode::kInvalidArgument, "accountId");
  Refused(service_->CreateAccessKey(root_, ""), StatusCode::kInvalidArgument, "userId");
  Refused(service_->CreateAccount(root_, ""), StatusCode::kInvalidArgument, "'name'");
}

}  // namespace
}  // namespace basalt::admin
