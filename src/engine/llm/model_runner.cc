#include "engine/llm/model_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <exception>
#include <utility>

#include "engine/llm/chat_format.h"
#include "engine/llm/llama_runtime.h"

namespace basalt::engine::llm {
namespace {

constexpr int kMaxDefaultContext = 4096;  // per slot, when the config leaves it to us
constexpr int kMaxUbatch = 512;           // llama-server's default physical batch
// One KV stream per slot (see model_runner.h). A unified buffer makes every sequence attend
// over the highest cell in use by any slot, idle cached prefixes included; measured about
// 2x slower decode on stories260K with 8 streams of 512 tokens.
constexpr bool kUnifiedKv = false;
constexpr char kTooLong[] = "Input is too long for requested model.";
constexpr char kTooManyRequests[] = "Too many requests, please wait before trying again.";

int64_t MillisBetween(std::chrono::steady_clock::time_point from,
                      std::chrono::steady_clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

std::string MetaString(const llama_model* model, const char* key) {
  char buf[256];
  const int32_t n = llama_model_meta_val_str(model, key, buf, sizeof(buf));
  return n < 0 ? std::string() : std::string(buf);
}

}  // namespace

ModelRunner::ModelRunner(const ModelConfig& config) : config_(config) {}

StatusOr<std::unique_ptr<ModelRunner>> ModelRunner::Load(const ModelConfig& config) {
  try {
    std::unique_ptr<ModelRunner> runner(new ModelRunner(config));
    Status status = runner->Init();
    if (!status.ok()) return status;
    return runner;
  } catch (const std::exception& e) {
    return Status::Internal("Failed to load model '" + config.name + "': " + e.what());
  }
}

Status ModelRunner::Init() {
  InitLlamaRuntime();
  const Clock::time_point load_start = Clock::now();
  const std::string failed =
      "Failed to load model '" + config_.name + "' from '" + config_.path + "'";

  llama_model_params mparams = llama_model_default_params();
  // Read the weights into memory unless asked to map them: with a mapping, a weights file
  // truncated in place while the model is loaded kills the process with SIGBUS on the next
  // page fault. A rename over the file (how `basalt models pull` writes) is safe either way.
  if (config_.use_mmap) {
    mparams.load_mode = LLAMA_LOAD_MODE_MMAP;
  } else {
    mparams.load_mode = LLAMA_LOAD_MODE_NONE;
    mparams.lazy_mode = LLAMA_LAZY_MODE_OFF;
  }
  model_ = llama_model_load_from_file(config_.path.c_str(), mparams);
  if (model_ == nullptr) return Status::Internal(failed + ": not a loadable GGUF model.");
  vocab_ = llama_model_get_vocab(model_);
  n_vocab_ = llama_vocab_n_tokens(vocab_);
  for (llama_token t = 0; t < n_vocab_; ++t) {
    const char* text = llama_vocab_get_text(vocab_, t);
    if (text != nullptr) max_token_bytes_ = std::max(max_token_bytes_, std::strlen(text));
  }

  const int parallel = std::max(1, config_.parallel);
  if (parallel > static_cast<int>(llama_max_parallel_sequences())) {
    return Status::Internal(failed + ": parallel exceeds llama.cpp's sequence limit.");
  }
  const int n_ctx_train = llama_model_n_ctx_train(model_);
  const int per_slot_default =
      n_ctx_train > 0 ? std::min(n_ctx_train, kMaxDefaultContext) : kMaxDefaultContext;
  const int n_ctx_total =
      config_.context_length > 0 ? config_.context_length : parallel * per_slot_default;
  n_ctx_slot_ = n_ctx_total / parallel;
  if (n_ctx_slot_ < 1) return Status::Internal(failed + ": context_length is below parallel.");

  const int threads = config_.threads > 0
                          ? config_.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  n_batch_ = std::max(std::max(1, config_.batch_size), parallel);

  llama_context_params cparams = llama_context_default_params();
  cparams.n_ctx = static_cast<uint32_t>(n_ctx_total);
  cparams.n_batch = static_cast<uint32_t>(n_batch_);
  cparams.n_ubatch = static_cast<uint32_t>(std::min(n_batch_, kMaxUbatch));
  cparams.n_seq_max = static_cast<uint32_t>(parallel);
  cparams.n_threads = threads;
  cparams.n_threads_batch = threads;
  cparams.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_AUTO;
  cparams.kv_unified = kUnifiedKv;
  cparams.no_perf = true;
  ctx_ = llama_init_from_model(model_, cparams);
  if (ctx_ == nullptr) return Status::Internal(failed + ": could not create its context.");
  if (!kUnifiedKv) {
    n_ctx_slot_ = std::min(n_ctx_slot_, static_cast<int>(llama_n_ctx_seq(ctx_)));
  }
  n_batch_ = std::min(n_batch_, static_cast<int>(llama_n_batch(ctx_)));
  mem_ = llama_get_memory(ctx_);
  can_share_kv_ = !llama_model_is_recurrent(model_) && !llama_model_is_hybrid(model_);

  batch_ = llama_batch_init(n_batch_, 0, 1);
  batch_allocated_ = true;
  candidates_.resize(n_vocab_);
  slots_.resize(parallel);
  for (int i = 0; i < parallel; ++i) {
    slots_[i].seq = i;
    slots_[i].cache.reserve(n_ctx_slot_);
  }

  if (const char* tmpl = llama_model_chat_template(model_, nullptr); tmpl != nullptr) {
    has_chat_template_ = true;
    chat_template_ = tmpl;
  }
  info_.name = config_.name;
  info_.context_length = n_ctx_slot_;
  info_.train_context_length = n_ctx_train;
  info_.has_chat_template = has_chat_template_;
  info_.architecture = MetaString(model_, "general.architecture");
  info_.parameter_count = static_cast<int64_t>(llama_model_n_params(model_));

  spdlog::info(
      "model '{}' loaded in {} ms ({}): {} slots x {} tokens, {} threads, batch {}, "
      "speculative {}",
      config_.name, MillisBetween(load_start, Clock::now()),
      config_.use_mmap ? "mapped" : "read into memory", parallel, n_ctx_slot_, threads, n_batch_,
      config_.speculative ? "on" : "off");
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

ModelRunner::~ModelRunner() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      wake_.store(true, std::memory_order_release);
    }
    cv_.notify_one();
    thread_.join();
  }
  if (batch_allocated_) llama_batch_free(batch_);
  if (ctx_ != nullptr) llama_free(ctx_);
  if (model_ != nullptr) llama_model_free(model_);
}

StatusOr<std::vector<llama_token>> ModelRunner::Tokenize(std::string_view text, bool add_special,
                                                         size_t max_tokens) const {
  if (text.size() > static_cast<size_t>(INT32_MAX / 2)) return Status::InvalidArgument(kTooLong);
  const int32_t len = static_cast<int32_t>(text.size());
  std::vector<llama_token> tokens(std::min(text.size() + 4, max_tokens));
  // parse_special: chat-template markers in the prompt become their special tokens, as in
  // llama-server.
  int32_t n = llama_tokenize(vocab_, text.data(), len, tokens.data(),
                             static_cast<int32_t>(tokens.size()), add_special, true);
  if (n < 0 && static_cast<size_t>(-static_cast<int64_t>(n)) > max_tokens) {
    return Status::InvalidArgument(kTooLong);
  }
  if (n < 0 && n != INT32_MIN) {
    tokens.resize(-n);
    n = llama_tokenize(vocab_, text.data(), len, tokens.data(), static_cast<int32_t>(tokens.size()),
                       add_special, true);
  }
  if (n < 0) return Status::Internal("Tokenization failed.");
  tokens.resize(n);
  return tokens;
}

StatusOr<ModelRunner::SamplerPtr> ModelRunner::MakeSampler(const GenerateRequest& request) const {
  const SamplingParams& sp = request.sampling;
  const bool greedy = !(sp.temperature > 0.0f);
  if (greedy && request.grammar.empty()) return SamplerPtr();  // argmax fast path

  llama_sampler_chain_params params = llama_sampler_chain_default_params();
  params.no_perf = true;
  SamplerPtr chain(llama_sampler_chain_init(params));
  if (!request.grammar.empty()) {
    llama_sampler* grammar = llama_sampler_init_grammar(vocab_, request.grammar.c_str(), "root");
    if (grammar == nullptr) {
      return Status::InvalidArgument("The grammar is not valid GBNF (it needs a 'root' rule).");
    }
    llama_sampler_chain_add(chain.get(), grammar);
  }
  if (greedy) {
    llama_sampler_chain_add(chain.get(), llama_sampler_init_greedy());
    return chain;
  }
  if (sp.top_k > 0) llama_sampler_chain_add(chain.get(), llama_sampler_init_top_k(sp.top_k));
  if (sp.top_p < 1.0f) {
    llama_sampler_chain_add(chain.get(), llama_sampler_init_top_p(sp.top_p, 1));
  }
  llama_sampler_chain_add(chain.get(), llama_sampler_init_temp(sp.temperature));
  llama_sampler_chain_add(chain.get(),
                          llama_sampler_init_dist(sp.seed ? *sp.seed : LLAMA_DEFAULT_SEED));
  return chain;
}

Status ModelRunner::Submit(JobId id, GenerateRequest request, std::shared_ptr<Sink> sink,
                           int* prompt_tokens) {
  auto job = std::make_unique<Job>();
  job->submitted = Clock::now();
  // Cost before length: a prompt that cannot fit is refused before any tokenizing, and the
  // tokenizer's buffer is bounded by the context, not by the body's size.
  if (request.prompt.size() > static_cast<size_t>(n_ctx_slot_) * max_token_bytes_ + 16) {
    return Status::InvalidArgument(kTooLong);
  }
  StatusOr<std::vector<llama_token>> tokens =
      Tokenize(request.prompt, request.add_special, static_cast<size_t>(n_ctx_slot_) + 1);
  if (!tokens.ok()) return tokens.status();
  job->prompt = std::move(*tokens);
  if (job->prompt.empty()) {
    const llama_token bos = llama_vocab_bos(vocab_);
    if (bos == LLAMA_TOKEN_NULL) return Status::InvalidArgument("The prompt is empty.");
    job->prompt.push_back(bos);
  }
  if (static_cast<int64_t>(job->prompt.size()) > n_ctx_slot_) {
    return Status::InvalidArgument(kTooLong);
  }
  if (prompt_tokens != nullptr) *prompt_tokens = static_cast<int>(job->prompt.size());
  StatusOr<SamplerPtr> sampler = MakeSampler(request);
  if (!sampler.ok()) return sampler.status();
  job->sampler = std::move(*sampler);
  job->id = id;
  job->max_tokens = request.sampling.max_tokens;
  job->stop = std::move(request.sampling.stop);
  job->sink = std::move(sink);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return Status::Unavailable("The model is shutting down.");
    const size_t free_slots = slots_.size() - static_cast<size_t>(busy_);
    if (queue_.size() >= static_cast<size_t>(std::max(0, config_.max_queue)) + free_slots) {
      return Status::ResourceExhausted(kTooManyRequests);
    }
    live_.insert(id);
    queue_.push_back(std::move(job));
    wake_.store(true, std::memory_order_release);
  }
  cv_.notify_one();
  return Status::Ok();
}

bool ModelRunner::Cancel(JobId id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (live_.count(id) == 0) return false;
    cancels_.push_back(id);
    wake_.store(true, std::memory_order_release);
  }
  cv_.notify_one();
  return true;
}

StatusOr<int> ModelRunner::CountTokens(std::string_view text, bool add_special) const {
  StatusOr<std::vector<llama_token>> tokens = Tokenize(text, add_special);
  if (!tokens.ok()) return tokens.status();
  return static_cast<int>(tokens->size());
}

StatusOr<std::string> ModelRunner::FormatChat(const std::vector<ChatMessage>& messages,
                                              bool add_generation_prompt) const {
  return FormatChatMessages(has_chat_template_ ? chat_template_.c_str() : nullptr, messages,
                            add_generation_prompt);
}

EngineStats ModelRunner::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  EngineStats stats;
  stats.queued = static_cast<int>(queue_.size());
  stats.busy_slots = busy_;
  stats.total_slots = static_cast<int>(slots_.size());
  stats.kv_cells_used = kv_cells_used_.load(std::memory_order_relaxed);
  stats.kv_cells_total = static_cast<int64_t>(n_ctx_slot_) * static_cast<int64_t>(slots_.size());
  stats.generated_tokens_total = generated_total_.load(std::memory_order_relaxed);
  stats.draft_tokens_total = drafted_total_.load(std::memory_order_relaxed);
  stats.draft_accepted_total = accepted_total_.load(std::memory_order_relaxed);
  return stats;
}

// ---- Scheduler thread ----

void ModelRunner::WarmUp() {
  llama_token warm = llama_vocab_bos(vocab_);
  if (warm == LLAMA_TOKEN_NULL) warm = 0;
  batch_.n_tokens = 0;
  AddToBatch(warm, 0, 0, true);
  if (llama_decode(ctx_, batch_) != 0) spdlog::debug("model '{}': warm-up failed", config_.name);
  llama_synchronize(ctx_);
  llama_memory_clear(mem_, true);
  batch_.n_tokens = 0;
}

void ModelRunner::Run() {
  // Every llama_decode, this warm-up included, runs on this thread: with OpenMP each calling
  // thread gets its own worker team, and a second team would make libgomp count more
  // threads than cores, stop spinning at barriers and run single-token decode ~4x slower.
  WarmUp();
  while (true) {
    if (need_admit_ || wake_.load(std::memory_order_acquire)) {
      if (!Admit()) break;
    }
    if (n_active_ == 0) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return wake_.load(std::memory_order_relaxed); });
      continue;
    }
    Step();
  }
  Shutdown();
}

bool ModelRunner::Admit() {
  std::vector<std::unique_ptr<Job>> to_start;
  std::vector<std::unique_ptr<Job>> cancelled_queued;
  std::vector<JobId> cancelled_running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_.store(false, std::memory_order_relaxed);
    need_admit_ = false;
    if (stop_) return false;
    for (JobId id : cancels_) {
      auto it = std::find_if(queue_.begin(), queue_.end(),
                             [id](const std::unique_ptr<Job>& job) { return job->id == id; });
      if (it != queue_.end()) {
        live_.erase(id);
        cancelled_queued.push_back(std::move(*it));
        queue_.erase(it);
      } else {
        cancelled_running.push_back(id);
      }
    }
    cancels_.clear();
    while (!queue_.empty() && busy_ < static_cast<int>(slots_.size())) {
      to_start.push_back(std::move(queue_.front()));
      queue_.pop_front();
      ++busy_;
    }
  }
  for (const auto& job : cancelled_queued) FinishQueued(*job, Status::Ok());
  for (JobId id : cancelled_running) {
    for (Slot& slot : slots_) {
      if (slot.job != nullptr && slot.job->id == id) {
        Finish(slot, Status::Ok(), FinishReason::kCancelled);
        break;
      }
    }
  }
  for (auto& job : to_start) StartJob(std::move(job));
  return true;
}

void ModelRunner::StartJob(std::unique_ptr<Job> job) {
  // The free slot whose cache shares the longest prefix with the prompt; else the least
  // recently used one.
  Slot* best = nullptr;
  size_t best_common = 0;
  for (Slot& slot : slots_) {
    if (slot.state != SlotState::kFree) continue;
    const size_t limit = std::min(slot.cache.size(), job->prompt.size());
    size_t common = 0;
    while (common < limit && slot.cache[common] == job->prompt[common]) ++common;
    if (best == nullptr || common > best_common ||
        (common == best_common && slot.last_used < best->last_used)) {
      best = &slot;
      best_common = common;
    }
  }
  Slot& slot = *best;  // Admit never starts more jobs than there are free slots

  // Re-decode at least the last prompt token: its logits give the first output token.
  int keep = static_cast<int>(std::min(best_common, job->prompt.size() - 1));
  if (keep > 0 && llama_memory_seq_pos_min(mem_, slot.seq) > 0) keep = 0;  // SWA-trimmed
  if (keep < static_cast<int>(slot.cache.size())) {
    if (!llama_memory_seq_rm(mem_, slot.seq, keep, -1)) {
      llama_memory_seq_rm(mem_, slot.seq, -1, -1);
      keep = 0;
    }
    slot.cache.resize(keep);
  }

  job->started = Clock::now();
  slot.job = std::move(job);
  slot.state = SlotState::kIngesting;
  slot.cached_prompt_tokens = keep;
  slot.completion_tokens = 0;
  slot.i_batch = -1;
  slot.n_chunk = 0;
  slot.draft.clear();
  slot.drafts.Reset();
  slot.text.Reset(slot.job->stop);
  slot.out.clear();
  ++n_active_;
  ingest_order_.push_back(static_cast<int>(&slot - slots_.data()));
}

void ModelRunner::FinishQueued(const Job& job, const Status& status) {
  Usage usage;
  usage.prompt_tokens = static_cast<int>(job.prompt.size());
  Timing timing;
  timing.total_ms = MillisBetween(job.submitted, Clock::now());
  timing.queued_ms = timing.total_ms;
  job.sink->OnDone(status, FinishReason::kCancelled, std::string(), usage, timing);
}

void ModelRunner::Shutdown() {
  const Status status = Status::Cancelled("The model is shutting down.");
  std::deque<std::unique_ptr<Job>> queued;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queued.swap(queue_);
    for (const auto& job : queued) live_.erase(job->id);
    cancels_.clear();
  }
  for (const auto& job : queued) FinishQueued(*job, status);
  for (Slot& slot : slots_) {
    if (slot.job != nullptr) Finish(slot, status, FinishReason::kCancelled);
  }
}

}  // namespace basalt::engine::llm
