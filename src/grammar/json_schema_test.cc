#include "grammar/json_schema.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/engine_test_util.h"
#include "grammar/pattern.h"

namespace basalt::grammar {
namespace {

SchemaJson S(const char* text) { return SchemaJson::parse(text); }

using engine::test::ModelsDir;

class Collect : public engine::Sink {
 public:
  void OnText(std::string_view text) override {
    std::lock_guard<std::mutex> lock(mu_);
    text_ += text;
  }
  void OnDone(const Status& status, engine::FinishReason reason, const std::string&,
              const engine::Usage&, const engine::Timing&) override {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = status;
    reason_ = reason;
    done_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
  }
  std::string text_;
  Status status_;
  engine::FinishReason reason_ = engine::FinishReason::kError;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

// Schemas that must compile, each generated under grammar and validated.
const char* kSchemas[] = {
    R"({"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":0,"maximum":120}},"required":["name","age"],"additionalProperties":false})",
    R"({"type":"object","properties":{"a":{"type":"boolean"},"b":{"type":"null"},"c":{"type":["integer","null"]}}})",
    R"({"type":"array","items":{"type":"string","enum":["red","green","blue"]},"minItems":1,"maxItems":4})",
    R"({"type":"array","prefixItems":[{"type":"integer"},{"const":"x"}],"items":false,"minItems":2})",
    R"({"type":"array","prefixItems":[{"type":"boolean"}],"items":{"type":"integer","minimum":-5,"maximum":5},"maxItems":3})",
    R"({"enum":[1,"two",null,{"k":[3]},[true]]})",
    R"({"anyOf":[{"type":"integer","minimum":10,"maximum":99},{"type":"string","maxLength":3}]})",
    R"({"oneOf":[{"type":"object","properties":{"kind":{"const":"a"}},"required":["kind"]},{"type":"object","properties":{"kind":{"const":"b"},"n":{"type":"integer"}},"required":["kind","n"]}]})",
    R"({"allOf":[{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]},{"$ref":"#/$defs/y"}],"$defs":{"y":{"type":"object","properties":{"y":{"type":"string","maxLength":4}},"required":["y"]}}})",
    R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer","minimum":0,"maximum":9},"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["v","next"]}},"$ref":"#/$defs/node"})",
    R"({"definitions":{"p":{"type":"string","format":"date"}},"type":"object","properties":{"d":{"$ref":"#/definitions/p"},"t":{"type":"string","format":"time"},"dt":{"type":"string","format":"date-time"},"u":{"type":"string","format":"uuid"},"e":{"type":"string","format":"email"},"ip":{"type":"string","format":"ipv4"}},"required":["d","t","dt","u","e","ip"]})",
    R"({"type":"string","pattern":"^[A-Z]{2}-\\d{3,4}(x|yz)?$"})",
    R"({"type":"string","pattern":"^(?:[a-c]+\\.)?[^\"\\\\]{1,3}\\\\\"$"})",
    R"({"type":"string","minLength":3,"maxLength":5})",
    R"({"type":"integer","exclusiveMinimum":-1000,"exclusiveMaximum":-990})",
    R"({"type":"integer","minimum":95,"maximum":1234})",
    R"({"type":"integer","minimum":7})",
    R"({"type":"integer","maximum":-3})",
    R"({"type":"number","nullable":true})",
    R"({"type":"object","additionalProperties":{"type":"integer","minimum":0,"maximum":3},"description":"a map"})",
    R"({"type":"object","properties":{"o1":{"type":"integer"},"o2":{"type":"boolean"},"r":{"type":"integer"},"o3":{"type":"string","maxLength":2}},"required":["r"]})",
    R"({"type":"object","properties":{"o1":{"type":"boolean"},"o2":{"type":"boolean"}}})",
    R"(true)",
    R"({"type":"array","items":{"type":"array","items":{"type":"integer","minimum":0,"maximum":1},"minItems":2,"maxItems":2},"minItems":2,"maxItems":3})",
};

class GrammarTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string path = ModelsDir() + "/stories260K.gguf";
    if (!std::filesystem::exists(path)) return;
    engine::EngineOptions options;
    engine::ModelConfig config;
    config.name = "stories";
    config.path = path;
    config.parallel = 4;
    config.threads = 2;
    options.models.push_back(config);
    auto engine = engine::Engine::Open(options);
    if (engine.ok()) engine_ = std::move(*engine).release();
  }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }

  // Generates under `grammar`; returns the job's sink.
  std::shared_ptr<Collect> Generate(const std::string& grammar, uint32_t seed, int max_tokens) {
    engine::GenerateRequest request;
    request.model = "stories";
    request.prompt = "Once upon a time";
    request.grammar = grammar;
    request.sampling.temperature = 1.0f;
    request.sampling.seed = seed;
    request.sampling.max_tokens = max_tokens;
    auto sink = std::make_shared<Collect>();
    auto id = engine_->Submit(request, sink);
    EXPECT_TRUE(id.ok()) << id.status().ToString() << "\n" << grammar;
    if (!id.ok()) return nullptr;
    sink->Wait();
    return sink;
  }

  static engine::Engine* engine_;
};
engine::Engine* GrammarTest::engine_ = nullptr;

TEST_F(GrammarTest, GeneratedAnswersValidateOverSeeds) {
  ASSERT_NE(engine_, nullptr) << "stories260K.gguf missing under " << ModelsDir();
  for (const char* text : kSchemas) {
    SCOPED_TRACE(text);
    SchemaJson schema = S(text);
    auto grammar = CompileJsonSchema(schema);
    ASSERT_TRUE(grammar.ok()) << grammar.status().ToString();
    int complete = 0;
    for (uint32_t seed = 1; seed <= 5; ++seed) {
      auto sink = Generate(*grammar, seed, 400);
      ASSERT_NE(sink, nullptr);
      ASSERT_TRUE(sink->status_.ok()) << sink->status_.ToString();
      if (sink->reason_ != engine::FinishReason::kEndOfGeneration) continue;
      ++complete;
      SchemaJson value = SchemaJson::parse(sink->text_, nullptr, false);
      ASSERT_FALSE(value.is_discarded()) << sink->text_;
      Status valid = ValidateJson(schema, value);
      EXPECT_TRUE(valid.ok()) << valid.ToString() << "\n" << sink->text_;
    }
    EXPECT_GT(complete, 0) << "no generation finished within the budget";
  }
}

TEST(JsonSchemaCompile, RefusesWhatTheGrammarCannotEnforce) {
  struct Case {
    const char* schema;
    const char* message;
  };
  const Case cases[] = {
      {R"({"not":{"type":"string"}})", "keyword 'not' at '#'"},
      {R"({"type":"object","properties":{"a":{"type":"string","format":"hostname"}}})",
       "'format' at '#/properties/a'"},
      {R"({"type":"array","items":{"type":"number","minimum":1}})", "'minimum' at '#/items'"},
      {R"({"type":"array","uniqueItems":true})", "'uniqueItems' at '#'"},
      {R"({"type":"string","pattern":"(a)\\1"})", "the escape \\1"},
      {R"({"type":"string","pattern":"(?=a)b"})", "lookaround"},
      {R"({"$ref":"https://example.com/s.json"})", "'$ref' at '#/$ref'"},
      {R"({"$ref":"#/$defs/missing"})", "does not resolve"},
      {R"({"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})", "refers to itself"},
      {R"({"type":"object","properties":{},"required":["x"]})", "'required' at '#'"},
      {R"({"type":"string","minLength":100000})", "'minLength' at '#'"},
      {R"({"type":"objekt"})", "unknown type 'objekt'"},
      {R"({"enum":[1,2],"type":"string"})", "'enum' at '#' allows no value"},
      {R"(false)", "keyword 'false' at '#'"},
      {R"({"type":"object","minProperties":1})", "'minProperties' at '#'"},
      {R"({"type":"integer","minimum":5,"maximum":4})", "no integer fits"},
      {R"({"type":"string","anyOf":[{"maxLength":2}]})", "'type' at '#' next to anyOf"},
  };
  for (const auto& c : cases) {
    auto grammar = CompileJsonSchema(S(c.schema));
    ASSERT_FALSE(grammar.ok()) << c.schema;
    EXPECT_EQ(grammar.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(grammar.status().message().find(c.message), std::string::npos)
        << c.schema << " -> " << grammar.status().message();
  }
}

TEST(JsonSchemaCompile, BoundsAbuse) {
  // Deep nesting.
  std::string deep = R"({"type":"string"})";
  for (int i = 0; i < 40; ++i) deep = R"({"type":"array","items":)" + deep + "}";
  auto deep_grammar = CompileJsonSchema(S(deep.c_str()));
  ASSERT_FALSE(deep_grammar.ok());
  EXPECT_NE(deep_grammar.status().message().find("deeper"), std::string::npos);
  // Many rules.
  SchemaJson wide = {{"type", "object"}, {"properties", SchemaJson::object()}};
  for (int i = 0; i < 5000; ++i) wide["properties"]["p" + std::to_string(i)] = {{"type", "object"}};
  auto wide_grammar = CompileJsonSchema(wide);
  ASSERT_FALSE(wide_grammar.ok());
  EXPECT_NE(wide_grammar.status().message().find("too large"), std::string::npos);
  // Big text and bad text.
  EXPECT_FALSE(ParseJsonSchema(std::string(70000, ' ') + "{}").ok());
  EXPECT_FALSE(ParseJsonSchema("{\"type\":").ok());
  EXPECT_FALSE(ParseJsonSchema("[1]").ok());
  EXPECT_FALSE(ParseJsonSchema(std::string(100, '[') + std::string(100, ']')).ok());
  EXPECT_TRUE(ParseJsonSchema(R"({"type":"object"})").ok());
  // A maxLength above the cap is generated at the cap.
  auto capped = CompileJsonSchema(S(R"({"type":"string","maxLength":100000})"));
  ASSERT_TRUE(capped.ok());
  EXPECT_NE(capped->find("js-char{0,500}"), std::string::npos) << *capped;
}

TEST(JsonSchemaCompile, PropertiesInSchemaOrder) {
  auto g = CompileJsonSchema(S(
      R"({"type":"object","properties":{"zeta":{"type":"integer"},"alpha":{"type":"integer"}},"required":["zeta","alpha"]})"));
  ASSERT_TRUE(g.ok());
  EXPECT_LT(g->find("zeta"), g->find("alpha")) << *g;
}

TEST(JsonSchemaValidate, AcceptsAndRejects) {
  SchemaJson schema = S(R"({
    "type":"object",
    "properties":{
      "id":{"type":"string","format":"uuid"},
      "n":{"type":"integer","minimum":1,"maximum":3},
      "x":{"type":"number","exclusiveMaximum":1.5,"multipleOf":0.5},
      "tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":2,"uniqueItems":true},
      "when":{"type":"string","format":"date-time"},
      "code":{"type":"string","pattern":"^[A-Z]{2}$"},
      "child":{"$ref":"#"}
    },
    "required":["n"],
    "additionalProperties":false})");
  EXPECT_TRUE(ValidateJson(schema, S(R"({"n":2})")).ok());
  EXPECT_TRUE(
      ValidateJson(
          schema,
          S(R"({"n":1,"id":"123e4567-e89b-12d3-a456-426614174000","x":1.0,"tags":["a","b"],"when":"2024-02-29T23:59:59.5+09:00","code":"AB","child":{"n":3}})"))
          .ok());
  struct Bad {
    const char* value;
    const char* message;
  };
  const Bad bad[] = {
      {R"({})", "required property 'n'"},
      {R"({"n":4})", "/n: 4 is above maximum"},
      {R"({"n":2.5})", "/n: expected type"},
      {R"({"n":2,"extra":1})", "'extra' is not allowed"},
      {R"({"n":2,"x":1.5})", "exclusiveMaximum"},
      {R"({"n":2,"x":0.7})", "multipleOf"},
      {R"({"n":2,"tags":["a","a"]})", "not unique"},
      {R"({"n":2,"tags":["c"]})", "/tags/0"},
      {R"({"n":2,"id":"not-a-uuid"})", "valid uuid"},
      {R"({"n":2,"when":"2023-02-29T00:00:00Z"})", "valid date-time"},
      {R"({"n":2,"when":"0000-05-10T00:00:00Z"})", "valid date-time"},
      {R"({"n":2,"code":"abc"})", "pattern"},
      {R"({"n":2,"child":{"n":0}})", "/child/n"},
      {R"([1])", "expected type"},
  };
  for (const auto& b : bad) {
    Status st = ValidateJson(schema, S(b.value));
    ASSERT_FALSE(st.ok()) << b.value;
    EXPECT_NE(st.message().find(b.message), std::string::npos) << b.value << " -> " << st.message();
  }
  SchemaJson one_of = S(R"({"oneOf":[{"type":"integer"},{"type":"number"}]})");
  EXPECT_TRUE(ValidateJson(one_of, S("1.5")).ok());
  EXPECT_FALSE(ValidateJson(one_of, S("1")).ok());  // matches both
}

TEST(Pattern, TranslatesTheSubsetAndEscapesJson) {
  EXPECT_EQ(*internal::PatternToGbnf("^ab$", 10), "\"a\" \"b\"");
  EXPECT_EQ(*internal::PatternToGbnf("a\"", 10), "\"a\" \"\\\\\\\"\"");
  auto cls = internal::PatternToGbnf("[ -~]", 10);
  ASSERT_TRUE(cls.ok());
  EXPECT_EQ(*cls, "( [ -!#-\\[\\]-~] | \"\\\\\\\"\" | \"\\\\\\\\\" )");
  EXPECT_FALSE(internal::PatternToGbnf("a{2000}", 500).ok());
  EXPECT_FALSE(internal::PatternToGbnf("a**", 500).ok());
  EXPECT_FALSE(internal::PatternToGbnf("(ab", 500).ok());
  EXPECT_FALSE(internal::PatternToGbnf("a$b", 500).ok());
  EXPECT_FALSE(internal::PatternToGbnf("\\bword", 500).ok());
}

}  // namespace
}  // namespace basalt::grammar
