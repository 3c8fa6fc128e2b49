// ModelRunner owns one loaded GGUF model, its llama_context and the scheduler thread that
// serves every job of that model with continuous batching.
//
// KV layout: one context with n_seq_max = parallel and context_length cells in all; slot i
// is sequence i and owns a KV stream of context_length / parallel cells (llama.cpp's
// non-unified KV, what llama-server uses with an explicit --parallel). That share is the
// per-request context. Separate streams keep each sequence's attention over its own cells
// only; a unified buffer makes every sequence attend over the highest cell any slot uses.
// A new job reuses the cached prefix of its own slot's stream (see StartJob), or copies a
// longer one from another slot's stream, free or busy; requests that arrive together with a
// shared prefix compute it once (the earliest does, the others wait and copy it). Greedy
// requests decode speculatively with drafts looked up in their own tokens (speculative.h).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/status.h"
#include "engine/engine.h"
#include "engine/llm/speculative.h"
#include "engine/llm/text_stream.h"
#include "llama.h"

namespace basalt::engine::llm {

class ModelRunner {
 public:
  // Loads the model, creates its context and starts the scheduler thread.
  static StatusOr<std::unique_ptr<ModelRunner>> Load(const ModelConfig& config);
  // Finishes outstanding jobs (OnDone kCancelled), stops the thread and frees the model.
  ~ModelRunner();

  ModelRunner(const ModelRunner&) = delete;
  ModelRunner& operator=(const ModelRunner&) = delete;

  Status Submit(JobId id, GenerateRequest request, std::shared_ptr<Sink> sink,
                int* prompt_tokens = nullptr);
  // Returns false when `id` is neither queued nor running here.
  bool Cancel(JobId id);

  StatusOr<int> CountTokens(std::string_view text, bool add_special) const;
  StatusOr<std::string> FormatChat(const std::vector<ChatMessage>& messages,
                                   bool add_generation_prompt) const;
  const ModelInfo& Info() const { return info_; }
  EngineStats Stats() const;

 private:
  using Clock = std::chrono::steady_clock;

  struct SamplerDeleter {
    void operator()(llama_sampler* sampler) const { llama_sampler_free(sampler); }
  };
  using SamplerPtr = std::unique_ptr<llama_sampler, SamplerDeleter>;

  struct Job {
    JobId id = 0;
    std::vector<llama_token> prompt;
    int max_tokens = 0;  // <= 0: bounded by the context only
    std::vector<std::string> stop;
    SamplerPtr sampler;  // null: greedy argmax
    std::shared_ptr<Sink> sink;
    Clock::time_point submitted;
    Clock::time_point started;
    Clock::time_point first_token;
  };

  enum class SlotState { kFree, kIngesting, kGenerating };

  struct Slot {
    llama_seq_id seq = 0;
    SlotState state = SlotState::kFree;
    std::unique_ptr<Job> job;
    std::vector<llama_token> cache;  // exactly the tokens in this sequence's KV cells
    llama_token next_token = 0;      // sampled, to be decoded in the next step
    std::vector<llama_token> draft;  // drafted tokens after next_token in the current batch
    DraftPolicy drafts;
    int i_batch = -1;  // batch index of this slot's logits in the current step
    int n_chunk = 0;   // tokens this slot put into the current batch
    int cached_prompt_tokens = 0;
    int completion_tokens = 0;
    uint64_t last_used = 0;
    TextStream text;
    std::string out;
  };

  explicit ModelRunner(const ModelConfig& config);
  Status Init();
  // At most `max_tokens` tokens; kInvalidArgument (too long) past that.
  StatusOr<std::vector<llama_token>> Tokenize(std::string_view text, bool add_special,
                                              size_t max_tokens = SIZE_MAX) const;
  StatusOr<SamplerPtr> MakeSampler(const GenerateRequest& request) const;

  // Scheduler thread only.
  void WarmUp();
  void Run();
  bool Admit();
  void StartJob(std::unique_ptr<Job> job);
  void Step();
  // Copies the longest prompt prefix cached in another slot into `slot` (see model_step.cc).
  // True when `slot` should wait for an earlier request that is computing a shared prefix.
  bool SharePrefix(Slot& slot);
  void AddDraft(Slot& slot, int* budget);
  // The output token at batch row `i_batch`; false (job finished with an error) when none.
  bool Sample(Slot& slot, int i_batch, llama_token* token);
  void Verify(Slot& slot);
  void FailBatch(int code);
  void OnToken(Slot& slot, llama_token token);
  void Finish(Slot& slot, const Status& status, FinishReason reason);
  void FinishQueued(const Job& job, const Status& status);
  void Shutdown();
  void AddToBatch(llama_token token, llama_pos pos, llama_seq_id seq, bool logits);

  const ModelConfig config_;
  llama_model* model_ = nullptr;
  llama_context* ctx_ = nullptr;
  const llama_vocab* vocab_ = nullptr;
  llama_memory_t mem_ = nullptr;
  llama_batch batch_{};
  bool batch_allocated_ = false;
  int n_batch_ = 0;
  int n_ctx_slot_ = 0;
  // The longest token's text in bytes: a prompt longer than n_ctx_slot_ times this cannot fit,
  // which is known without tokenizing it.
  size_t max_token_bytes_ = 1;
  int n_vocab_ = 0;
  bool can_share_kv_ = false;  // KV copies between sequences (not for recurrent state)
  bool has_chat_template_ = false;
  std::string chat_template_;
  ModelInfo info_;

  // Owned by the scheduler thread.
  std::vector<Slot> slots_;
  std::vector<int> ingest_order_;  // slots still ingesting their prompt, oldest first
  std::vector<llama_token_data> candidates_;
  uint64_t use_counter_ = 0;
  int n_active_ = 0;
  bool need_admit_ = false;

  // Shared with the API threads, guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;
  std::unordered_set<JobId> live_;  // queued or running
  std::vector<JobId> cancels_;
  int busy_ = 0;
  bool stop_ = false;
  // Set under mu_ when the scheduler has something to pick up; read without the lock once
  // per decode step.
  std::atomic<bool> wake_{false};
  // Written by the scheduler thread after each step, read by Stats() from any thread.
  std::atomic<int64_t> kv_cells_used_{0};
  std::atomic<int64_t> generated_total_{0};
  std::atomic<int64_t> drafted_total_{0};
  std::atomic<int64_t> accepted_total_{0};

  std::thread thread_;
};

}  // namespace basalt::engine::llm
