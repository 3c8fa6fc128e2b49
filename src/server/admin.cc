#include "server/admin.h"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>
#include <vector>

#include "admin/admin.h"
#include "iam/iam.h"
#include "server/admin_internal.h"
#include "store/store.h"

namespace basalt::server {
namespace {

namespace fs = std::filesystem;
using admin::Json;

using admin::kMaxShortTermSeconds;

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
  bool password_stdin = false;
  bool generate = false;
  std::istream* in = nullptr;  // standard input (the password of set-password)
};

using Handler = StatusOr<Json> (*)(admin::Service& service, const Args& args);

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

const admin::Caller& Operator() {
  static const admin::Caller caller = admin::Caller::LocalOperator();
  return caller;
}

// --- accounts and users ---------------------------------------------------------------------

StatusOr<Json> CreateAccount(admin::Service& service, const Args& args) {
  return service.CreateAccount(Operator(), args.name);
}

StatusOr<Json> ListAccounts(admin::Service& service, const Args&) {
  return service.ListAccounts(Operator());
}

StatusOr<Json> CreateUser(admin::Service& service, const Args& args) {
  admin::CreateUserRequest request{args.account, args.name, args.role, std::nullopt};
  if (!args.policies.empty()) request.policies = args.policies;
  return service.CreateUser(Operator(), request);
}

StatusOr<Json> GetUser(admin::Service& service, const Args& args) {
  return service.GetUser(Operator(), args.user);
}

StatusOr<Json> ListUsers(admin::Service& service, const Args& args) {
  return service.ListUsers(Operator(), args.account);
}

// --- policies -------------------------------------------------------------------------------

StatusOr<Json> AttachPolicy(admin::Service& service, const Args& args) {
  return service.AttachUserPolicy(Operator(), args.user, args.name);
}

StatusOr<Json> DetachPolicy(admin::Service& service, const Args& args) {
  return service.DetachUserPolicy(Operator(), args.user, args.name);
}

StatusOr<Json> ListUserPolicies(admin::Service& service, const Args& args) {
  return service.ListAttachedUserPolicies(Operator(), args.user);
}

StatusOr<Json> PutPolicy(admin::Service& service, const Args& args) {
  std::ifstream in(args.file, std::ios::binary);
  if (!in.is_open()) return Status::InvalidArgument("cannot open policy file " + args.file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::InvalidArgument("cannot read policy file " + args.file);
  return service.PutPolicy(Operator(), args.account, args.name, text);
}

StatusOr<Json> ListPolicies(admin::Service& service, const Args& args) {
  return service.ListPolicies(Operator(), args.account);
}

// --- access keys ----------------------------------------------------------------------------

StatusOr<Json> CreateAccessKey(admin::Service& service, const Args& args) {
  return service.CreateAccessKey(Operator(), args.user);
}

StatusOr<Json> ListAccessKeys(admin::Service& service, const Args& args) {
  return service.ListAccessKeys(Operator(), args.user);
}

StatusOr<Json> DeactivateAccessKey(admin::Service& service, const Args& args) {
  return service.UpdateAccessKey(Operator(), args.id, "Inactive");
}

StatusOr<Json> ActivateAccessKey(admin::Service& service, const Args& args) {
  return service.UpdateAccessKey(Operator(), args.id, "Active");
}

StatusOr<Json> DeleteAccessKey(admin::Service& service, const Args& args) {
  return service.DeleteAccessKey(Operator(), args.id);
}

// --- API keys -------------------------------------------------------------------------------

StatusOr<Json> CreateApiKey(admin::Service& service, const Args& args) {
  admin::CreateApiKeyRequest request{args.user, std::nullopt};
  if (args.expires_in != 0) request.expires_in_seconds = args.expires_in;  // 0: never expires
  return service.CreateApiKey(Operator(), request);
}

StatusOr<Json> CreateShortTermApiKey(admin::Service& service, const Args& args) {
  return service.CreateShortTermApiKey(Operator(),
                                       {args.access_key, args.region, args.short_term_expires_in});
}

StatusOr<Json> ListApiKeys(admin::Service& service, const Args& args) {
  return service.ListApiKeys(Operator(), args.user);
}

StatusOr<Json> DeactivateApiKey(admin::Service& service, const Args& args) {
  return service.UpdateApiKey(Operator(), "", args.id, "Inactive");
}

StatusOr<Json> ActivateApiKey(admin::Service& service, const Args& args) {
  return service.UpdateApiKey(Operator(), "", args.id, "Active");
}

StatusOr<Json> DeleteApiKey(admin::Service& service, const Args& args) {
  return service.DeleteApiKey(Operator(), "", args.id);
}

// --- model access ---------------------------------------------------------------------------

StatusOr<Json> GrantModelAccess(admin::Service& service, const Args& args) {
  return service.SetModelAccess(Operator(), args.account, args.model,
                                iam::AccessStateName(iam::AccessState::kGranted));
}

StatusOr<Json> DenyModelAccess(admin::Service& service, const Args& args) {
  return service.SetModelAccess(Operator(), args.account, args.model,
                                iam::AccessStateName(iam::AccessState::kDenied));
}

StatusOr<Json> RequestModelAccess(admin::Service& service, const Args& args) {
  return service.SetModelAccess(Operator(), args.account, args.model,
                                iam::AccessStateName(iam::AccessState::kRequested));
}

StatusOr<Json> ListModelAccess(admin::Service& service, const Args& args) {
  return service.ListModelAccess(Operator(), args.account);
}

StatusOr<Json> ListModelAccessRequests(admin::Service& service, const Args&) {
  return service.ListModelAccessRequests(Operator());
}

// --- console passwords ----------------------------------------------------------------------

StatusOr<Json> SetPassword(admin::Service& service, const Args& args) {
  admin::SetUserPasswordRequest request{args.user, "", args.generate};
  if (!args.generate) {
    if (!args.password_stdin) {
      return Status::InvalidArgument("give --password-stdin or --generate");
    }
    // The first line of standard input; never a command-line argument (ps would show it).
    std::getline(*args.in, request.password);
    if (!request.password.empty() && request.password.back() == '\r') {
      request.password.pop_back();
    }
  }
  return service.SetUserPassword(Operator(), request);
}

StatusOr<Json> DeletePassword(admin::Service& service, const Args& args) {
  return service.DeleteUserPassword(Operator(), args.user);
}

// --- the command tree -----------------------------------------------------------------------

class AdminCli {
 public:
  explicit AdminCli(CLI::App* app) { Register(app); }
  AdminCli(const AdminCli&) = delete;  // options are bound to args_
  AdminCli& operator=(const AdminCli&) = delete;

  // Runs the parsed command; -1 when "admin" was not on the command line.
  int RunIfParsed(std::istream& in, std::ostream& out, std::ostream& err) {
    if (admin_ == nullptr || !admin_->parsed()) return -1;
    for (const auto& [command, handler] : commands_) {
      if (!command->parsed()) continue;
      const std::string prefix = "basalt admin " + command->get_name() + ": ";
      StatusOr<std::unique_ptr<store::Store>> store = OpenStore(DataDir(args_));
      if (!store.ok()) {
        err << prefix << store.status().message() << "\n";
        return 1;
      }
      admin::Service service(store->get());
      args_.in = &in;
      StatusOr<Json> result = handler(service, args_);
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
    admin_ = app->add_subcommand("admin",
                                 "Administer accounts, users, policies, keys and "
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
    c = Add("get-user", "Show a user", GetUser);
    UserOption(c);
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
    c = Add("put-policy", "Create or replace a custom policy from an IAM JSON document", PutPolicy);
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
    c->add_option("--region", args_.region, "Region the token is valid for")->capture_default_str();
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
    Add("list-model-access-requests", "List pending model access requests of every account",
        ListModelAccessRequests);

    c = Add("set-password", "Set a user's web console password", SetPassword);
    UserOption(c);
    CLI::Option* from_stdin = c->add_flag("--password-stdin", args_.password_stdin,
                                          "Read the password from the first line of stdin");
    c->add_flag("--generate", args_.generate, "Generate a password and print it (only now)")
        ->excludes(from_stdin);
    c = Add("delete-password", "Remove a user's web console password", DeletePassword);
    UserOption(c);
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
  return GlobalCli()->RunIfParsed(std::cin, std::cout, std::cerr);
}

namespace internal {

int RunAdminArgs(const std::vector<std::string>& args, std::string* out, std::string* err,
                 const std::string& in) {
  CLI::App app{"basalt"};
  app.require_subcommand(1);
  AdminCli cli(&app);
  std::vector<const char*> argv{"basalt"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  std::istringstream in_stream(in);
  std::ostringstream out_stream, err_stream;
  int rc;
  // CLI11 reports usage errors by exception; they stop here, as CLI11_PARSE does in main.
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
    rc = cli.RunIfParsed(in_stream, out_stream, err_stream);
  } catch (const CLI::ParseError& e) {
    rc = app.exit(e, out_stream, err_stream);
  }
  if (out != nullptr) *out = out_stream.str();
  if (err != nullptr) *err = err_stream.str();
  return rc;
}

}  // namespace internal
}  // namespace basalt::server
