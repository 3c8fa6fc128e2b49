// Members (docs/apps.md): OpenID Connect sign-in and self-service sign-up.
// SCAFFOLD: replaced by the members work.
#include "api/api.h"
#include "api/call.h"

namespace basalt::api {

bool BedrockApi::Members(Call&) { return false; }

}  // namespace basalt::api
