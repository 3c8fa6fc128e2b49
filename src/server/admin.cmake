# `basalt admin ...`: the command line of the administration service (included from
# src/server/CMakeLists.txt).
basalt_library(basalt_admin_cli SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/admin.cc
  DEPS basalt_admin basalt_store basalt_iam CLI11::CLI11 nlohmann_json::nlohmann_json)
basalt_test(admin_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/admin_test.cc
  DEPS basalt_admin_cli basalt_auth LABELS unit)
