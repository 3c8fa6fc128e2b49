# Event-stream framing (included from src/api/CMakeLists.txt). Paths are relative to this file
# so the include works from any directory.
basalt_library(basalt_eventstream SOURCES ${CMAKE_CURRENT_LIST_DIR}/event_stream.cc
  DEPS basalt_common ZLIB::ZLIB)
basalt_test(event_stream_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/event_stream_test.cc
  DEPS basalt_eventstream nlohmann_json::nlohmann_json LABELS unit)
