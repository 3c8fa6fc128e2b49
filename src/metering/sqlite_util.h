// The usage database uses the SQLite statement wrapper of src/store.
#pragma once

#include "store/sqlite_util.h"

namespace basalt::metering::internal {

using store::sqlite::Exec;
using store::sqlite::Stmt;
using store::sqlite::StmtCache;

}  // namespace basalt::metering::internal
