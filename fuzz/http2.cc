// Fuzz target: the HTTP/2 side of http::Server (h2c with prior knowledge). Each input is the
// frame sequence after the client preface, which the harness sends first on a fresh
// loopback connection (see http_harness.h).
#include "http_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* harness = new basalt::fuzz::HttpHarness();
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  harness->Send(kPreface, basalt::fuzz::AsView(data, size));
  return 0;
}
