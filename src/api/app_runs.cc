// App runs over HTTP (docs/apps.md): run an app (streamed or not), chat with a chatbot
// widget, stop a run. SCAFFOLD: replaced by the app runs work.
#include "api/api.h"
#include "api/call.h"

namespace basalt::api {

void BedrockApi::RunApp(Call& call, const apps::StoredApp&, bool) {
  SendError(call, Status::NotFound("App runs are not available yet."), options_.clock());
}
void BedrockApi::ChatApp(Call& call, const apps::StoredApp&, bool) {
  SendError(call, Status::NotFound("App runs are not available yet."), options_.clock());
}
void BedrockApi::StopAppRun(Call& call, const std::string&) {
  SendError(call, Status::NotFound("App runs are not available yet."), options_.clock());
}

}  // namespace basalt::api
