// SCAFFOLD: replaced by the apps core work.
#include "apps/definition.h"

namespace basalt::apps {}  // namespace basalt::apps
