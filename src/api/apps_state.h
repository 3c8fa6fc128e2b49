// Private to the api folder: the apps' in-memory state, shared by apps_api.cc (definitions,
// sharing, sample seeding) and app_runs.cc (runs in flight), which adds its members here.
#pragma once

#include <mutex>
#include <string>

#include "api/api.h"
#include "apps/runner.h"

namespace basalt::api {

struct BedrockApi::AppsState {
  std::mutex mu;
  // The account and user that own the sample apps ("" when samples are not seeded).
  std::string samples_account_id;
  std::string samples_user_id;
  // Runs in flight (app_runs.cc): waves, stop, supersede; threads start on first use.
  apps::Runner runner;
};

}  // namespace basalt::api
