// Private to the api folder: the console's per-server state (sessions, sign-in throttle,
// static files, members), shared by console_api.cc (password sign-in) and members_api.cc
// (OpenID Connect sign-in, member sign-up and sign-in), so that every console session starts
// the same way.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "api/api.h"
#include "api/json_body.h"
#include "console/password.h"
#include "console/session.h"
#include "console/static_files.h"
#include "console/throttle.h"

namespace basalt::api {

// Members' state (members_api.cc): OpenID Connect providers and pending logins.
struct MembersState;
struct MembersStateDeleter {
  void operator()(MembersState* state) const;
};
std::unique_ptr<MembersState, MembersStateDeleter> MakeMembersState(const ApiOptions& options);

struct BedrockApi::ConsoleState {
  ConsoleState(store::Store* store, const ApiOptions& options)
      : sessions(store, options.console.session_ttl, options.clock),
        throttle({.max_failures = options.console.signin_max_failures,
                  .lockout = options.console.signin_lockout}),
        files(options.console.static_dir),
        members(MakeMembersState(options)) {}

  // A real hash to verify against when the account or user does not exist, so a wrong
  // name takes as long as a wrong password. Made on first use (hashing takes ~50 ms).
  const std::string& DummyHash() {
    std::call_once(dummy_once, [this] {
      auto h = console::HashPassword("basalt-no-such-user-password");
      if (h.ok()) dummy_hash = *h;
    });
    return dummy_hash;
  }

  console::Sessions sessions;
  console::SigninThrottle throttle;
  console::StaticFiles files;
  std::once_flag dummy_once;
  std::string dummy_hash;
  std::unique_ptr<MembersState, MembersStateDeleter> members;
};

// A new console session: the Set-Cookie value and the Session reply (console_api.cc).
struct ConsoleSignedIn {
  std::string set_cookie;
  Json reply;
};
StatusOr<ConsoleSignedIn> StartConsoleSession(console::Sessions& sessions, store::Store& store,
                                              const catalog::Catalog& catalog,
                                              const ApiOptions& options,
                                              const http::Request& request,
                                              const store::User& user);

}  // namespace basalt::api
