// EmbedRunner on real GGUFs: a random-weight BERT encoder and a causal decoder written at test
// time by bench/make_random_embed_gguf.py, and the trained stories260K (a generative model,
// pooled by mean).
#include "engine/llm/embed_runner.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"

namespace basalt::engine::llm {
namespace {

namespace fs = std::filesystem;

std::string SourceDir() {
  const char* src = std::getenv("BASALT_SOURCE_DIR");
#ifdef BASALT_DEFAULT_SOURCE_DIR
  if (src == nullptr || *src == '\0') src = BASALT_DEFAULT_SOURCE_DIR;
#endif
  return src != nullptr ? src : ".";
}

std::string ModelsDir() {
  if (const char* dir = std::getenv("BASALT_MODELS_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return SourceDir() + "/../shared/models";
}

// Writes a GGUF with bench/make_random_embed_gguf.py into a temp folder (once per args).
std::string MakeModel(const std::string& name, const std::string& args) {
  fs::path dir = fs::temp_directory_path() / ("basalt_embed_test_" + std::to_string(getpid()));
  fs::create_directories(dir);
  fs::path out = dir / name;
  if (!fs::exists(out)) {
    std::string cmd = "python3 '" + SourceDir() + "/bench/make_random_embed_gguf.py' '" +
                      out.string() + "' --vocab-from '" + ModelsDir() +
                      "/llama-2-tiny-random.gguf' " + args;
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  return out.string();
}

ModelConfig Config(const std::string& path, int context_length = 0) {
  ModelConfig c;
  c.name = "embed";
  c.path = path;
  c.threads = 2;
  c.context_length = context_length;
  c.max_queue = 64;
  return c;
}

std::unique_ptr<EmbedRunner> MustLoad(const ModelConfig& config, const std::string& pooling = "") {
  auto runner = EmbedRunner::Load(config, pooling);
  EXPECT_TRUE(runner.ok()) << runner.status().ToString();
  return runner.ok() ? std::move(*runner) : nullptr;
}

std::vector<float> Unit(std::vector<float> v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  const float inv = sum > 0 ? static_cast<float>(1.0 / std::sqrt(sum)) : 0.0f;
  for (float& x : v) x *= inv;
  return v;
}

// Largest difference between the two vectors scaled to unit length (as the API returns them
// by default): steps of other sizes sum in another order, which moves a raw component of a
// vector of length ~8 by up to ~5e-5.
float MaxDiff(const std::vector<float>& raw_a, const std::vector<float>& raw_b) {
  EXPECT_EQ(raw_a.size(), raw_b.size());
  const std::vector<float> a = Unit(raw_a), b = Unit(raw_b);
  float d = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

const std::vector<std::string> kTexts = {"the quick brown fox",
                                         "search query about water",
                                         "a",
                                         "model server cloud text bedrock",
                                         "Hello, World! 123",
                                         "one two three four five six seven eight nine ten"};

TEST(EmbedRunnerTest, BertEncoderDeterministicAndBatchedEqualsSingle) {
  auto runner = MustLoad(Config(MakeModel("bert.gguf", "--arch bert --embd 64")));
  ASSERT_NE(runner, nullptr);
  EXPECT_EQ(runner->dimensions(), 64);
  EXPECT_STREQ(runner->pooling_name(), "mean");

  auto batched = runner->Embed(kTexts, EmbedTruncate::kNone);
  ASSERT_TRUE(batched.ok()) << batched.status().ToString();
  ASSERT_EQ(batched->vectors.size(), kTexts.size());
  const int64_t steps_before = runner->steps();
  for (size_t i = 0; i < kTexts.size(); ++i) {
    auto single = runner->Embed({kTexts[i]}, EmbedTruncate::kNone);
    ASSERT_TRUE(single.ok());
    ASSERT_EQ(single->vectors[0].size(), 64u);
    EXPECT_LT(MaxDiff(single->vectors[0], batched->vectors[i]), 1e-5f) << kTexts[i];
    EXPECT_EQ(single->token_counts[0], batched->token_counts[i]);
    // Deterministic: the same text again gives the same vector.
    auto again = runner->Embed({kTexts[i]}, EmbedTruncate::kNone);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->vectors[0], single->vectors[0]);
  }
  EXPECT_EQ(runner->steps() - steps_before, 2 * static_cast<int64_t>(kTexts.size()));
  // [CLS] a [SEP]
  EXPECT_EQ(batched->token_counts[2], 3);
  // Different texts give different vectors.
  EXPECT_GT(MaxDiff(batched->vectors[0], batched->vectors[1]), 1e-3f);
}

TEST(EmbedRunnerTest, ConcurrentRequestsShareDecodeSteps) {
  auto runner = MustLoad(Config(MakeModel("bert.gguf", "--arch bert --embd 64")));
  ASSERT_NE(runner, nullptr);
  auto reference = runner->Embed(kTexts, EmbedTruncate::kNone);
  ASSERT_TRUE(reference.ok());
  const int64_t steps_before = runner->steps();
  constexpr int kClients = 8, kRounds = 5;
  std::vector<std::thread> clients;
  std::vector<int> bad(kClients, 0);
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int r = 0; r < kRounds; ++r) {
        auto got = runner->Embed(kTexts, EmbedTruncate::kNone);
        if (!got.ok()) {
          ++bad[c];
          continue;
        }
        for (size_t i = 0; i < kTexts.size(); ++i) {
          const float d = MaxDiff(got->vectors[i], reference->vectors[i]);
          if (d > 1e-5f) {
            ++bad[c];
            if (bad[c] == 1) ADD_FAILURE() << "text " << i << " differs by " << d;
          }
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(bad[c], 0) << "client " << c;
  // 40 requests of 6 texts: every request fits one step, and waiting requests join a step.
  EXPECT_LE(runner->steps() - steps_before, kClients * kRounds);
  EXPECT_EQ(runner->texts_embedded(),
            static_cast<int64_t>(kTexts.size()) * (1 + kClients * kRounds));
}

TEST(EmbedRunnerTest, TruncationAndLimits) {
  // 16 tokens a text at most.
  auto runner = MustLoad(Config(MakeModel("bert.gguf", "--arch bert --embd 64"), 16));
  ASSERT_NE(runner, nullptr);
  EXPECT_EQ(runner->max_text_tokens(), 16);
  std::string long_text;
  for (int i = 0; i < 40; ++i) long_text += (i % 2 ? "water " : "fire ");
  auto refused = runner->Embed({"fine", long_text}, EmbedTruncate::kNone);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(), "Input is too long for requested model.");

  auto end = runner->Embed({long_text}, EmbedTruncate::kEnd);
  auto start = runner->Embed({long_text}, EmbedTruncate::kStart);
  ASSERT_TRUE(end.ok());
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(end->token_counts[0], 16);
  EXPECT_EQ(start->token_counts[0], 16);
  // Cut at the end, the text is its first 14 words ([CLS] ... [SEP]); cut at the start, its
  // last 14.
  std::string head, tail;
  for (int i = 0; i < 14; ++i) head += (i % 2 ? "water " : "fire ");
  for (int i = 26; i < 40; ++i) tail += (i % 2 ? "water " : "fire ");
  auto head_v = runner->Embed({head}, EmbedTruncate::kNone);
  auto tail_v = runner->Embed({tail}, EmbedTruncate::kNone);
  ASSERT_TRUE(head_v.ok());
  ASSERT_TRUE(tail_v.ok());
  EXPECT_LT(MaxDiff(end->vectors[0], head_v->vectors[0]), 1e-5f);
  EXPECT_LT(MaxDiff(start->vectors[0], tail_v->vectors[0]), 1e-5f);
}

TEST(EmbedRunnerTest, DecoderWithLastTokenPooling) {
  auto runner =
      MustLoad(Config(MakeModel("decoder.gguf", "--arch llama --pooling last --embd 32")));
  ASSERT_NE(runner, nullptr);
  EXPECT_STREQ(runner->pooling_name(), "last");
  EXPECT_EQ(runner->dimensions(), 32);
  auto batched = runner->Embed(kTexts, EmbedTruncate::kNone);
  ASSERT_TRUE(batched.ok()) << batched.status().ToString();
  for (size_t i = 0; i < kTexts.size(); ++i) {
    auto single = runner->Embed({kTexts[i]}, EmbedTruncate::kNone);
    ASSERT_TRUE(single.ok());
    EXPECT_LT(MaxDiff(single->vectors[0], batched->vectors[i]), 1e-5f) << kTexts[i];
  }
}

TEST(EmbedRunnerTest, GenerativeModelIsPooledByMeanOrAsConfigured) {
  const std::string stories = ModelsDir() + "/stories260K.gguf";
  auto mean = MustLoad(Config(stories));
  ASSERT_NE(mean, nullptr);
  EXPECT_STREQ(mean->pooling_name(), "mean");
  EXPECT_EQ(mean->dimensions(), 64);
  auto last = MustLoad(Config(stories), "last");
  ASSERT_NE(last, nullptr);
  EXPECT_STREQ(last->pooling_name(), "last");
  auto a = mean->Embed({"Once upon a time", "Lily went to the park"}, EmbedTruncate::kNone);
  auto b = last->Embed({"Once upon a time"}, EmbedTruncate::kNone);
  auto a1 = mean->Embed({"Lily went to the park"}, EmbedTruncate::kNone);
  ASSERT_TRUE(a.ok() && b.ok() && a1.ok());
  EXPECT_GT(MaxDiff(a->vectors[0], b->vectors[0]), 1e-4f);  // another pooling, another vector
  EXPECT_LT(MaxDiff(a->vectors[1], a1->vectors[0]), 1e-5f);

  EXPECT_FALSE(EmbedRunner::Load(Config(stories), "max").ok());
}

TEST(EmbedRunnerTest, EmbedModelsReloadsWhenTheFileChanges) {
  EmbedModels models;
  EmbedRequest request;
  request.model = "embed";
  request.texts = {"the quick brown fox"};
  auto a = models.Embed(Config(MakeModel("bert.gguf", "--arch bert --embd 64")), request);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->vectors[0].size(), 64u);
  auto b = models.Embed(Config(MakeModel("bert48.gguf", "--arch bert --embd 48")), request);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->vectors[0].size(), 48u);
  ModelConfig missing = Config("/nonexistent/model.gguf");
  auto c = models.Embed(missing, request);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace basalt::engine::llm
