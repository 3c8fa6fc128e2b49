// Tests of the engine's speed features: speculative decoding by prompt lookup must give the
// same output and usage as plain decoding, and prefix sharing between slots the same tokens as
// computing every prompt alone.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/engine_test_util.h"
#include "engine/llm/speculative.h"

namespace basalt::engine {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace)

// A story the model is asked to repeat or edit: copy-heavy work, where drafts are accepted.
const char kStory[] =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
    "park. One day, she saw a big red ball under a tree. She ran to the ball and picked it up. "
    "Lily was very happy. She played with the ball all day long.";

// One thread: on a loaded machine two threads that wait on each other at every barrier make
// these many-job tests slow, and their subject is the schedule, not the kernels.
ModelConfig Stories(int parallel) {
  ModelConfig config = StoriesConfig(parallel);
  config.threads = 1;
  return config;
}

std::vector<GenerateRequest> EquivalenceRequests(const std::string& model) {
  const std::string story = kStory;
  std::vector<GenerateRequest> out;
  auto add = [&](std::string prompt, int max_tokens, std::vector<std::string> stop = {}) {
    GenerateRequest request = Greedy(std::move(prompt), max_tokens);
    request.model = model;
    request.sampling.stop = std::move(stop);
    out.push_back(std::move(request));
  };
  add(story + "\n" + story + "\n" + story.substr(0, 60), 120);
  add(story + "\n" + story.substr(0, 30), 64);
  add(story + " " + story + " ", 33);
  add(story + "\n" + story.substr(0, 40), 90, {"ball all"});
  add(story + "\n" + story.substr(0, 40), 90, {"happy. She"});
  add("Once upon a time", 80);
  add("Tom and Sue went to the park. Tom and Sue went to the", 1);
  add("Tom and Sue went to the park. Tom and Sue went to the", 2);
  add("Tom and Sue went to the park. Tom and Sue went to the", 7);
  add("The cat sat on the mat. The cat sat on the mat. The cat", 100, {"mat."});
  add("A B C D A B C D A B C", 50);
  add("It was a sunny day", 150);
  return out;
}

std::vector<std::shared_ptr<TestSink>> RunAll(Engine& engine,
                                              const std::vector<GenerateRequest>& requests) {
  std::vector<std::shared_ptr<TestSink>> sinks;
  for (const GenerateRequest& request : requests) {
    auto sink = std::make_shared<TestSink>();
    StatusOr<JobId> id = engine.Submit(request, sink);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    sinks.push_back(sink);
  }
  for (auto& sink : sinks) EXPECT_TRUE(sink->Wait(120s));
  return sinks;
}

void ExpectSameOutput(const std::vector<GenerateRequest>& requests,
                      const std::vector<std::shared_ptr<TestSink>>& a,
                      const std::vector<std::shared_ptr<TestSink>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("request " + std::to_string(i) + ": " + requests[i].prompt.substr(0, 40));
    EXPECT_EQ(a[i]->text_, b[i]->text_);
    EXPECT_EQ(a[i]->reason_, b[i]->reason_);
    EXPECT_EQ(a[i]->stop_, b[i]->stop_);
    EXPECT_EQ(a[i]->usage_.prompt_tokens, b[i]->usage_.prompt_tokens);
    EXPECT_EQ(a[i]->usage_.completion_tokens, b[i]->usage_.completion_tokens);
    EXPECT_TRUE(a[i]->status_.ok()) << a[i]->status_.ToString();
  }
}

// Greedy output with drafting equals greedy output without it, byte for byte, with the same
// usage, over copy-heavy and ordinary prompts, stop sequences and max_tokens boundaries.
void CheckSpeculativeEquivalence(ModelConfig config, bool expect_accepted) {
  ASSERT_TRUE(std::filesystem::exists(config.path)) << config.path;
  config.parallel = 4;
  config.threads = 1;
  ModelConfig plain_config = config;
  plain_config.speculative = false;
  auto spec = OpenEngine({config});
  auto plain = OpenEngine({plain_config});
  ASSERT_NE(spec, nullptr);
  ASSERT_NE(plain, nullptr);
  const std::vector<GenerateRequest> requests = EquivalenceRequests(config.name);
  // One at a time, then all together (drafts of several sequences in one batch).
  std::vector<std::shared_ptr<TestSink>> expected;
  for (const GenerateRequest& request : requests) {
    expected.push_back(RunAll(*plain, {request})[0]);
  }
  std::vector<std::shared_ptr<TestSink>> solo;
  for (const GenerateRequest& request : requests) solo.push_back(RunAll(*spec, {request})[0]);
  ExpectSameOutput(requests, solo, expected);
  ExpectSameOutput(requests, RunAll(*spec, requests), expected);
  EngineStats stats = spec->Stats(config.name);
  EXPECT_EQ(plain->Stats(config.name).draft_tokens_total, 0);
  if (expect_accepted) {
    EXPECT_GT(stats.draft_accepted_total, 100) << "drafted " << stats.draft_tokens_total;
  }
}

TEST(SpeculativeTest, GreedyOutputIsIdenticalOnStories) {
  CheckSpeculativeEquivalence(Stories(4), true);
}

TEST(SpeculativeTest, GreedyOutputIsIdenticalOnTinyRandom) {
  ModelConfig config;
  config.name = "stories";  // the requests name this model
  config.path = TinyRandomPath();
  CheckSpeculativeEquivalence(config, false);
}

TEST(SpeculativeTest, SampledRequestsDoNotDraft) {
  auto engine = OpenEngine({Stories(2)});
  ASSERT_NE(engine, nullptr);
  GenerateRequest request = Greedy(std::string(kStory) + "\n" + kStory, 60);
  request.sampling.temperature = 0.7f;
  request.sampling.seed = 7;
  auto sink = RunJob(*engine, request);
  EXPECT_EQ(sink->usage_.completion_tokens, 60);
  EXPECT_EQ(engine->Stats("stories").draft_tokens_total, 0);
}

// A job cancelled while it decodes speculatively bills exactly the tokens it emitted: the
// same text as a plain run limited to that many tokens.
TEST(SpeculativeTest, CancelledJobBillsTheTokensItEmitted) {
  auto engine = OpenEngine({Stories(2)});
  ASSERT_NE(engine, nullptr);
  const std::string prompt = std::string(kStory) + "\n" + kStory + "\n" + kStory + "\nOnce";
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto sink = std::make_shared<TestSink>();
    StatusOr<JobId> id = engine->Submit(Greedy(prompt, 400), sink);
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(sink->WaitForText());
    engine->Cancel(*id);
    ASSERT_TRUE(sink->Wait());
    if (sink->reason_ != FinishReason::kCancelled) continue;  // finished first: try again
    const int billed = sink->usage_.completion_tokens;
    EXPECT_GT(billed, 0);
    ModelConfig plain_config = Stories(1);
    plain_config.speculative = false;
    auto plain = OpenEngine({plain_config});
    ASSERT_NE(plain, nullptr);
    auto reference = RunJob(*plain, Greedy(prompt, billed));
    EXPECT_EQ(reference->usage_.completion_tokens, billed);
    EXPECT_EQ(reference->text_, sink->text_);
    return;
  }
  GTEST_SKIP() << "the job always finished before the cancel arrived";
}

TEST(LookupDraftTest, CopiesWhatFollowedTheLatestMatch) {
  std::vector<llama_token> draft;
  // context 1 2 3 9 1 2 3 7 8 1 2 + last 3: the latest "1 2 3" is followed by 7 8 1 2 3.
  llm::LookupDraft({1, 2, 3, 9, 1, 2, 3, 7, 8, 1, 2}, 3, 4, &draft);
  EXPECT_EQ(draft, (std::vector<llama_token>{7, 8, 1, 2}));
  llm::LookupDraft({1, 2, 3, 9, 1, 2, 3, 7, 8, 1, 2}, 3, 2, &draft);
  EXPECT_EQ(draft, (std::vector<llama_token>{7, 8}));
  // The longest n-gram wins: "5 6" alone last appears before 4, but "3 5 6" before 1.
  llm::LookupDraft({3, 5, 6, 1, 0, 5, 6, 4, 3, 5}, 6, 3, &draft);
  EXPECT_EQ(draft, (std::vector<llama_token>{1, 0, 5}));
  // No earlier occurrence of any 2-gram: no draft.
  llm::LookupDraft({1, 2, 3, 4}, 5, 8, &draft);
  EXPECT_TRUE(draft.empty());
  llm::LookupDraft({}, 5, 8, &draft);
  EXPECT_TRUE(draft.empty());
  // A run of one token predicts more of it.
  llm::LookupDraft({4, 4, 4}, 4, 8, &draft);
  EXPECT_EQ(draft, (std::vector<llama_token>{4}));
}

TEST(DraftPolicyTest, PausesAfterRejectionsAndGrowsOnAcceptance) {
  llm::DraftPolicy policy;
  const int first = policy.NextLength();
  EXPECT_GT(first, 0);
  policy.Update(first, first);
  EXPECT_EQ(policy.NextLength(), 2 * first);
  int paused_steps = 0;
  for (int i = 0; i < 10 && paused_steps == 0; ++i) {
    const int length = policy.NextLength();
    if (length == 0) {
      ++paused_steps;
    } else {
      policy.Update(length, 0);
    }
  }
  // After a few wholly rejected drafts, drafting stops for a while, then resumes.
  while (policy.NextLength() == 0) ++paused_steps;
  EXPECT_GE(paused_steps, 16);
  EXPECT_LT(paused_steps, 1000);
}

// Requests that arrive together and share a long prefix compute it once and give the same
// tokens as each prompt computed alone.
TEST(PrefixSharingTest, ConcurrentSharedPrefixMatchesSoloRuns) {
  const std::string prefix = std::string(kStory) + " " + kStory + "\n";
  const std::vector<std::string> suffixes = {"Once upon a time", "Tom and Sue", "The cat",
                                             "One day, a boy"};
  ModelConfig alone_config = Stories(1);
  alone_config.speculative = false;
  auto alone = OpenEngine({alone_config});
  ASSERT_NE(alone, nullptr);
  std::vector<GenerateRequest> requests;
  std::vector<std::string> expected;
  for (const std::string& s : suffixes) {
    requests.push_back(Greedy(prefix + s, 40));
    // A fresh engine per prompt: nothing cached, everything computed for this prompt alone.
    auto fresh = OpenEngine({alone_config});
    ASSERT_NE(fresh, nullptr);
    expected.push_back(RunJob(*fresh, requests.back())->text_);
  }
  ModelConfig config = Stories(4);
  config.speculative = false;
  auto engine = OpenEngine({config});
  ASSERT_NE(engine, nullptr);
  StatusOr<int> n_prefix = engine->CountTokens("stories", prefix, true);
  ASSERT_TRUE(n_prefix.ok());
  auto sinks = RunAll(*engine, requests);
  int shared = 0;
  for (size_t i = 0; i < sinks.size(); ++i) {
    EXPECT_EQ(sinks[i]->text_, expected[i]) << suffixes[i];
    if (sinks[i]->usage_.cached_prompt_tokens >= *n_prefix - 2) ++shared;
  }
  // The first request computes the prefix; the other three copy it.
  EXPECT_EQ(shared, 3);
}

// A new request reuses a prefix cached in another slot, here one that is still generating.
TEST(PrefixSharingTest, ReusesThePrefixOfABusySlot) {
  const std::string prefix = std::string(kStory) + " " + kStory + "\n";
  ModelConfig config = Stories(2);
  config.speculative = false;
  auto engine = OpenEngine({config});
  ASSERT_NE(engine, nullptr);
  auto busy = std::make_shared<TestSink>();
  ASSERT_TRUE(engine->Submit(Greedy(prefix + "Once upon a time", 300), busy).ok());
  ASSERT_TRUE(busy->WaitForText());
  auto second = RunJob(*engine, Greedy(prefix + "The dog", 30));
  StatusOr<int> n_prefix = engine->CountTokens("stories", prefix, true);
  ASSERT_TRUE(n_prefix.ok());
  EXPECT_GE(second->usage_.cached_prompt_tokens, *n_prefix - 2);
  ASSERT_TRUE(busy->Wait());
  ModelConfig alone_config = Stories(1);
  auto alone = OpenEngine({alone_config});
  ASSERT_NE(alone, nullptr);
  EXPECT_EQ(RunJob(*alone, Greedy(prefix + "The dog", 30))->text_, second->text_);
}

}  // namespace
}  // namespace basalt::engine
