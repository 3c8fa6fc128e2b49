// SCAFFOLD: replaced by the apps store work.
#include "apps/app_store.h"

namespace basalt::apps {

StatusOr<std::unique_ptr<AppStore>> AppStore::OpenSqlite(const std::string&) {
  return Status::Unavailable("the apps store is not built yet");
}

}  // namespace basalt::apps
