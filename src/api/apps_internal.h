// Private to the api folder: what the apps routes (apps_api.cc, apps_generate.cc,
// apps_backstage.cc, app_runs.cc) share: the app and run JSON and the definition check.
#pragma once

#include <functional>
#include <string>

#include "api/api.h"
#include "api/call.h"
#include "apps/app_store.h"
#include "apps/definition.h"

namespace basalt::api {

// "YYYY-MM-DDTHH:MM:SSZ" of unix milliseconds.
std::string AppsIsoTime(int64_t unix_ms);

// The caller is the app's owner (same account and user).
bool AppOwnedBy(const apps::StoredApp& app, const BedrockApi::Call& call);

// The app as every route returns it (docs/apps.md). For anyone but the owner it carries no
// owner identifiers ("owner": null); a public app includes its shareToken and shareUrl.
Json AppJson(const apps::StoredApp& app, const BedrockApi::Call& call);

// A run as GET /apps/{id}/runs and Backstage list it.
Json AppRunJson(const apps::AppRun& run, const std::string& runner_name);

// FromJson and Validate (with `model_allowed`): kInvalidArgument with the validator's message.
StatusOr<apps::AppDefinition> CheckAppDefinition(
    const Json& definition,
    const std::function<Status(const std::string&, const std::string&)>& model_allowed);

}  // namespace basalt::api
