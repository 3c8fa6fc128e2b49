#include "server/admin.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "auth/sigv4.h"
#include "server/admin_internal.h"
#include "store/store.h"

namespace basalt::server {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

struct Result {
  int rc = 0;
  std::string out;
  std::string err;
  Json json;  // parsed stdout (null when empty)
};

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "basalt_admin_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    data_dir_ = dir_ / "data";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Runs `basalt admin <args...> --data-dir <temp>`.
  Result Run(std::vector<std::string> args) {
    args.insert(args.begin(), "admin");
    args.push_back("--data-dir");
    args.push_back(data_dir_.string());
    Result r;
    r.rc = internal::RunAdminArgs(args, &r.out, &r.err);
    if (r.rc == 0 && !r.out.empty()) r.json = Json::parse(r.out);
    return r;
  }
  // Runs a command that must succeed.
  Json Ok(std::vector<std::string> args) {
    Result r = Run(args);
    EXPECT_EQ(r.rc, 0) << args[0] << ": " << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    return r.json;
  }
  // Runs a command that must fail with `mention` in its error message and nothing on stdout.
  void Fails(std::vector<std::string> args, const std::string& mention) {
    Result r = Run(args);
    EXPECT_EQ(r.rc, 1) << args[0] << " printed " << r.out;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find(mention), std::string::npos) << args[0] << ": " << r.err;
  }

  std::string MakeAccount(const std::string& name = "acme") {
    return Ok({"create-account", name})["Account"]["AccountId"];
  }
  std::string MakeUser(const std::string& account, const std::string& name = "alice") {
    return Ok({"create-user", "--account", account, name})["User"]["UserId"];
  }
  std::unique_ptr<store::Store> OpenStore() {
    auto key = store::LoadOrCreateMasterKey((data_dir_ / "master.key").string());
    EXPECT_TRUE(key.ok());
    auto opened = store::Store::OpenSqlite((data_dir_ / "basalt.db").string(), *key);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }
  std::string WriteFile(const std::string& name, const std::string& content) {
    fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

  fs::path dir_;
  fs::path data_dir_;
};

TEST_F(AdminTest, AccountsAndUsers) {
  Json created = Ok({"create-account", "acme"});
  const std::string account = created["Account"]["AccountId"];
  EXPECT_EQ(account.size(), 12u);
  EXPECT_EQ(created["Account"]["Name"], "acme");
  EXPECT_EQ(created["Account"]["CreateDate"].get<std::string>().size(), 20u);  // ISO 8601
  MakeAccount("globex");
  Json accounts = Ok({"list-accounts"});
  ASSERT_EQ(accounts["Accounts"].size(), 2u);
  std::map<std::string, std::string> names;  // id -> name
  for (const Json& a : accounts["Accounts"]) names[a["AccountId"]] = a["Name"];
  EXPECT_EQ(names[account], "acme");

  // The server's layout: a private master key and database in the data dir.
  struct stat st{};
  ASSERT_EQ(::stat((data_dir_ / "master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((data_dir_ / "basalt.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  Json alice = Ok({"create-user", "--account", account, "alice"})["User"];
  EXPECT_EQ(alice["UserName"], "alice");
  EXPECT_EQ(alice["Role"], "user");
  EXPECT_EQ(alice["AccountId"], account);
  EXPECT_EQ(alice["Arn"], "arn:aws:iam::" + account + ":user/alice");
  EXPECT_EQ(alice["AttachedPolicies"], Json::array({"AmazonBedrockFullAccess"}));
  Json root = Ok({"create-user", "--account", account, "--role", "admin", "root"})["User"];
  EXPECT_EQ(root["Role"], "admin");
  EXPECT_EQ(root["AttachedPolicies"], Json::array({"BasaltAdministrator"}));
  Json bob = Ok({"create-user", "--account", account, "--policy", "BasaltInvokeOnly", "--policy",
                 "AmazonBedrockReadOnly", "bob"})["User"];
  EXPECT_EQ(bob["UserName"], "bob");
  EXPECT_EQ(bob["AttachedPolicies"], Json::array({"BasaltInvokeOnly", "AmazonBedrockReadOnly"}));

  Json users = Ok({"list-users", "--account", account})["Users"];
  ASSERT_EQ(users.size(), 3u);
  std::map<std::string, Json> by_name;  // same-second users come in id order
  for (const Json& u : users) by_name[u["UserName"]] = u;
  EXPECT_EQ(by_name["alice"], alice);
  EXPECT_EQ(by_name["root"]["AttachedPolicies"], root["AttachedPolicies"]);
  EXPECT_EQ(by_name["bob"]["AttachedPolicies"], bob["AttachedPolicies"]);

  Fails({"create-user", "--account", "000000000000", "carol"}, "000000000000");
  Fails({"create-user", "--account", account, "alice"}, "already exists");
  // An unknown policy fails before the user is created.
  Fails({"create-user", "--account", account, "--policy", "NoSuchPolicy", "dave"}, "NoSuchPolicy");
  EXPECT_EQ(Ok({"list-users", "--account", account})["Users"].size(), 3u);
  Fails({"list-users", "--account", "000000000000"}, "not found");
  Fails({"create-account", ""}, "'name'");

  // Usage errors come from CLI11 with a non-zero status.
  EXPECT_NE(Run({"create-user", "--account", account, "--role", "god", "eve"}).rc, 0);
  EXPECT_NE(Run({"create-user", "eve"}).rc, 0);  // --account is required
  EXPECT_NE(Run({"no-such-command"}).rc, 0);
}

TEST_F(AdminTest, Policies) {
  const std::string account = MakeAccount();
  const std::string user = MakeUser(account);
  const std::string doc = R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny",
      "Action":"bedrock:InvokeModel","Resource":"arn:aws:bedrock:*::foundation-model/meta.*"}]})";
  Json put = Ok({"put-policy", "--account", account, "no-meta", WriteFile("p.json", doc)});
  EXPECT_EQ(put["Policy"]["PolicyName"], "no-meta");
  EXPECT_EQ(put["Policy"]["Document"]["Statement"][0]["Effect"], "Deny");

  Json policies = Ok({"list-policies", "--account", account})["Policies"];
  ASSERT_EQ(policies.size(), 6u);  // five built-in (iam.h), then the custom one
  EXPECT_EQ(policies[0]["Type"], "BuiltIn");
  EXPECT_EQ(policies[5], (Json{{"PolicyName", "no-meta"}, {"Type", "Custom"}}));

  Json attached = Ok({"attach-policy", "--user", user, "no-meta"});
  EXPECT_EQ(attached["UserId"], user);
  EXPECT_EQ(attached["AttachedPolicies"], Json::array({"AmazonBedrockFullAccess", "no-meta"}));
  EXPECT_EQ(Ok({"list-user-policies", "--user", user})["AttachedPolicies"],
            attached["AttachedPolicies"]);
  Json detached = Ok({"detach-policy", "--user", user, "AmazonBedrockFullAccess"});
  EXPECT_EQ(detached["AttachedPolicies"], Json::array({"no-meta"}));

  Fails({"put-policy", "--account", account, "x", (dir_ / "missing.json").string()},
        "missing.json");
  Fails({"put-policy", "--account", account, "x", WriteFile("bad.json", "{not json")}, "JSON");
  Fails({"put-policy", "--account", account, "x",
         WriteFile("not.json", R"({"Statement":{"Effect":"Allow","NotAction":"bedrock:*",
             "Resource":"*"}})")},
        "NotAction");
  Fails({"put-policy", "--account", account, "bad name", WriteFile("ok.json", doc)}, "policy name");
  Fails({"put-policy", "--account", "000000000000", "x", WriteFile("ok.json", doc)}, "not found");
  Fails({"attach-policy", "--user", user, "NoSuchPolicy"}, "NoSuchPolicy");
  Fails({"attach-policy", "--user", "AIDANOSUCHUSER000000", "BasaltInvokeOnly"}, "not found");
  Fails({"detach-policy", "--user", user, "BasaltInvokeOnly"}, "not attached");
  Fails({"list-user-policies", "--user", "AIDANOSUCHUSER000000"}, "not found");
  Fails({"list-policies", "--account", "000000000000"}, "not found");

  // Another account does not see this account's custom policy.
  const std::string other = MakeAccount("globex");
  const std::string bob = MakeUser(other, "bob");
  Fails({"attach-policy", "--user", bob, "no-meta"}, "no-meta");
  EXPECT_EQ(Ok({"list-policies", "--account", other})["Policies"].size(), 5u);
}

TEST_F(AdminTest, AccessKeysShowTheSecretOnce) {
  const std::string user = MakeUser(MakeAccount());
  Result created = Run({"create-access-key", "--user", user});
  ASSERT_EQ(created.rc, 0) << created.err;
  const Json key = created.json["AccessKey"];
  const std::string id = key["AccessKeyId"];
  const std::string secret = key["SecretAccessKey"];
  EXPECT_EQ(id.substr(0, 4), "AKIA");
  EXPECT_EQ(secret.size(), 40u);
  EXPECT_EQ(key["Status"], "Active");
  EXPECT_EQ(created.json["CredentialsFileSnippet"],
            "[basalt]\naws_access_key_id = " + id + "\naws_secret_access_key = " + secret + "\n");
  EXPECT_EQ(OpenStore()->GetAccessKey(id)->secret_access_key, secret);

  Result listed = Run({"list-access-keys", "--user", user});
  ASSERT_EQ(listed.rc, 0);
  EXPECT_EQ(listed.out.find(secret), std::string::npos);
  EXPECT_EQ(listed.out.find("Secret"), std::string::npos);
  ASSERT_EQ(listed.json["AccessKeyMetadata"].size(), 1u);
  EXPECT_EQ(listed.json["AccessKeyMetadata"][0]["AccessKeyId"], id);

  EXPECT_EQ(Ok({"deactivate-access-key", id})["Status"], "Inactive");
  EXPECT_EQ(Ok({"list-access-keys", "--user", user})["AccessKeyMetadata"][0]["Status"], "Inactive");
  EXPECT_EQ(Ok({"activate-access-key", id})["Status"], "Active");
  EXPECT_EQ(Ok({"delete-access-key", id})["Deleted"], true);
  EXPECT_TRUE(Ok({"list-access-keys", "--user", user})["AccessKeyMetadata"].empty());

  Fails({"delete-access-key", id}, "not found");
  Fails({"deactivate-access-key", "AKIANOSUCHKEY0000000"}, "not found");
  Fails({"activate-access-key", "AKIANOSUCHKEY0000000"}, "not found");
  Fails({"create-access-key", "--user", "AIDANOSUCHUSER000000"}, "not found");
  Fails({"list-access-keys", "--user", "AIDANOSUCHUSER000000"}, "not found");
}

TEST_F(AdminTest, ApiKeys) {
  const std::string user = MakeUser(MakeAccount());
  Result created = Run({"create-api-key", "--user", user});
  ASSERT_EQ(created.rc, 0) << created.err;
  const std::string token = created.json["ApiKey"]["Token"];
  const std::string id = created.json["ApiKey"]["ApiKeyId"];
  EXPECT_EQ(token.substr(0, 4), "ABSK");
  EXPECT_TRUE(created.json["ApiKey"]["ExpiresAt"].is_null());
  EXPECT_EQ(OpenStore()->FindApiKeyByToken(token)->id, id);

  Json expiring = Ok({"create-api-key", "--user", user, "--expires-in", "3600"});
  EXPECT_TRUE(expiring["ApiKey"]["ExpiresAt"].is_string());
  {
    auto found = OpenStore()->FindApiKeyByToken(expiring["ApiKey"]["Token"]);
    ASSERT_TRUE(found.ok());
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    EXPECT_NEAR(static_cast<double>(found->expires_at), static_cast<double>(now + 3600), 5);
  }

  Result listed = Run({"list-api-keys", "--user", user});
  ASSERT_EQ(listed.rc, 0);
  EXPECT_EQ(listed.out.find(token), std::string::npos);
  EXPECT_EQ(listed.out.find("Token"), std::string::npos);
  ASSERT_EQ(listed.json["ApiKeys"].size(), 2u);
  bool listed_id = false;
  for (const Json& k : listed.json["ApiKeys"]) listed_id = listed_id || k["ApiKeyId"] == id;
  EXPECT_TRUE(listed_id) << listed.out;

  EXPECT_EQ(Ok({"deactivate-api-key", id})["Status"], "Inactive");
  EXPECT_EQ(OpenStore()->FindApiKeyByToken(token)->status, "Inactive");
  EXPECT_EQ(Ok({"activate-api-key", id})["Status"], "Active");
  EXPECT_EQ(Ok({"delete-api-key", id})["Deleted"], true);
  EXPECT_EQ(OpenStore()->FindApiKeyByToken(token).status().code(), StatusCode::kNotFound);

  Fails({"delete-api-key", id}, "not found");
  Fails({"deactivate-api-key", "nosuchid"}, "not found");
  Fails({"create-api-key", "--user", "AIDANOSUCHUSER000000"}, "not found");
  Fails({"list-api-keys", "--user", "AIDANOSUCHUSER000000"}, "not found");
  EXPECT_NE(Run({"create-api-key", "--user", user, "--expires-in", "-5"}).rc, 0);
}

TEST_F(AdminTest, ShortTermApiKeys) {
  const std::string user = MakeUser(MakeAccount());
  Json key = Ok({"create-access-key", "--user", user})["AccessKey"];
  const std::string id = key["AccessKeyId"];
  const std::string secret = key["SecretAccessKey"];

  Json made = Ok({"create-short-term-api-key", "--access-key", id, "--region", "us-west-2",
                  "--expires-in", "900"});
  EXPECT_EQ(made["AccessKeyId"], id);
  EXPECT_EQ(made["Region"], "us-west-2");
  const std::string token = made["Token"];
  EXPECT_EQ(token.rfind("bedrock-api-key-", 0), 0u) << token;
  EXPECT_EQ(token.find(secret), std::string::npos);
  auto parsed = auth::ParseShortTermToken(token);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->access_key_id, id);
  EXPECT_EQ(parsed->region, "us-west-2");
  EXPECT_EQ(parsed->expires_seconds, 900);
  EXPECT_TRUE(auth::VerifyShortTermToken(*parsed, secret, std::chrono::system_clock::now()).ok());

  // Defaults: us-east-1, the 12-hour maximum.
  Json defaults = Ok({"create-short-term-api-key", "--access-key", id});
  auto parsed_default = auth::ParseShortTermToken(defaults["Token"].get<std::string>());
  ASSERT_TRUE(parsed_default.ok());
  EXPECT_EQ(parsed_default->region, "us-east-1");
  EXPECT_EQ(parsed_default->expires_seconds, 43200);

  EXPECT_NE(Run({"create-short-term-api-key", "--access-key", id, "--expires-in", "43201"}).rc, 0);
  EXPECT_NE(Run({"create-short-term-api-key", "--access-key", id, "--expires-in", "0"}).rc, 0);
  Fails({"create-short-term-api-key", "--access-key", "AKIANOSUCHKEY0000000"}, "not found");
  Ok({"deactivate-access-key", id});
  Fails({"create-short-term-api-key", "--access-key", id}, "inactive");
}

TEST_F(AdminTest, ModelAccess) {
  const std::string account = MakeAccount();
  EXPECT_TRUE(Ok({"list-model-access", "--account", account})["ModelAccess"].empty());
  Json granted = Ok({"grant-model-access", "--account", account, "amazon.nova-lite-v1:0"});
  EXPECT_EQ(
      granted,
      (Json{{"AccountId", account}, {"ModelId", "amazon.nova-lite-v1:0"}, {"State", "GRANTED"}}));
  EXPECT_EQ(Ok({"deny-model-access", "--account", account, "meta.llama"})["State"], "DENIED");
  EXPECT_EQ(Ok({"request-model-access", "--account", account, "anthropic.claude"})["State"],
            "REQUESTED");
  Json list = Ok({"list-model-access", "--account", account})["ModelAccess"];
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0], (Json{{"ModelId", "amazon.nova-lite-v1:0"}, {"State", "GRANTED"}}));
  EXPECT_EQ(list[1], (Json{{"ModelId", "anthropic.claude"}, {"State", "REQUESTED"}}));
  EXPECT_EQ(list[2], (Json{{"ModelId", "meta.llama"}, {"State", "DENIED"}}));
  EXPECT_EQ(*OpenStore()->GetModelAccess(account, "meta.llama"), "DENIED");

  const std::string other = MakeAccount("globex");
  EXPECT_TRUE(Ok({"list-model-access", "--account", other})["ModelAccess"].empty());
  Fails({"grant-model-access", "--account", "000000000000", "m"}, "not found");
  Fails({"list-model-access", "--account", "000000000000"}, "not found");
  Fails({"grant-model-access", "--account", account, ""}, "'modelId'");
}

TEST_F(AdminTest, ConsolePasswords) {
  const std::string user = MakeUser(MakeAccount());
  std::string out, err;
  std::vector<std::string> set{"admin",      "set-password",    "--user", user, "--password-stdin",
                               "--data-dir", data_dir_.string()};
  ASSERT_EQ(internal::RunAdminArgs(set, &out, &err, "correct horse battery\n"), 0) << err;
  EXPECT_EQ(Json::parse(out), (Json{{"UserId", user}, {"PasswordSet", true}}));
  EXPECT_EQ(Ok({"get-user", "--user", user})["User"]["PasswordSet"], true);
  EXPECT_EQ(internal::RunAdminArgs(set, &out, &err, "short\n"), 1);
  EXPECT_NE(err.find("minimum length of 8"), std::string::npos) << err;

  Json generated = Ok({"set-password", "--user", user, "--generate"});
  EXPECT_EQ(generated["Password"].get<std::string>().size(), 20u);
  Fails({"set-password", "--user", user}, "--password-stdin or --generate");
  EXPECT_NE(Run({"set-password", "--user", user, "--generate", "--password-stdin"}).rc, 0);
  EXPECT_EQ(Ok({"delete-password", "--user", user})["PasswordSet"], false);
  EXPECT_EQ(Ok({"get-user", "--user", user})["User"]["PasswordSet"], false);
}

TEST_F(AdminTest, ModelAccessRequestsOfEveryAccount) {
  const std::string a = MakeAccount("a");
  const std::string b = MakeAccount("b");
  Ok({"request-model-access", "--account", a, "m1"});
  Ok({"request-model-access", "--account", b, "m2"});
  Ok({"grant-model-access", "--account", b, "m3"});
  Json queue = Ok({"list-model-access-requests"})["ModelAccessRequests"];
  ASSERT_EQ(queue.size(), 2u);
  EXPECT_EQ(queue[0]["State"], "REQUESTED");
}

TEST_F(AdminTest, DataDirDefaultsToTheEnvironment) {
  const char* old = std::getenv("BASALT_DATA_DIR");
  std::string saved = old ? old : "";
  fs::path env_dir = dir_ / "from-env";
  ::setenv("BASALT_DATA_DIR", env_dir.c_str(), 1);
  std::string out, err;
  int rc = internal::RunAdminArgs({"admin", "create-account", "acme"}, &out, &err);
  if (old) {
    ::setenv("BASALT_DATA_DIR", saved.c_str(), 1);
  } else {
    ::unsetenv("BASALT_DATA_DIR");
  }
  EXPECT_EQ(rc, 0) << err;
  EXPECT_TRUE(fs::exists(env_dir / "basalt.db"));
  EXPECT_TRUE(fs::exists(env_dir / "master.key"));
  EXPECT_FALSE(fs::exists(data_dir_));
}

TEST_F(AdminTest, UsageAndHelp) {
  std::string out, err;
  EXPECT_NE(internal::RunAdminArgs({"admin"}, &out, &err), 0);  // a command is required
  EXPECT_EQ(internal::RunAdminArgs({"admin", "--help"}, &out, &err), 0);
  EXPECT_NE(out.find("create-access-key"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(data_dir_));  // nothing touched the store
}

TEST_F(AdminTest, PublicEntryPoints) {
  {
    CLI::App app{"basalt"};
    app.add_subcommand("version");
    AddAdminCommands(&app);
    std::vector<const char*> argv{"basalt", "version"};
    app.parse(static_cast<int>(argv.size()), argv.data());
    EXPECT_EQ(RunAdminIfParsed(), -1);
  }
  CLI::App app{"basalt"};
  AddAdminCommands(&app);
  std::string dir = data_dir_.string();
  std::vector<const char*> argv{"basalt", "admin", "list-accounts", "--data-dir", dir.c_str()};
  app.parse(static_cast<int>(argv.size()), argv.data());
  testing::internal::CaptureStdout();
  int rc = RunAdminIfParsed();
  std::string out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(Json::parse(out), (Json{{"Accounts", Json::array()}}));
}

}  // namespace
}  // namespace basalt::server
