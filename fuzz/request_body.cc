// Fuzz target: request bodies. Byte 0 picks the parser, the rest is the body:
//   0-4  ParseInvokeBody for each InvokeModel family (anthropic-text, anthropic-messages,
//        titan-text, meta-llama, mistral)
//   5    ParseConverseBody
//   6    ParseJsonBody and the JsonReader accessors
// A parsed plan is then formatted with BuildGenerateRequest against a fake engine (chat
// formatting, tools, stop sequences), as the API does before generation.
//
// Bodies are capped at 64 KiB: deeper nesting than that is a known defect being fixed
// (recursion in nlohmann copy/dump on ~200,000 nested '[' in Converse); see the README.
#include <string>

#include "api/chat.h"
#include "api/converse.h"
#include "api/invoke_body.h"
#include "api/json_body.h"
#include "fake_engine.h"
#include "fuzz_util.h"

namespace basalt::fuzz {
namespace {

constexpr size_t kMaxBody = 64 * 1024;

void Plan(const api::PromptPlan& plan) {
  static FakeEngine* engine = new FakeEngine();
  auto request = api::BuildGenerateRequest(*engine, "fuzz-model", plan);
  (void)request;
}

void Reader(const api::Json& body) {
  if (!body.is_object()) return;
  api::JsonReader r(body, "#");
  (void)r.OnlyKeys({"prompt", "max_tokens", "messages", "system", "stop"});
  for (const char* key : {"prompt", "max_tokens", "messages", "system", "stop", "temperature"}) {
    (void)r.Has(key);
    (void)r.String(key);
    (void)r.Number(key, 0.0, 1.0);
    (void)r.Integer(key, 1, 4096, true);
    (void)r.Bool(key);
    (void)r.StringList(key, 4);
    (void)r.Object(key);
    (void)r.Array(key);
  }
  (void)api::JsonTypeName(body);
}

}  // namespace
}  // namespace basalt::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace basalt;
  using namespace basalt::fuzz;
  if (size == 0 || size - 1 > kMaxBody) return 0;
  std::string_view body = AsView(data + 1, size - 1);
  auto json = api::ParseJsonBody(body);
  if (!json.ok()) return 0;
  int mode = data[0] % 7;
  if (mode < 5) {
    auto plan = api::ParseInvokeBody(static_cast<catalog::RequestFamily>(mode), *json);
    if (plan.ok()) Plan(*plan);
  } else if (mode == 5) {
    auto plan = api::ParseConverseBody(*json, 4096);
    if (plan.ok()) Plan(*plan);
  } else {
    Reader(*json);
  }
  return 0;
}
