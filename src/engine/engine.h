// The Engine runs text-generation jobs on local GGUF models (llama.cpp in-process).
// It names no llama.cpp type: `#include "llama.h"` appears only under src/engine/llm/.
//
// One loaded model serves many requests through continuous batching: every active sequence
// advances by one token per decode step, new prompts are fed in chunks between steps, and a
// new request reuses the longest cached prompt prefix of a free slot.
//
// Thread-safety: every method may be called from any thread. Sink callbacks run on the
// model's scheduler thread and must not block.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace basalt::engine {

struct ModelConfig {
  std::string name;        // key used by GenerateRequest::model
  std::string path;        // GGUF file
  int context_length = 0;  // total KV cells shared by all slots; 0 = slots * min(train ctx, 4096)
  int parallel = 4;        // concurrent sequences (slots)
  int threads = 0;         // 0 = hardware concurrency
  int batch_size = 512;    // max tokens per decode step
  int max_queue = 64;      // queued jobs beyond busy slots; more gets kResourceExhausted
  // Memory-map the GGUF instead of reading its weights into memory. Off by default: a mapped
  // file truncated or rewritten in place under a loaded model makes its pages SIGBUS.
  bool use_mmap = false;
  // Speculative decoding by prompt lookup for greedy requests (same output, fewer steps on
  // text that repeats its input). Sampled requests never draft.
  bool speculative = true;
};

struct EngineOptions {
  std::vector<ModelConfig> models;
  // Memory the models may take in all, in bytes. 0: what the system has (MemAvailable, lowered
  // to the cgroup's memory.max), checked before each load. With a limit, the estimates of the
  // models already loaded count against it.
  int64_t memory_limit_bytes = 0;
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" or "tool"
  std::string content;
};

struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy
  float top_p = 1.0f;
  int top_k = 0;  // 0 = off
  int max_tokens = 512;
  std::optional<uint32_t> seed;
  std::vector<std::string> stop;  // stop sequences; the matched one is not emitted
};

struct GenerateRequest {
  std::string model;
  std::string prompt;       // already formatted (see FormatChat)
  bool add_special = true;  // BOS etc. as the model's vocabulary asks
  SamplingParams sampling;
  std::string grammar;  // optional GBNF constraining the output
};

enum class FinishReason {
  kEndOfGeneration,  // the model produced an end-of-generation token
  kLength,           // max_tokens reached
  kStopSequence,     // one of SamplingParams::stop matched
  kCancelled,        // Cancel() or the client went away
  kError,
};

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_prompt_tokens = 0;  // prompt tokens reused from the KV cache
};

struct Timing {
  int64_t queued_ms = 0;       // waiting for a slot
  int64_t first_token_ms = 0;  // submit to first generated token
  int64_t total_ms = 0;        // submit to done
};

// Receives the output of one job. Callbacks come from the scheduler thread.
class Sink {
 public:
  virtual ~Sink() = default;
  // Generated text, in order; always whole UTF-8 characters; stop sequences never appear.
  virtual void OnText(std::string_view text) = 0;
  // Exactly once, last. `status` is not OK for failures after Submit accepted the job (e.g.
  // kInvalidArgument for a prompt longer than the context). `stop` is the matched stop
  // sequence for kStopSequence. `usage` is exact for what was generated, also when cancelled.
  virtual void OnDone(const Status& status, FinishReason reason, const std::string& stop,
                      const Usage& usage, const Timing& timing) = 0;
};

using JobId = uint64_t;

struct ModelInfo {
  std::string name;
  int context_length = 0;  // per-sequence context available to one request
  int train_context_length = 0;
  bool has_chat_template = false;
  std::string architecture;
  int64_t parameter_count = 0;
};

// Embeddings: texts in, one pooled vector per text out (Titan and Cohere embedding bodies).
enum class EmbedTruncate {
  kNone,   // a text over the model's limit is an error (kInvalidArgument)
  kStart,  // drop tokens from its start until it fits
  kEnd,    // drop tokens from its end until it fits
};

struct EmbedRequest {
  std::string model;
  std::vector<std::string> texts;
  EmbedTruncate truncate = EmbedTruncate::kNone;
  // "mean", "cls" or "last"; empty: the pooling the GGUF names (mean when it names none).
  std::string pooling;
};

struct EmbedResult {
  std::vector<std::vector<float>> vectors;  // one per text, the model's native size, as pooled
  std::vector<int> token_counts;            // tokens embedded per text (specials included)
};

struct EngineStats {
  int queued = 0;
  int busy_slots = 0;
  int total_slots = 0;
  int64_t kv_cells_used = 0;  // KV cells holding tokens (cached prefixes included)
  int64_t kv_cells_total = 0;
  int64_t generated_tokens_total = 0;  // since start; a rate comes from two readings
  int64_t draft_tokens_total = 0;      // speculative draft tokens verified, since start
  int64_t draft_accepted_total = 0;    // of those, the ones the model agreed with
};

class Engine {
 public:
  // Validates the model list (files exist). Models load on first use.
  static StatusOr<std::unique_ptr<Engine>> Open(const EngineOptions& options);
  virtual ~Engine() = default;

  // Queues `request`; output goes to `sink`. Returns kNotFound for an unknown model,
  // kResourceExhausted when the queue is full, kInvalidArgument when the prompt does not fit
  // the context (message in Bedrock's wording), kInternal when the model fails to load.
  // When `prompt_tokens` is given it receives the prompt's token count (tokenized once, here).
  virtual StatusOr<JobId> Submit(GenerateRequest request, std::shared_ptr<Sink> sink,
                                 int* prompt_tokens = nullptr) = 0;
  // Stops the job; its slot is free within one decode step. Unknown or finished ids are
  // ignored. The sink still gets OnDone (kCancelled) with the usage so far.
  virtual void Cancel(JobId id) = 0;

  // Number of tokens `text` tokenizes to (with BOS etc. when add_special).
  virtual StatusOr<int> CountTokens(const std::string& model, const std::string& text,
                                    bool add_special) = 0;
  // Formats `messages` with the chat template from the GGUF metadata, adding the assistant
  // prefix when `add_generation_prompt`. A model without a template gets the message texts
  // joined by newlines (plain continuation, right for base models).
  virtual StatusOr<std::string> FormatChat(const std::string& model,
                                           const std::vector<ChatMessage>& messages,
                                           bool add_generation_prompt) = 0;
  virtual StatusOr<ModelInfo> GetModelInfo(const std::string& model) = 0;
  // Adds a model while requests run (weights pulled after start). It loads on first use.
  // kAlreadyExists for a known name, kNotFound when the file is missing.
  virtual Status AddModel(const ModelConfig& config) = 0;
  virtual EngineStats Stats(const std::string& model) = 0;
  // Embeds `request.texts` with the model's own pooling, batching them (and concurrent
  // requests) into shared decode steps. Blocks until done. Returns kNotFound for an unknown
  // model, kInvalidArgument for a text too long (with kNone) or empty after tokenizing,
  // kResourceExhausted when the model's queue is full, kInternal when it fails to load or is
  // not an embedding model (a reranker), kFailedPrecondition from engines without embeddings.
  virtual StatusOr<EmbedResult> Embed(const EmbedRequest& request);

  // Hot model changes (the default implementations refuse with kFailedPrecondition).
  //
  // Serves `config.name` from `config` (a new file or settings) from now on. When the old
  // model is loaded, the new one is loaded first: requests keep going to the old one until the
  // new one is ready, then new requests go to the new one while the old one finishes its
  // queued and running jobs and unloads. When the new one cannot load (a cut or invalid file,
  // not enough memory) the old one keeps serving and the error is returned: kInvalidArgument
  // (bad file), kUnavailable (memory), kInternal (load failure). kNotFound: unknown name or
  // missing file.
  virtual Status ReplaceModel(const ModelConfig& config);
  // Stops serving `name`: new requests get kNotFound; its queued and running jobs finish
  // normally, then its runner unloads and its memory is freed. kNotFound: unknown name.
  virtual Status RemoveModel(const std::string& name);
  // Models removed or replaced whose runner has not unloaded yet.
  virtual int DrainingModels() { return 0; }
  // The configuration each served model runs with (by name).
  virtual std::vector<ModelConfig> Models() { return {}; }
};

inline Status Engine::ReplaceModel(const ModelConfig&) {
  return Status::FailedPrecondition("This engine cannot replace models.");
}
inline Status Engine::RemoveModel(const std::string&) {
  return Status::FailedPrecondition("This engine cannot remove models.");
}

inline StatusOr<EmbedResult> Engine::Embed(const EmbedRequest&) {
  return Status::FailedPrecondition("This engine does not compute embeddings.");
}

}  // namespace basalt::engine
