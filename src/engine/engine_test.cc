#include "engine/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine_test_util.h"
#include "engine/llm/chat_format.h"
#include "engine/llm/text_stream.h"

namespace basalt::engine {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace)

class StoriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(StoriesPath())) << StoriesPath();
    engine_ = OpenEngine({StoriesConfig()});
    ASSERT_NE(engine_, nullptr);
  }
  std::unique_ptr<Engine> engine_;
};

TEST_F(StoriesTest, GreedyContinuesTheStory) {
  auto sink = RunJob(*engine_, Greedy("Once upon a time", 48));
  EXPECT_TRUE(sink->status_.ok());
  EXPECT_NE(sink->text_.find("Lily"), std::string::npos) << sink->text_;
  EXPECT_NE(sink->text_.find("park"), std::string::npos) << sink->text_;
  EXPECT_EQ(sink->reason_, FinishReason::kLength);
  StatusOr<int> n_prompt = engine_->CountTokens("stories", "Once upon a time", true);
  ASSERT_TRUE(n_prompt.ok());
  EXPECT_EQ(sink->usage_.prompt_tokens, *n_prompt);
  EXPECT_EQ(sink->usage_.completion_tokens, 48);
  EXPECT_GE(sink->timing_.total_ms, sink->timing_.first_token_ms);
  EXPECT_EQ(engine_->Stats("stories").busy_slots, 0);
}

TEST_F(StoriesTest, StopSequenceIsNotEmitted) {
  GenerateRequest request = Greedy("Once upon a time", 48);
  request.sampling.stop = {"Lily"};
  auto sink = RunJob(*engine_, request);
  EXPECT_TRUE(sink->status_.ok());
  EXPECT_EQ(sink->reason_, FinishReason::kStopSequence);
  EXPECT_EQ(sink->stop_, "Lily");
  EXPECT_EQ(sink->text_.find("Lily"), std::string::npos) << sink->text_;
  // The text before the stop sequence is all there.
  EXPECT_NE(sink->text_.find("girl named "), std::string::npos) << sink->text_;
  auto full = RunJob(*engine_, Greedy("Once upon a time", 48));
  EXPECT_EQ(full->text_.substr(0, sink->text_.size() + 4), sink->text_ + "Lily");
}

TEST_F(StoriesTest, StopSequenceSpanningTokens) {
  GenerateRequest request = Greedy("Once upon a time", 48);
  request.sampling.stop = {"no match at all", "y. She lo"};
  auto sink = RunJob(*engine_, request);
  EXPECT_EQ(sink->reason_, FinishReason::kStopSequence);
  EXPECT_EQ(sink->stop_, "y. She lo");
  EXPECT_TRUE(sink->text_.ends_with("named Lil")) << sink->text_;
}

TEST_F(StoriesTest, MaxTokensGivesLength) {
  auto sink = RunJob(*engine_, Greedy("Once upon a time", 5));
  EXPECT_EQ(sink->reason_, FinishReason::kLength);
  EXPECT_EQ(sink->usage_.completion_tokens, 5);
}

TEST_F(StoriesTest, StatsCountTokensAndKvUse) {
  EngineStats before = engine_->Stats("stories");
  auto sink = RunJob(*engine_, Greedy("Once upon a time", 7));
  EngineStats after = engine_->Stats("stories");
  EXPECT_EQ(after.generated_tokens_total - before.generated_tokens_total, 7);
  EXPECT_GT(after.kv_cells_total, 0);
  // The finished job's prompt and output stay cached for prefix reuse (the gauge is updated
  // after each decode step, so it may trail the last token by one step).
  EXPECT_GE(after.kv_cells_used, sink->usage_.prompt_tokens + 5);
  EXPECT_LE(after.kv_cells_used, after.kv_cells_total);
}

TEST_F(StoriesTest, ConcurrentGreedyJobsAgree) {
  const std::string prompt = "One day, a little boy named Tim";
  auto reference = RunJob(*engine_, Greedy(prompt, 40));
  std::vector<std::shared_ptr<TestSink>> sinks;
  for (int i = 0; i < 8; ++i) {
    auto sink = std::make_shared<TestSink>();
    ASSERT_TRUE(engine_->Submit(Greedy(prompt, 40), sink).ok());
    sinks.push_back(sink);
  }
  for (auto& sink : sinks) {
    ASSERT_TRUE(sink->Wait());
    EXPECT_EQ(sink->invalid_pieces_, 0);
    EXPECT_EQ(sink->text_, reference->text_);
    EXPECT_EQ(sink->reason_, FinishReason::kLength);
    EXPECT_EQ(sink->usage_.prompt_tokens, reference->usage_.prompt_tokens);
    EXPECT_EQ(sink->usage_.completion_tokens, 40);
  }
  EngineStats stats = engine_->Stats("stories");
  EXPECT_EQ(stats.busy_slots, 0);
  EXPECT_EQ(stats.queued, 0);
  EXPECT_EQ(stats.total_slots, 4);
}

TEST_F(StoriesTest, DistinctConcurrentJobsMatchTheirSoloRuns) {
  const std::vector<std::string> prompts = {"Once upon a time", "The cat", "Tom and Sue went",
                                            "It was a sunny day"};
  std::vector<std::string> solo;
  for (const auto& p : prompts) solo.push_back(RunJob(*engine_, Greedy(p, 30))->text_);
  std::vector<std::shared_ptr<TestSink>> sinks;
  for (const auto& p : prompts) {
    auto sink = std::make_shared<TestSink>();
    GenerateRequest request = Greedy(p, 30);
    ASSERT_TRUE(engine_->Submit(request, sink).ok());
    sinks.push_back(sink);
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(sinks[i]->Wait());
    EXPECT_EQ(sinks[i]->text_, solo[i]) << prompts[i];
  }
}

TEST_F(StoriesTest, RepeatedRequestReusesPrefix) {
  const std::string prompt = "Once upon a time, there was a big dog";
  auto first = RunJob(*engine_, Greedy(prompt, 20));
  EXPECT_EQ(first->usage_.cached_prompt_tokens, 0);
  auto second = RunJob(*engine_, Greedy(prompt, 20));
  EXPECT_GT(second->usage_.cached_prompt_tokens, 0);
  EXPECT_EQ(second->usage_.cached_prompt_tokens, second->usage_.prompt_tokens - 1);
  EXPECT_EQ(second->text_, first->text_);
  // A longer prompt sharing the start reuses the shared part.
  auto third = RunJob(*engine_, Greedy(prompt + first->text_ + " The dog", 10));
  EXPECT_GE(third->usage_.cached_prompt_tokens, first->usage_.prompt_tokens);
}

TEST_F(StoriesTest, SeededSamplingIsReproducible) {
  auto make = [](uint32_t seed) {
    GenerateRequest request = Greedy("Once upon a time", 32);
    request.sampling.temperature = 1.0f;
    request.sampling.top_p = 0.95f;
    request.sampling.top_k = 40;
    request.sampling.seed = seed;
    return request;
  };
  auto a = RunJob(*engine_, make(42));
  auto b = RunJob(*engine_, make(42));
  EXPECT_EQ(a->text_, b->text_);
  EXPECT_FALSE(a->text_.empty());
  bool any_differs = false;
  for (uint32_t seed = 1; seed <= 4 && !any_differs; ++seed) {
    any_differs = RunJob(*engine_, make(seed))->text_ != a->text_;
  }
  EXPECT_TRUE(any_differs);
}

TEST_F(StoriesTest, GrammarConstrainsOutput) {
  GenerateRequest request = Greedy("Once upon a time", 20);
  request.grammar = R"(root ::= "yes" | "no")";
  auto sink = RunJob(*engine_, request);
  EXPECT_TRUE(sink->text_ == "yes" || sink->text_ == "no") << sink->text_;
  EXPECT_EQ(sink->reason_, FinishReason::kEndOfGeneration);

  request.grammar = "root ::= (";
  auto bad = std::make_shared<TestSink>();
  StatusOr<JobId> id = engine_->Submit(request, bad);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(StoriesTest, FormatChatJoinsContents) {
  StatusOr<std::string> text =
      engine_->FormatChat("stories", {{"system", "Be kind."}, {"user", "Once upon a time"}}, true);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "Be kind.\nOnce upon a time");
  StatusOr<ModelInfo> info = engine_->GetModelInfo("stories");
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->has_chat_template);
  EXPECT_EQ(info->architecture, "llama");
  EXPECT_EQ(info->train_context_length, 2048);
  EXPECT_EQ(info->context_length, 2048);
  EXPECT_GT(info->parameter_count, 200000);
}

TEST_F(StoriesTest, UnknownModelIsNotFound) {
  GenerateRequest request = Greedy("hi", 5);
  request.model = "nope";
  StatusOr<JobId> id = engine_->Submit(request, std::make_shared<TestSink>());
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(engine_->CountTokens("nope", "hi", true).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(engine_->FormatChat("nope", {}, true).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(engine_->GetModelInfo("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(engine_->Stats("nope").total_slots, 0);
  engine_->Cancel(12345);  // unknown ids are ignored
}

TEST(EngineTest, CancelFreesTheSlotQuickly) {
  ModelConfig config = StoriesConfig(/*parallel=*/1);
  config.threads = 1;  // no thread barriers: short steps even on a busy machine
  auto engine = OpenEngine({config});
  ASSERT_NE(engine, nullptr);
  auto sink = std::make_shared<TestSink>();
  StatusOr<JobId> id = engine->Submit(Greedy("Once upon a time", 1500), sink);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(sink->WaitForText());
  std::this_thread::sleep_for(20ms);
  ASSERT_FALSE(sink->done()) << "finished before it could be cancelled";
  const Clock::time_point cancelled_at = Clock::now();
  engine->Cancel(*id);
  ASSERT_TRUE(sink->Wait(2s));
  EXPECT_LT(sink->done_at_ - cancelled_at, 100ms);
  EXPECT_TRUE(sink->status_.ok());
  EXPECT_EQ(sink->reason_, FinishReason::kCancelled);
  EXPECT_GT(sink->usage_.completion_tokens, 0);
  EXPECT_LT(sink->usage_.completion_tokens, 1500);
  EXPECT_GT(sink->usage_.prompt_tokens, 0);
  engine->Cancel(*id);  // finished: ignored

  // The single slot serves the next job.
  auto next = RunJob(*engine, Greedy("Once upon a time", 8));
  EXPECT_EQ(next->reason_, FinishReason::kLength);
  EXPECT_EQ(next->usage_.completion_tokens, 8);
  EXPECT_EQ(engine->Stats("stories").busy_slots, 0);
}

TEST(EngineTest, QueueFullIsResourceExhausted) {
  ModelConfig config = StoriesConfig(/*parallel=*/1);
  config.max_queue = 1;
  config.threads = 1;
  auto engine = OpenEngine({config});
  ASSERT_NE(engine, nullptr);
  ASSERT_TRUE(engine->GetModelInfo("stories").ok());  // load before timing-sensitive part
  auto a = std::make_shared<TestSink>();
  auto b = std::make_shared<TestSink>();
  auto c = std::make_shared<TestSink>();
  StatusOr<JobId> id_a = engine->Submit(Greedy("Once upon a time", 1500), a);
  StatusOr<JobId> id_b = engine->Submit(Greedy("Once upon a time", 1500), b);
  StatusOr<JobId> id_c = engine->Submit(Greedy("Once upon a time", 1500), c);
  ASSERT_TRUE(id_a.ok());
  ASSERT_TRUE(id_b.ok());
  ASSERT_FALSE(id_c.ok());
  EXPECT_EQ(id_c.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(id_c.status().message(), "Too many requests, please wait before trying again.");
  EngineStats stats = engine->Stats("stories");
  EXPECT_EQ(stats.busy_slots + stats.queued, 2);

  engine->Cancel(*id_b);  // queued
  ASSERT_TRUE(b->Wait(2s));
  EXPECT_EQ(b->reason_, FinishReason::kCancelled);
  EXPECT_EQ(b->usage_.completion_tokens, 0);
  engine->Cancel(*id_a);  // running
  ASSERT_TRUE(a->Wait(2s));
  EXPECT_EQ(a->reason_, FinishReason::kCancelled);
}

TEST(EngineTest, PromptLongerThanContextIsRejected) {
  ModelConfig config = StoriesConfig(/*parallel=*/2);
  config.context_length = 128;  // 64 tokens per request
  auto engine = OpenEngine({config});
  ASSERT_NE(engine, nullptr);
  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += "Once upon a time ";
  StatusOr<JobId> id = engine->Submit(Greedy(long_prompt, 10), std::make_shared<TestSink>());
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(id.status().message(), "Input is too long for requested model.");
  EXPECT_EQ(engine->GetModelInfo("stories")->context_length, 64);

  // A prompt that fits generates until the per-request context is full.
  auto sink = RunJob(*engine, Greedy("Once upon a time", 500));
  EXPECT_EQ(sink->reason_, FinishReason::kLength);
  EXPECT_EQ(sink->usage_.prompt_tokens + sink->usage_.completion_tokens, 65);
}

TEST(EngineTest, OpenChecksFiles) {
  EngineOptions options;
  ModelConfig config = StoriesConfig();
  config.path = ModelsDir() + "/missing.gguf";
  options.models.push_back(config);
  StatusOr<std::unique_ptr<Engine>> engine = Engine::Open(options);
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().code(), StatusCode::kNotFound);
}

TEST(EngineTest, LoadFailureIsInternal) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "basalt_engine_test_not_a_model.gguf").string();
  {
    std::ofstream out(path);
    out << "this is not a GGUF file";
  }
  ModelConfig config = StoriesConfig();
  config.name = "broken";
  config.path = path;
  auto engine = OpenEngine({config});
  ASSERT_NE(engine, nullptr);
  GenerateRequest request = Greedy("hi", 5);
  request.model = "broken";
  StatusOr<JobId> id = engine->Submit(request, std::make_shared<TestSink>());
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kInternal);
  EXPECT_NE(id.status().message().find("broken"), std::string::npos);
  EXPECT_EQ(engine->CountTokens("broken", "hi", true).status().code(), StatusCode::kInternal);
  std::filesystem::remove(path);
}

TEST(EngineTest, TinyRandomLlama2) {
  ASSERT_TRUE(std::filesystem::exists(TinyRandomPath())) << TinyRandomPath();
  ModelConfig config;
  config.name = "tiny";
  config.path = TinyRandomPath();
  config.parallel = 2;
  config.threads = 2;
  auto engine = OpenEngine({config});
  ASSERT_NE(engine, nullptr);

  StatusOr<int> with_bos = engine->CountTokens("tiny", "Hello world", true);
  StatusOr<int> without = engine->CountTokens("tiny", "Hello world", false);
  ASSERT_TRUE(with_bos.ok()) << with_bos.status().ToString();
  ASSERT_TRUE(without.ok());
  EXPECT_EQ(*with_bos, *without + 1);
  EXPECT_EQ(*without, 2);  // "▁Hello" "▁world"

  StatusOr<ModelInfo> info = engine->GetModelInfo("tiny");
  ASSERT_TRUE(info.ok());
  StatusOr<std::string> chat =
      engine->FormatChat("tiny", {{"system", "sys"}, {"user", "hi"}}, true);
  ASSERT_TRUE(chat.ok()) << chat.status().ToString();
  if (info->has_chat_template) {
    EXPECT_NE(chat->find("hi"), std::string::npos);
  } else {
    EXPECT_EQ(*chat, "sys\nhi");
  }

  // Random weights over a 32k vocabulary: byte tokens and odd pieces; what reaches the sink
  // must still be whole UTF-8 characters.
  std::vector<std::shared_ptr<TestSink>> sinks;
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    GenerateRequest request;
    request.model = "tiny";
    request.prompt = "Hello";
    request.sampling.temperature = 1.5f;
    request.sampling.seed = seed;
    request.sampling.max_tokens = 200;
    auto sink = std::make_shared<TestSink>();
    ASSERT_TRUE(engine->Submit(request, sink).ok());
    sinks.push_back(sink);
  }
  for (auto& sink : sinks) {
    ASSERT_TRUE(sink->Wait());
    EXPECT_EQ(sink->invalid_pieces_, 0);
    EXPECT_TRUE(ValidUtf8(sink->text_));
    EXPECT_GT(sink->usage_.completion_tokens, 0);
  }
}

TEST(EngineTest, ConcurrentFirstUseLoadsOnce) {
  auto engine = OpenEngine({StoriesConfig(2)});
  ASSERT_NE(engine, nullptr);
  EngineStats before = engine->Stats("stories");  // does not load
  EXPECT_EQ(before.total_slots, 2);
  EXPECT_EQ(before.busy_slots, 0);
  std::vector<std::thread> threads;
  std::vector<int> counts(6, -1);
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      StatusOr<int> n = engine->CountTokens("stories", "Once upon a time", true);
      counts[i] = n.ok() ? *n : -1;
    });
  }
  for (auto& t : threads) t.join();
  for (int n : counts) EXPECT_EQ(n, counts[0]);
  EXPECT_GT(counts[0], 1);
}

// A model pulled after start joins a running engine; lookups of other models keep working
// while it is added (TSan covers the index swap).
TEST(EngineTest, AddModelWhileServing) {
  auto engine = OpenEngine({StoriesConfig(2)});
  ASSERT_NE(engine, nullptr);
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      EXPECT_TRUE(engine->CountTokens("stories", "Once upon a time", true).ok());
    }
  });
  ModelConfig added = StoriesConfig(1);
  added.name = "stories-added";
  EXPECT_TRUE(engine->AddModel(added).ok());
  EXPECT_EQ(engine->AddModel(added).code(), StatusCode::kAlreadyExists);
  ModelConfig missing = added;
  missing.name = "missing";
  missing.path = ModelsDir() + "/missing.gguf";
  EXPECT_EQ(engine->AddModel(missing).code(), StatusCode::kNotFound);
  StatusOr<int> n = engine->CountTokens("stories-added", "Once upon a time", true);
  stop.store(true);
  reader.join();
  ASSERT_TRUE(n.ok());
  EXPECT_GT(*n, 1);
}

TEST(EngineTest, DestroyingTheEngineEndsJobs) {
  auto sink = std::make_shared<TestSink>();
  {
    auto engine = OpenEngine({StoriesConfig(1)});
    ASSERT_NE(engine, nullptr);
    ASSERT_TRUE(engine->Submit(Greedy("Once upon a time", 1500), sink).ok());
    ASSERT_TRUE(
        engine->Submit(Greedy("Once upon a time", 1500), std::make_shared<TestSink>()).ok());
  }
  ASSERT_TRUE(sink->done());
  EXPECT_EQ(sink->reason_, FinishReason::kCancelled);
}

// ---- Pieces without a model ----

TEST(TextStreamTest, HoldsBackSplitCharacters) {
  llm::TextStream stream;
  stream.Reset({});
  std::string out;
  const std::string euro = "\xE2\x82\xAC";
  EXPECT_FALSE(stream.Append("a" + euro.substr(0, 1), &out));
  EXPECT_EQ(out, "a");
  EXPECT_FALSE(stream.Append(euro.substr(1, 1), &out));
  EXPECT_EQ(out, "a");
  EXPECT_FALSE(stream.Append(euro.substr(2) + "b", &out));
  EXPECT_EQ(out, "a" + euro + "b");
}

TEST(TextStreamTest, ReplacesInvalidBytes) {
  llm::TextStream stream;
  stream.Reset({});
  std::string out;
  stream.Append("x\xFFy\xE2(z", &out);
  stream.Append("\xC3", &out);
  stream.Flush(&out);  // the unfinished character is dropped
  EXPECT_EQ(out, "x\xEF\xBF\xBDy\xEF\xBF\xBD(z");
  EXPECT_TRUE(ValidUtf8(out));
}

TEST(TextStreamTest, StopAcrossPieces) {
  llm::TextStream stream;
  stream.Reset({"STOP", "", "xyz"});
  std::string out;
  EXPECT_FALSE(stream.Append("hello S", &out));
  EXPECT_EQ(out, "hello ");
  EXPECT_FALSE(stream.Append("T", &out));
  EXPECT_EQ(out, "hello ");
  EXPECT_FALSE(stream.Append("x", &out));  // "ST" is released, "x" may start "xyz"
  EXPECT_EQ(out, "hello ST");
  EXPECT_FALSE(stream.Append("yST", &out));
  EXPECT_EQ(out, "hello STxy");
  EXPECT_TRUE(stream.Append("OP and more", &out));
  EXPECT_EQ(out, "hello STxy");
  EXPECT_EQ(stream.matched_stop(), "STOP");
}

TEST(TextStreamTest, EarliestStopWins) {
  llm::TextStream stream;
  stream.Reset({"bc", "ab"});
  std::string out;
  EXPECT_TRUE(stream.Append("zabc", &out));
  EXPECT_EQ(out, "z");
  EXPECT_EQ(stream.matched_stop(), "ab");
}

TEST(TextStreamTest, FlushReleasesHeldText) {
  llm::TextStream stream;
  stream.Reset({"END"});
  std::string out;
  EXPECT_FALSE(stream.Append("the EN", &out));
  EXPECT_EQ(out, "the ");
  stream.Flush(&out);
  EXPECT_EQ(out, "the EN");
}

TEST(ChatFormatTest, TemplatesAndFallbacks) {
  const std::vector<ChatMessage> messages = {{"system", "S"}, {"user", "U"}};
  StatusOr<std::string> joined = llm::FormatChatMessages(nullptr, messages, true);
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(*joined, "S\nU");

  const std::string chatml =
      "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n";
  StatusOr<std::string> named = llm::FormatChatMessages("chatml", messages, true);
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(*named, chatml);
  // A template llama.cpp does not know falls back to chatml.
  StatusOr<std::string> unknown =
      llm::FormatChatMessages("{{ something entirely custom }}", messages, true);
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(*unknown, chatml);
  // A recognised Jinja template (Llama-2 style) is used as is.
  StatusOr<std::string> llama2 = llm::FormatChatMessages(
      "{% if message['role'] == 'user' %}[INST] {{ message['content'] }} [/INST]{% endif %}",
      messages, true);
  ASSERT_TRUE(llama2.ok());
  EXPECT_NE(llama2->find("[INST]"), std::string::npos) << *llama2;
  EXPECT_EQ(llama2->find("<|im_start|>"), std::string::npos);
}

}  // namespace
}  // namespace basalt::engine
