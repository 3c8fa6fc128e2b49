// Apps over HTTP (docs/apps.md): definitions, versions, sharing, remix, Discover, documents
// and Backstage. Runs and chat are in app_runs.cc.
// SCAFFOLD: replaced by the apps API work.
#include "api/api.h"
#include "api/call.h"

namespace basalt::api {

struct BedrockApi::AppsState {};

void BedrockApi::AppsStateDeleter::operator()(AppsState* state) const { delete state; }

void BedrockApi::InitApps() { apps_state_.reset(new AppsState()); }

void BedrockApi::Apps(Call& call, const std::vector<std::string>&) {
  SendError(call, Status::NotFound("Apps are not available yet."), options_.clock());
}

}  // namespace basalt::api
