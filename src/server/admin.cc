#include "server/admin.h"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "auth/sigv4.h"
#include "iam/iam.h"
#include "server/admin_internal.h"
#include "store/store.h"

namespace basalt::server {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr int kMaxShortTermSeconds = 43200;  // Bedrock's limit for short-term API keys
constexpr char kDefaultUserPolicy[] = "AmazonBedrockFullAccess";
constexpr char kDefaultAdminPolicy[] = "BasaltAdministrator";

// Every option of every command; only one command is parsed per run.
struct Args {
  std::string data_dir;
  std::string account;
  std::string user;
  std::string access_key;
  std::string name;
  std::string file;
  std::string id;
  std::string model;
  std::string role = "user";
  std::vector<std::string> policies;
  int64_t expires_in = 0;
  int short_term_expires_in = kMaxShortTermSeconds;
  std::string region = "us-east-1";
};

using Handler = StatusOr<Json> (*)(store::Store& store, const Args& args);

std::string DataDir(const Args& args) {
  if (!args.data_dir.empty()) return args.data_dir;
  if (const char* env = std::getenv("BASALT_DATA_DIR"); env && *env) return env;
  if (const char* home = std::getenv("HOME"); home && *home) {
    return (fs::path(home) / ".basalt").string();
  }
  return ".basalt";
}

// Opens the store exactly as `basalt serve` does, so both see the same state.
StatusOr<std::unique_ptr<store::Store>> OpenStore(const std::string& data_dir) {
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) return Status::Internal("cannot create data dir " + data_dir + ": " + ec.message());
  StatusOr<std::string> master =
      store::LoadOrCreateMasterKey((fs::path(data_dir) / "master.key").string());
  if (!master.ok()) return master.status();
  return store::Store::OpenSqlite((fs::path(data_dir) / "basalt.db").string(), *master);
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Iso8601(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string UserArn(const store::User& user) {
  return "arn:aws:iam::" + user.account_id + ":user/" + user.name;
}

Json AccountJson(const store::Account& account) {
  return Json{{"AccountId", account.id},
              {"Name", account.name},
              {"CreateDate", Iso8601(account.created_at)}};
}

Json UserJson(const store::User& user, const std::vector<std::string>& policies) {
  return Json{{"UserId", user.id},
              {"UserName", user.name},
              {"AccountId", user.account_id},
              {"Arn", UserArn(user)},
              {"Role", user.role},
              {"AttachedPolicies", policies},
              {"CreateDate", Iso8601(user.created_at)}};
}

// Metadata only: a secret never goes through here.
Json AccessKeyJson(const store::AccessKey& key) {
  return Json{{"AccessKeyId", key.access_key_id},
              {"UserId", key.user_id},
              {"AccountId", key.account_id},
              {"Status", key.status},
              {"CreateDate", Iso8601(key.created_at)}};
}

Json ApiKeyJson(const store::ApiKey& key) {
  return Json{{"ApiKeyId", key.id},
              {"UserId", key.user_id},
              {"AccountId", key.account_id},
              {"Status", key.status},
              {"ExpiresAt", key.expires_at == 0 ? Json(nullptr) : Json(Iso8601(key.expires_at))},
              {"CreateDate", Iso8601(key.created_at)}};
}

bool IsBuiltin(const std::string& name) { return iam::BuiltinPolicy(name).ok(); }

StatusOr<Json> UserPoliciesJson(store::Store& store, const std::string& user_id) {
  BASALT_ASSIGN_OR_RETURN(std::vector<std::string> names, store.ListUserPolicies(user_id));
  return Json{{"UserId", user_id}, {"AttachedPolicies", names}};
}

// --- accounts and users ---------------------------------------------------------------------

StatusOr<Json> CreateAccount(store::Store& store, const Args& args) {
  BASALT_ASSIGN_OR_RETURN(store::Account account, store.CreateAccount(args.name));
  return Json{{"Account", AccountJson(account)}};
}

StatusOr<Json> ListAccounts(store::Store& store, const Args&) {
  BASALT_ASSIGN_OR_RETURN(std::vector<store::Account> accounts, store.ListAccounts());
  Json list = Json::array();
  for (const store::Account& a : accounts) list.push_back(AccountJson(a));
  return Json{{"Accounts", std::move(list)}};
}

StatusOr<Json> CreateUser(store::Store& store, const Args& args) {
  std::vector<std::string> policies = args.policies;
  if (policies.empty()) {
    policies.push_back(args.role == "admin" ? kDefaultAdminPolicy : kDefaultUserPolicy);
  }
  // Check every policy first, so a typo does not leave a half-configured user behind.
  BASALT_RETURN_IF_ERROR(store.GetAccount(args.account).status());
  for (const std::string& name : policies) {
    if (IsBuiltin(name)) continue;
    StatusOr<std::string> doc = store.GetPolicy(args.account, name);
    if (!doc.ok()) {
      return Status::NotFound("policy " + name + " is neither built in nor defined in account " +
                              args.account);
    }
  }
  BASALT_ASSIGN_OR_RETURN(store::User user, store.CreateUser(args.account, args.name, args.role));
  for (const std::string& name : policies) {
    BASALT_RETURN_IF_ERROR(store.AttachUserPolicy(user.id, name));
  }
  BASALT_ASSIGN_OR_RETURN(std::vector<std::string> attached, store.ListUserPolicies(user.id));
  return Json{{"User", UserJson(user, attached)}};
}

StatusOr<Json> ListUsers(store::Store& store, const Args& args) {
  BASALT_ASSIGN_OR_RETURN(std::vector<store::User> users, store.ListUsers(args.account));
  Json list = Json::array();
  for (const store::User& user : users) {
    BASALT_ASSIGN_OR_RETURN(std::vector<std::string> policies, store.ListUserPolicies(user.id));
    list.push_back(UserJson(user, policies));
  }
  return Json{{"Users", std::move(list)}};
}

// --- policies -------------------------------------------------------------------------------

StatusOr<Json> AttachPolicy(store::Store& store, const Args& args) {
  BASALT_RETURN_IF_ERROR(store.AttachUserPolicy(args.user, args.name));
  return UserPoliciesJson(store, args.user);
}

StatusOr<Json> DetachPolicy(store::Store& store, const Args& args) {
  BASALT_RETURN_IF_ERROR(store.DetachUserPolicy(args.user, args.name));
  return UserPoliciesJson(store, args.user);
}

StatusOr<Json> ListUserPolicies(store::Store& store, const Args& args) {
  return UserPoliciesJson(store, args.user);
}

StatusOr<Json> PutPolicy(store::Store& store, const Args& args) {
  std::ifstream in(args.file, std::ios::binary);
  if (!in.is_open()) return Status::InvalidArgument("cannot open policy file " + args.file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::InvalidArgument("cannot read policy file " + args.file);
  BASALT_RETURN_IF_ERROR(store.PutPolicy(args.account, args.name, text));
  Json document = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return Json{{"Policy",
               Json{{"PolicyName", args.name},
                    {"AccountId", args.account},
                    {"Document", std::move(document)}}}};
}

StatusOr<Json> ListPolicies(store::Store& store, const Args& args) {
  BASALT_ASSIGN_OR_RETURN(std::vector<std::string> custom, store.ListPolicies(args.account));
  Json list = Json::array();
  for (const std::string& name : iam::BuiltinPolicyNames()) {
    list.push_back(Json{{"PolicyName", name}, {"Type", "BuiltIn"}});
  }
  for (const std::string& name : custom) {
    list.push_back(Json{{"PolicyName", name}, {"Type", "Custom"}});
  }
  return Json{{"AccountId", args.account}, {"Policies", std::move(list)}};
}

// --- access keys ----------------------------------------------------------------------------

StatusOr<Json> CreateAccessKey(store::Store& store, const Args& args) {
  BASALT_ASSIGN_OR_RETURN(store::AccessKey key, store.CreateAccessKey(args.user));
  Json out = AccessKeyJson(key);
  out["SecretAccessKey"] = key.secret_access_key;
  std::string credentials = "[basalt]\naws_access_key_id = " + key.access_key_id +
                            "\naws_secret_access_key = " + key.secret_access_key + "\n";
  return Json{{"AccessKey", std::move(out)}, {"CredentialsFileSnippet", credentials}};
}

StatusOr<Json> ListAccessKeys(store::Store& store, const Args& args) {
  BASALT_ASSIGN_OR_RETURN(std::vector<store::AccessKey> keys, store.ListAccessKeys(args.user));
  Json list = Json::array();
  for (const store::AccessKey& key : keys) list.push_back(AccessKeyJson(key));
  return Json{{"AccessKeyMetadata", std::move(list)}};
}

StatusOr<Json> SetAccessKeyStatus(store::Store& store, const std::string& id,
                                  const std::string& status) {
  BASALT_RETURN_IF_ERROR(store.SetAccessKeyStatus(id, status));
  return Json{{"AccessKeyId", id}, {"Status", status}};
}

StatusOr<Json> DeactivateAccessKey(store::Store& store, const Args& args) {
  return SetAccessKeyStatus(store, args.id, "Inactive");
}

StatusOr<Json> ActivateAccessKey(store::Store& store, const Args& args) {
  return SetAccessKeyStatus(store, args.id, "Active");
}

StatusOr<Json> DeleteAccessKey(store::Store& store, const Args& args) {
  BASALT_RETURN_IF_ERROR(store.DeleteAccessKey(args.id));
  return Json{{"AccessKeyId", args.id}, {"Deleted", true}};
}

// --- API keys -------------------------------------------------------------------------------

StatusOr<Json> CreateApiKey(store::Store& store, const Args& args) {
  if (args.expires_in < 0) return Status::InvalidArgument("--expires-in must not be negative");
  int64_t expires_at = args.expires_in == 0 ? 0 : NowSeconds() + args.expires_in;
  BASALT_ASSIGN_OR_RETURN(store::NewApiKey key, store.CreateApiKey(args.user, expires_at));
  return Json{{"ApiKey", ApiKeyJson(key.key)}, {"Token", key.token}};
}

StatusOr<Json> CreateShortTermApiKey(store::Store& store, const Args& args) {
  BASALT_ASSIGN_OR_RETURN(store::AccessKey key, store.GetAccessKey(args.access_key));
  if (key.status != "Active") {
    return Status::FailedPrecondition("access key " + key.access_key_id + " is inactive");
  }
  auto now = std::chrono::system_clock::now();
  std::string token = auth::MakeShortTermToken(key.access_key_id, key.secret_access_key,
                                               args.region, now, args.short_term_expires_in);
  int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return Json{{"AccessKeyId", key.access_key_id},
              {"Region", args.region},
              {"ExpiresAt", Iso8601(now_s + args.short_term_expires_in)},
              {"Token", token}};
}

StatusOr<Json> ListApiKeys(store::Store& store, const Args& args) {
  BASALT_ASSIGN_OR_RETURN(std::vector<store::ApiKey> keys, store.ListApiKeys(args.user));
  Json list = Json::array();
  for (const store::ApiKey& key : keys) list.push_back(ApiKeyJson(key));
  return Json{{"ApiKeys", std::move(list)}};
}

StatusOr<Json> SetApiKeyStatus(store::Store& store, const std::string& id,
                               const std::string& status) {
  BASALT_RETURN_IF_ERROR(store.SetApiKeyStatus(id, status));
  return Json{{"ApiKeyId", id}, {"Status", status}};
}

StatusOr<Json> DeactivateApiKey(store::Store& store, const Args& args) {
  return SetApiKeyStatus(store, args.id, "Inactive");
}

StatusOr<Json> ActivateApiKey(store::Store& store, const Args& args) {
  return SetApiKeyStatus(store, args.id, "Active");
}

StatusOr<Json> DeleteApiKey(store::Store& store, const Args& args) {
  BASALT_RETURN_IF_ERROR(store.DeleteApiKey(args.id));
  return Json{{"ApiKeyId", args.id}, {"Deleted", true}};
}

// --- model access ---------------------------------------------------------------------------

StatusOr<Json> SetModelAccess(store::Store& store, const Args& args, iam::AccessState state) {
  const std::string name = iam::AccessStateName(state);
  BASALT_RETURN_IF_ERROR(store.SetModelAccess(args.account, args.model, name));
  return Json{{"AccountId", args.account}, {"ModelId", args.model}, {"State", name}};
}

StatusOr<Json> GrantModelAccess(store::Store& store, const Args& args) {
  return SetModelAccess(store, args, iam::AccessState::kGranted);
}

StatusOr<Json> DenyModelAccess(store::Store& store, const Args& args) {
  return SetModelAccess(store, args, iam::AccessState::kDenied);
}

StatusOr<Json> RequestModelAccess(store::Store& store, const Args& args) {
  return SetModelAccess(store, args, iam::AccessState::kRequested);
}

StatusOr<Json> ListModelAccess(store::Store& store, const Args& args) {
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  BASALT_ASSIGN_OR_RETURN(Pairs rows, store.ListModelAccess(args.account));
  Json list = Json::array();
  for (const auto& [model, state] : rows) {
    list.push_back(Json{{"ModelId", model}, {"State", state}});
  }
  return Json{{"AccountId", args.account}, {"ModelAccess", std::move(list)}};
}

// --- the command tree -----------------------------------------------------------------------

class AdminCli {
 public:
  explicit AdminCli(CLI::App* app) { Register(app); }
  AdminCli(const AdminCli&) = delete;  // options are bound to args_
  AdminCli& operator=(const AdminCli&) = delete;

  // Runs the parsed command; -1 when "admin" was not on the command line.
  int RunIfParsed(std::ostream& out, std::ostream& err) {
    if (admin_ == nullptr || !admin_->parsed()) return -1;
    for (const auto& [command, handler] : commands_) {
      if (!command->parsed()) continue;
      const std::string prefix = "basalt admin " + command->get_name() + ": ";
      StatusOr<std::unique_ptr<store::Store>> store = OpenStore(DataDir(args_));
      if (!store.ok()) {
        err << prefix << store.status().message() << "\n";
        return 1;
      }
      StatusOr<Json> result = handler(**store, args_);
      if (!result.ok()) {
        err << prefix << result.status().message() << "\n";
        return 1;
      }
      // "replace": a stray non-UTF-8 byte in a name must not abort the output.
      out << result->dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
      return 0;
    }
    err << "basalt admin: no command given\n";
    return 1;
  }

 private:
  CLI::App* Add(const char* name, const char* help, Handler handler) {
    CLI::App* command = admin_->add_subcommand(name, help);
    command->add_option("--data-dir", args_.data_dir,
                        "State folder (default $BASALT_DATA_DIR or ~/.basalt)");
    commands_.emplace_back(command, handler);
    return command;
  }
  void AccountOption(CLI::App* command) {
    command->add_option("--account", args_.account, "Account id (12 digits)")->required();
  }
  void UserOption(CLI::App* command) {
    command->add_option("--user", args_.user, "User id (AIDA...)")->required();
  }
  void Positional(CLI::App* command, const char* name, std::string* target, const char* help) {
    command->add_option(name, *target, help)->required();
  }

  void Register(CLI::App* app) {
    admin_ = app->add_subcommand("admin", "Administer accounts, users, policies, keys and "
                                          "model access (prints JSON)");
    admin_->require_subcommand(1);
    CLI::App* c;

    c = Add("create-account", "Create an account", CreateAccount);
    Positional(c, "name", &args_.name, "Account name");
    Add("list-accounts", "List accounts", ListAccounts);

    c = Add("create-user", "Create a user in an account", CreateUser);
    AccountOption(c);
    Positional(c, "name", &args_.name, "User name");
    c->add_option("--role", args_.role, "admin or user")
        ->check(CLI::IsMember({"admin", "user"}))
        ->capture_default_str();
    c->add_option("--policy", args_.policies,
                  "Policy to attach (repeatable; default AmazonBedrockFullAccess, or "
                  "BasaltAdministrator for --role admin)")
        ->allow_extra_args(false);
    c = Add("list-users", "List an account's users", ListUsers);
    AccountOption(c);

    c = Add("attach-policy", "Attach a built-in or custom policy to a user", AttachPolicy);
    UserOption(c);
    Positional(c, "name", &args_.name, "Policy name");
    c = Add("detach-policy", "Detach a policy from a user", DetachPolicy);
    UserOption(c);
    Positional(c, "name", &args_.name, "Policy name");
    c = Add("list-user-policies", "List the policies attached to a user", ListUserPolicies);
    UserOption(c);
    c = Add("put-policy", "Create or replace a custom policy from an IAM JSON document",
            PutPolicy);
    AccountOption(c);
    Positional(c, "name", &args_.name, "Policy name");
    Positional(c, "file", &args_.file, "Policy document (IAM JSON)");
    c = Add("list-policies", "List built-in and the account's custom policies", ListPolicies);
    AccountOption(c);

    c = Add("create-access-key", "Create an access key (the secret is printed only now)",
            CreateAccessKey);
    UserOption(c);
    c = Add("list-access-keys", "List a user's access keys (no secrets)", ListAccessKeys);
    UserOption(c);
    c = Add("deactivate-access-key", "Deactivate an access key", DeactivateAccessKey);
    Positional(c, "id", &args_.id, "Access key id");
    c = Add("activate-access-key", "Activate an access key", ActivateAccessKey);
    Positional(c, "id", &args_.id, "Access key id");
    c = Add("delete-access-key", "Delete an access key", DeleteAccessKey);
    Positional(c, "id", &args_.id, "Access key id");

    c = Add("create-api-key", "Create a long-term Bedrock API key (printed only now)",
            CreateApiKey);
    UserOption(c);
    c->add_option("--expires-in", args_.expires_in, "Lifetime in seconds (0 = never expires)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    c = Add("create-short-term-api-key",
            "Make a short-term Bedrock API key signed with an access key's secret",
            CreateShortTermApiKey);
    c->add_option("--access-key", args_.access_key, "Access key id (AKIA...)")->required();
    c->add_option("--region", args_.region, "Region the token is valid for")
        ->capture_default_str();
    c->add_option("--expires-in", args_.short_term_expires_in, "Lifetime in seconds")
        ->check(CLI::Range(1, kMaxShortTermSeconds))
        ->capture_default_str();
    c = Add("list-api-keys", "List a user's long-term API keys (no tokens)", ListApiKeys);
    UserOption(c);
    c = Add("deactivate-api-key", "Deactivate a long-term API key", DeactivateApiKey);
    Positional(c, "id", &args_.id, "API key id");
    c = Add("activate-api-key", "Activate a long-term API key", ActivateApiKey);
    Positional(c, "id", &args_.id, "API key id");
    c = Add("delete-api-key", "Delete a long-term API key", DeleteApiKey);
    Positional(c, "id", &args_.id, "API key id");

    c = Add("grant-model-access", "Grant an account access to a model", GrantModelAccess);
    AccountOption(c);
    Positional(c, "model", &args_.model, "Model id");
    c = Add("deny-model-access", "Deny an account access to a model", DenyModelAccess);
    AccountOption(c);
    Positional(c, "model", &args_.model, "Model id");
    c = Add("request-model-access", "Record a pending access request", RequestModelAccess);
    AccountOption(c);
    Positional(c, "model", &args_.model, "Model id");
    c = Add("list-model-access", "List an account's model access", ListModelAccess);
    AccountOption(c);
  }

  Args args_;
  CLI::App* admin_ = nullptr;
  std::vector<std::pair<CLI::App*, Handler>> commands_;
};

std::unique_ptr<AdminCli>& GlobalCli() {
  static std::unique_ptr<AdminCli> cli;
  return cli;
}

}  // namespace

void AddAdminCommands(CLI::App* app) { GlobalCli() = std::make_unique<AdminCli>(app); }

int RunAdminIfParsed() {
  if (!GlobalCli()) return -1;
  return GlobalCli()->RunIfParsed(std::cout, std::cerr);
}

namespace internal {

int RunAdminArgs(const std::vector<std::string>& args, std::string* out, std::string* err) {
  CLI::App app{"basalt"};
  app.require_subcommand(1);
  AdminCli cli(&app);
  std::vector<const char*> argv{"basalt"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out_stream, err_stream;
  int rc;
  // CLI11 reports usage errors by exception; they stop here, as CLI11_PARSE does in main.
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
    rc = cli.RunIfParsed(out_stream, err_stream);
  } catch (const CLI::ParseError& e) {
    rc = app.exit(e, out_stream, err_stream);
  }
  if (out != nullptr) *out = out_stream.str();
  if (err != nullptr) *err = err_stream.str();
  return rc;
}

}  // namespace internal
}  // namespace basalt::server
