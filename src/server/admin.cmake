# `basalt admin ...` (included from src/server/CMakeLists.txt).
basalt_library(basalt_admin SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/admin.cc
  DEPS basalt_store basalt_iam basalt_auth CLI11::CLI11 nlohmann_json::nlohmann_json)
basalt_test(admin_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/admin_test.cc
  DEPS basalt_admin LABELS unit)
