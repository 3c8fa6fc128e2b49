// Fuzz target: the HTTP/1.1 side of http::Server. Each input is written, as is, to a fresh
// loopback connection (see http_harness.h).
#include "http_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* harness = new basalt::fuzz::HttpHarness();
  harness->Send({}, basalt::fuzz::AsView(data, size));
  return 0;
}
