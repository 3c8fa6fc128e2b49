// EmbedRunner owns one GGUF model loaded for embeddings: a llama_context created with
// `embeddings = true` and the model's pooling (llama_pooling_type), and a scheduler thread
// that packs the texts of every waiting request into shared decode steps, one sequence per
// text, and reads each sequence's pooled vector back (llama_get_embeddings_seq).
//
// Batching: a decode step takes texts in arrival order (request by request, text by text)
// while they fit in `n_batch` tokens and `n_seq_max` sequences, so a request of 96 texts and a
// request of one share steps and neither waits for the other to finish. Encoder models
// (BERT) attend within a sequence only and causal models keep a KV cache that is cleared
// after every step, so a text's vector does not depend on what it was batched with (up to
// float rounding).
//
// EmbedModels keeps one runner per served model name, loaded on first use.
//
// Thread-safety: Embed() may be called from any thread; it blocks until its texts are done.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "engine/engine.h"
#include "llama.h"

namespace basalt::engine::llm {

class EmbedRunner {
 public:
  // Loads `config.path` for embeddings. `pooling` ("mean", "cls", "last") overrides the GGUF's;
  // empty keeps the GGUF's, and mean pooling is used when the GGUF names none (a generative
  // model). kInternal when the file does not load or the model is a reranker.
  static StatusOr<std::unique_ptr<EmbedRunner>> Load(const ModelConfig& config,
                                                     const std::string& pooling);
  // Fails queued requests (kUnavailable), stops the thread and frees the model.
  ~EmbedRunner();

  EmbedRunner(const EmbedRunner&) = delete;
  EmbedRunner& operator=(const EmbedRunner&) = delete;

  // See Engine::Embed.
  StatusOr<EmbedResult> Embed(const std::vector<std::string>& texts, EmbedTruncate truncate);

  int dimensions() const { return n_embd_; }
  int max_text_tokens() const { return max_text_tokens_; }
  const char* pooling_name() const;
  // Decode steps so far and the texts they carried (for tests of batching).
  int64_t steps() const;
  int64_t texts_embedded() const;

 private:
  struct Job {
    std::vector<std::vector<llama_token>> tokens;
    size_t next = 0;  // first text not yet put into a step; guarded by the runner's mu_
    size_t done = 0;  // texts finished; guarded by the runner's mu_
    Status status;    // first failure; guarded by the runner's mu_
    EmbedResult result;
    std::condition_variable cv;
  };
  struct Item {
    std::shared_ptr<Job> job;
    size_t text = 0;
  };

  EmbedRunner(const ModelConfig& config, const std::string& pooling);
  Status Init();
  StatusOr<std::vector<llama_token>> TokenizeOne(std::string_view text,
                                                 EmbedTruncate truncate) const;
  void Run();
  // Takes the next step's texts off the queue (mu_ held).
  std::vector<Item> TakeStep();
  void Decode(const std::vector<Item>& items);

  const ModelConfig config_;
  const std::string pooling_override_;
  llama_model* model_ = nullptr;
  llama_context* ctx_ = nullptr;
  const llama_vocab* vocab_ = nullptr;
  llama_memory_t mem_ = nullptr;
  llama_batch batch_{};
  bool batch_allocated_ = false;
  enum llama_pooling_type pooling_ = LLAMA_POOLING_TYPE_MEAN;
  int n_embd_ = 0;
  int n_batch_ = 0;
  int n_seq_max_ = 0;
  int max_text_tokens_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;  // jobs with texts not yet in a step
  bool stop_ = false;
  int64_t steps_ = 0;
  int64_t texts_embedded_ = 0;
  std::thread thread_;
};

// The embedding runners of an engine, one per model name, loaded on first use. A name whose
// file or pooling changed gets a new runner; requests running on the old one finish first.
class EmbedModels {
 public:
  StatusOr<EmbedResult> Embed(const ModelConfig& config, const EmbedRequest& request);

 private:
  struct Slot {
    std::string path;
    std::string pooling;
    std::shared_ptr<EmbedRunner> runner;
    Status load_status;  // a failed load is remembered for that path and pooling
  };
  StatusOr<std::shared_ptr<EmbedRunner>> Get(const ModelConfig& config, const std::string& pooling);

  std::mutex mu_;  // guards slots_ and serializes loads
  std::map<std::string, Slot> slots_;
};

}  // namespace basalt::engine::llm
