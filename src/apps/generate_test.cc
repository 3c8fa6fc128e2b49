#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <random>

#include "apps/definition.h"
#include "engine/engine.h"
#include "engine/engine_test_util.h"
#include "grammar/json_schema.h"

namespace basalt::apps {
namespace {

GenerateRequest Request(std::string description = "An app that plans a trip") {
  GenerateRequest r;
  r.description = std::move(description);
  r.seed = 7;
  r.text_models = {"text-default", "text-other"};
  r.image_models = {"image-default"};
  r.language = "en";
  return r;
}

// A model that answers `replies` in turn (the last one again when they run out).
struct Scripted {
  std::vector<std::string> replies;
  std::vector<ModelCall> calls;
  StatusOr<std::string> operator()(const ModelCall& call) {
    calls.push_back(call);
    return replies[std::min(calls.size(), replies.size()) - 1];
  }
};

StatusOr<AppDefinition> GenerateWith(Scripted& model, const GenerateRequest& request = Request()) {
  auto result = Generate(request, [&](const ModelCall& c) { return model(c); });
  if (result.ok()) {
    Status valid = Validate(*result);
    EXPECT_TRUE(valid.ok()) << valid.message() << "\n" << ToJson(*result).dump(1);
  }
  return result;
}

const Widget& ByTitle(const AppDefinition& def, const std::string& title) {
  for (const Widget& w : def.widgets) {
    if (w.title == title) return w;
  }
  ADD_FAILURE() << "no widget " << title << " in " << ToJson(def).dump();
  return def.widgets.front();
}

TEST(Generate, CompletesAGoodAnswer) {
  Scripted model{{R"({"name": "Trip planner", "summary": "Plans trips.", "widgets": [
      {"kind": "user-input", "name": "City", "text": "Where to?"},
      {"kind": "static-text", "name": "About", "text": "**Hi**"},
      {"kind": "text-generation", "name": "Plan", "text": "Plan a day in @City."},
      {"kind": "image-generation", "name": "Postcard", "text": "A postcard of @City"},
      {"kind": "chatbot", "name": "Guide", "text": "You guide visitors of @city using @Plan."}]})"}};
  auto def = GenerateWith(model);
  ASSERT_TRUE(def.ok()) << def.status().message();
  ASSERT_EQ(model.calls.size(), 1u);
  const ModelCall& call = model.calls[0];
  EXPECT_NE(call.system.find("@Topic"), std::string::npos);  // the instructions file
  EXPECT_NE(call.user.find("An app that plans a trip"), std::string::npos);
  EXPECT_NE(call.user.find("Image widgets: available"), std::string::npos);
  EXPECT_EQ(call.json_schema, GenerationSchema());
  EXPECT_EQ(call.seed, 7);
  EXPECT_EQ(def->title, "Trip planner");
  EXPECT_EQ(def->description, "Plans trips.");
  ASSERT_EQ(def->widgets.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(def->widgets[i].id, "w" + std::to_string(i + 1));
  EXPECT_EQ(def->widgets[0].placeholder, "Where to?");
  EXPECT_EQ(def->widgets[1].content, "**Hi**");
  EXPECT_EQ(def->widgets[2].prompt, "Plan a day in @City.");
  EXPECT_EQ(def->widgets[2].model, "text-default");
  EXPECT_EQ(def->widgets[3].model, "image-default");
  EXPECT_EQ(def->widgets[4].prompt, "You guide visitors of @city using @Plan.");
  EXPECT_EQ(RunWaves(*def), (std::vector<std::vector<std::string>>{{"w3", "w4"}, {"w5"}}));
  // Inputs side by side, then full-width text.
  EXPECT_EQ(def->widgets[0].layout.w + def->widgets[0].layout.x, 6);
  EXPECT_EQ(def->widgets[2].layout.w, 12);
}

TEST(Generate, RepairsTitles) {
  Scripted model{{R"({"name": "", "summary": "", "widgets": [
      {"kind": "user-input", "name": "Topic", "text": ""},
      {"kind": "user-input", "name": "TOPIC", "text": ""},
      {"kind": "user-input", "name": "  @Line\nbreak  ", "text": ""},
      {"kind": "text-generation", "name": " ", "text": "About @Topic and @TOPIC 2"},
      {"kind": "text-generation", "name": "", "text": "Also @Topic"}]})"}};
  auto def = GenerateWith(model, Request("Essay helper\nwith more lines"));
  ASSERT_TRUE(def.ok()) << def.status().message();
  EXPECT_EQ(def->title, "Essay helper with more lines");  // from the description
  EXPECT_EQ(def->description, "Essay helper\nwith more lines");
  EXPECT_EQ(def->widgets[0].title, "Topic");
  EXPECT_EQ(def->widgets[1].title, "TOPIC 2");
  EXPECT_EQ(def->widgets[2].title, "Line break");
  EXPECT_EQ(def->widgets[3].title, "Result");
  EXPECT_EQ(def->widgets[4].title, "Result 2");
  EXPECT_EQ(Dependencies(*def)["w4"], (std::set<std::string>{"w1", "w2"}));
}

TEST(Generate, RepairsReferences) {
  Scripted model{{R"({"name": "App", "summary": "s", "widgets": [
      {"kind": "user-input", "name": "Topic", "text": ""},
      {"kind": "text-generation", "name": "Alpha", "text": "Use @Beta and @Topic"},
      {"kind": "text-generation", "name": "Beta", "text": "Use @Alpha"},
      {"kind": "text-generation", "name": "Self", "text": "Me @Self and @Nowhere and @Picture"},
      {"kind": "image-generation", "name": "Picture", "text": "@Guide draws"},
      {"kind": "chatbot", "name": "Guide", "text": "no references at all"}]})"}};
  auto def = GenerateWith(model);
  ASSERT_TRUE(def.ok()) << def.status().message();
  // The cycle Alpha -> Beta -> Alpha is cut at Alpha's reference to Beta.
  EXPECT_EQ(ByTitle(*def, "Alpha").prompt, "Use Beta and @Topic");
  EXPECT_EQ(ByTitle(*def, "Beta").prompt, "Use @Alpha");
  // Self, missing and unreferenceable references become text; then the input is wired in.
  EXPECT_EQ(ByTitle(*def, "Self").prompt, "Me Self and Nowhere and Picture\n@Topic");
  EXPECT_EQ(ByTitle(*def, "Picture").prompt, "Guide draws\n@Topic");
  EXPECT_EQ(ByTitle(*def, "Guide").prompt, "no references at all\n@Topic");
}

TEST(Generate, ModelsFromTheAllowedLists) {
  Scripted model{{R"({"name": "App", "summary": "s", "widgets": [
      {"kind": "user-input", "name": "Topic", "text": ""},
      {"kind": "text-generation", "name": "A", "text": "@Topic", "model": "text-other"},
      {"kind": "text-generation", "name": "B", "text": "@Topic", "model": "gpt-unknown"},
      {"kind": "image-generation", "name": "C", "text": "@Topic", "model": "text-other"}]})"}};
  auto def = GenerateWith(model);
  ASSERT_TRUE(def.ok()) << def.status().message();
  EXPECT_EQ(def->widgets[1].model, "text-other");
  EXPECT_EQ(def->widgets[2].model, "text-default");
  EXPECT_EQ(def->widgets[3].model, "image-default");
  // Without image models there are no image widgets.
  GenerateRequest no_images = Request();
  no_images.image_models.clear();
  def = GenerateWith(model, no_images);
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(def->widgets.size(), 3u);
  EXPECT_NE(model.calls.back().user.find("Image widgets: not available"), std::string::npos);
}

TEST(Generate, AnAppWithNothingToRunGetsAnInputAndAResult) {
  Scripted model{{R"({"name": "앱", "summary": "", "widgets": [
      {"kind": "video", "name": "x", "text": ""}, {"kind": "static-text", "name": "", "text": "안녕"}]})"}};
  GenerateRequest request = Request("회의록을 요약하는 앱");
  request.language = "ko";
  auto def = GenerateWith(model, request);
  ASSERT_TRUE(def.ok()) << def.status().message();
  ASSERT_EQ(def->widgets.size(), 3u);
  EXPECT_EQ(def->widgets[0].title, "안내");
  EXPECT_EQ(def->widgets[1].title, "입력");
  EXPECT_EQ(def->widgets[2].title, "결과");
  EXPECT_EQ(def->widgets[2].prompt, "회의록을 요약하는 앱\n@입력");
  EXPECT_NE(model.calls[0].user.find("Korean"), std::string::npos);
}

TEST(Generate, TooManyWidgetsAreCut) {
  Json reply = {{"name", "Big"}, {"summary", ""}, {"widgets", Json::array()}};
  for (int i = 0; i < 30; ++i) {
    reply["widgets"].push_back({{"kind", "user-input"}, {"name", "In"}, {"text", ""}});
  }
  Scripted model{{reply.dump()}};
  auto def = GenerateWith(model);
  ASSERT_TRUE(def.ok()) << def.status().message();
  EXPECT_LE(def->widgets.size(), 10u);
}

TEST(Generate, RetriesACutOffAnswerWithTheNextSeed) {
  const std::string cut = R"({"name": "Trip", "summary": "Pl)";
  const std::string good =
      R"({"name": "Trip", "summary": "", "widgets": [{"kind": "text-generation", "name": "A", "text": "x"}]})";
  Scripted model{{cut, "not json", good}};
  auto def = GenerateWith(model);
  ASSERT_TRUE(def.ok()) << def.status().message();
  ASSERT_EQ(model.calls.size(), 3u);
  EXPECT_EQ(model.calls[1].seed, 8);
  EXPECT_EQ(model.calls[2].seed, 9);

  Scripted never{{cut}};
  auto failed = GenerateWith(never);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(failed.status().message().find("did not finish an app definition in 4 tries"),
            std::string::npos);
  EXPECT_EQ(never.calls.size(), 4u);
}

TEST(Generate, ModelErrorsAndBadRequests) {
  int calls = 0;
  auto throttled = [&](const ModelCall&) -> StatusOr<std::string> {
    ++calls;
    return Status::ResourceExhausted("Too many requests", "ThrottlingException");
  };
  auto r = Generate(Request(), throttled);
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(calls, 1);  // not retried
  EXPECT_EQ(Generate(Request(""), throttled).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Generate(Request(std::string(2001, 'x')), throttled).status().code(),
            StatusCode::kInvalidArgument);
  GenerateRequest no_text = Request();
  no_text.text_models.clear();
  EXPECT_EQ(Generate(no_text, throttled).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(calls, 1);
}

// Random answers built to hit the repairs (titles that are prefixes of each other, differ in
// case, start with '@' or are blank; references in every direction): every app validates.
TEST(Generate, RandomAnswersAlwaysRepairToAValidApp) {
  std::mt19937 rng(42);
  const std::vector<std::string> kinds = {kUserInput,       kDocument, kStaticText, kTextGeneration,
                                          kImageGeneration, kChatbot,  "bogus"};
  const std::vector<std::string> words = {"A",  "a",    "Ab",   "AB c",  "@A",    " ",       "",
                                          "가", "가나", "x\ny", "Topic", "topic", "Topic 2", "@"};
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  for (int round = 0; round < 500; ++round) {
    Json reply = {{"name", pick(words)}, {"summary", pick(words)}, {"widgets", Json::array()}};
    const int n = static_cast<int>(rng() % 9);
    for (int i = 0; i < n; ++i) {
      std::string text;
      for (int k = static_cast<int>(rng() % 5); k > 0; --k) {
        text += (rng() % 2 ? "@" : " @") + pick(words) + (rng() % 2 ? "" : "s ");
      }
      reply["widgets"].push_back({{"kind", pick(kinds)}, {"name", pick(words)}, {"text", text}});
    }
    Scripted model{{reply.dump()}};
    SCOPED_TRACE(reply.dump());
    auto def = GenerateWith(model, Request("random app"));
    ASSERT_TRUE(def.ok()) << def.status().message();
  }
}

TEST(Generate, SchemaCompilesToAGrammar) {
  auto schema = grammar::ParseJsonSchema(GenerationSchema().dump());
  ASSERT_TRUE(schema.ok()) << schema.status().message();
  auto gbnf = grammar::CompileJsonSchema(*schema);
  ASSERT_TRUE(gbnf.ok()) << gbnf.status().message();
}

// The real thing: stories260K writes the app under the grammar compiled from GenerationSchema;
// every result validates.
TEST(Generate, StoriesModelUnderTheGrammarAlwaysValidates) {
  const std::string path = engine::test::StoriesPath();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no model at " << path;
  auto engine = engine::test::OpenEngine({engine::test::StoriesConfig(4)});
  ASSERT_NE(engine, nullptr);
  auto schema = grammar::ParseJsonSchema(GenerationSchema().dump());
  ASSERT_TRUE(schema.ok());
  auto gbnf = grammar::CompileJsonSchema(*schema);
  ASSERT_TRUE(gbnf.ok()) << gbnf.status().message();
  int calls = 0, cut = 0;
  auto call_model = [&](const ModelCall& call) -> StatusOr<std::string> {
    engine::GenerateRequest request;
    request.model = "stories";
    // The instructions and the request, as a Converse call sends them.
    request.prompt = call.system + "\n\n" + call.user;
    request.grammar = *gbnf;
    request.sampling.temperature = 1.0f;
    request.sampling.seed = static_cast<uint32_t>(call.seed);
    request.sampling.max_tokens = call.max_tokens;
    const auto start = engine::test::Clock::now();
    auto sink = engine::test::RunJob(*engine, request);
    if (!sink->status_.ok()) return sink->status_;
    ++calls;
    if (sink->reason_ != engine::FinishReason::kEndOfGeneration) ++cut;
    if (std::getenv("BASALT_APPS_DEBUG") != nullptr) {
      std::printf("seed %lld: %d tokens, %d prompt, reason %d, %.1f s\n%s\n",
                  static_cast<long long>(call.seed), sink->usage_.completion_tokens,
                  sink->usage_.prompt_tokens, static_cast<int>(sink->reason_),
                  std::chrono::duration<double>(sink->done_at_ - start).count(),
                  sink->text_.c_str());
    }
    return sink->text_;
  };
  const char* seeds_env = std::getenv("BASALT_APPS_GENERATE_SEEDS");
  const int64_t seeds = seeds_env != nullptr ? std::atoll(seeds_env) : 10;
  for (int64_t seed = 1; seed <= seeds; ++seed) {
    GenerateRequest r = Request(seed % 2 ? "A quiz maker for students" : "여행 계획을 짜 주는 앱");
    r.language = seed % 2 ? "en" : "ko";
    r.seed = seed * 100;
    auto def = Generate(r, call_model);
    ASSERT_TRUE(def.ok()) << "seed " << seed << ": " << def.status().message();
    Status valid = Validate(*def);
    EXPECT_TRUE(valid.ok()) << valid.message() << "\n" << ToJson(*def).dump(1);
    EXPECT_FALSE(def->widgets.empty());
    EXPECT_FALSE(RunWaves(*def).empty());
    // What the API stores and serves: the JSON passes the published schema too.
    auto published = grammar::ParseJsonSchema(SchemaText());
    ASSERT_TRUE(published.ok());
    EXPECT_TRUE(
        grammar::ValidateJson(*published, grammar::SchemaJson::parse(ToJson(*def).dump())).ok());
  }
  std::printf("stories260K: %lld apps from %d model calls (%d cut off and retried)\n",
              static_cast<long long>(seeds), calls, cut);
}

}  // namespace
}  // namespace basalt::apps
