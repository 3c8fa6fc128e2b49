// `basalt admin ...`: account, user, policy, key and model-access administration, run
// directly against the store in --data-dir (the server may be running: SQLite handles it).
// Every command prints JSON on stdout; secrets are printed only by the commands that create
// them, and only once.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace basalt::server {

// Adds the "admin" subcommand tree to `app`. After parsing, RunAdminIfParsed() runs the
// chosen command and returns its exit status, or -1 when no admin command was parsed.
void AddAdminCommands(CLI::App* app);
int RunAdminIfParsed();

}  // namespace basalt::server
