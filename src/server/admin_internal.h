// Private to src/server: runs `basalt admin ...` in-process, for admin_test.
#pragma once

#include <string>
#include <vector>

namespace basalt::server::internal {

// Parses `basalt <args...>` (args[0] is "admin") and runs the command with `in` as its
// standard input, writing what it would print to stdout and stderr into `out` and `err`.
// Returns the exit status (0 success, 1 a failed command, CLI11's code for a usage error).
int RunAdminArgs(const std::vector<std::string>& args, std::string* out, std::string* err,
                 const std::string& in = "");

}  // namespace basalt::server::internal
