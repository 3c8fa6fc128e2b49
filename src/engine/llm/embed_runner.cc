#include "engine/llm/embed_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstring>
#include <exception>
#include <utility>

#include "engine/llm/llama_runtime.h"

namespace basalt::engine::llm {
namespace {

// Longest text (in tokens) when neither the catalog nor the GGUF says less. Encoder models
// need a whole text in one micro-batch, and attention over a micro-batch grows with its
// square, so this also bounds a step's memory.
constexpr int kDefaultMaxTextTokens = 2048;
// Sequences (texts) per decode step.
constexpr int kMaxSeqsPerStep = 64;
constexpr char kTooLong[] = "Input is too long for requested model.";
constexpr char kTooManyRequests[] = "Too many requests, please wait before trying again.";

StatusOr<enum llama_pooling_type> ParsePooling(const std::string& name) {
  if (name.empty()) return LLAMA_POOLING_TYPE_UNSPECIFIED;
  if (name == "mean") return LLAMA_POOLING_TYPE_MEAN;
  if (name == "cls") return LLAMA_POOLING_TYPE_CLS;
  if (name == "last") return LLAMA_POOLING_TYPE_LAST;
  return Status::InvalidArgument("Unknown pooling '" + name + "' (expected mean, cls or last).");
}

}  // namespace

EmbedRunner::EmbedRunner(const ModelConfig& config, const std::string& pooling)
    : config_(config), pooling_override_(pooling) {}

StatusOr<std::unique_ptr<EmbedRunner>> EmbedRunner::Load(const ModelConfig& config,
                                                         const std::string& pooling) {
  try {
    std::unique_ptr<EmbedRunner> runner(new EmbedRunner(config, pooling));
    Status status = runner->Init();
    if (!status.ok()) return status;
    return runner;
  } catch (const std::exception& e) {
    return Status::Internal("Failed to load embedding model '" + config.name + "': " + e.what());
  }
}

Status EmbedRunner::Init() {
  InitLlamaRuntime();
  const auto load_start = std::chrono::steady_clock::now();
  const std::string failed =
      "Failed to load embedding model '" + config_.name + "' from '" + config_.path + "'";
  StatusOr<enum llama_pooling_type> wanted = ParsePooling(pooling_override_);
  if (!wanted.ok()) return Status::Internal(failed + ": " + wanted.status().message());

  llama_model_params mparams = llama_model_default_params();
  if (config_.use_mmap) {
    mparams.load_mode = LLAMA_LOAD_MODE_MMAP;
  } else {
    mparams.load_mode = LLAMA_LOAD_MODE_NONE;
    mparams.lazy_mode = LLAMA_LAZY_MODE_OFF;
  }
  model_ = llama_model_load_from_file(config_.path.c_str(), mparams);
  if (model_ == nullptr) return Status::Internal(failed + ": not a loadable GGUF model.");
  vocab_ = llama_model_get_vocab(model_);

  const int n_ctx_train = llama_model_n_ctx_train(model_);
  int max_text =
      n_ctx_train > 0 ? std::min(n_ctx_train, kDefaultMaxTextTokens) : kDefaultMaxTextTokens;
  if (config_.context_length > 0) {
    max_text =
        n_ctx_train > 0 ? std::min(config_.context_length, n_ctx_train) : config_.context_length;
  }
  max_text_tokens_ = std::max(1, max_text);
  n_batch_ = std::max(max_text_tokens_, std::max(1, config_.batch_size));
  n_seq_max_ = static_cast<int>(std::min<size_t>(kMaxSeqsPerStep, llama_max_parallel_sequences()));
  const int threads = config_.threads > 0
                          ? config_.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));

  auto make_context = [&](enum llama_pooling_type pooling) {
    llama_context_params cparams = llama_context_default_params();
    cparams.embeddings = true;
    cparams.pooling_type = pooling;
    // One micro-batch per step: an encoder needs each text whole in one micro-batch.
    cparams.n_ctx = static_cast<uint32_t>(n_batch_);
    cparams.n_batch = static_cast<uint32_t>(n_batch_);
    cparams.n_ubatch = static_cast<uint32_t>(n_batch_);
    cparams.n_seq_max = static_cast<uint32_t>(n_seq_max_);
    // The texts of a step share the cells, cleared after each step.
    cparams.kv_unified = true;
    cparams.n_threads = threads;
    cparams.n_threads_batch = threads;
    cparams.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cparams.no_perf = true;
    return llama_init_from_model(model_, cparams);
  };
  ctx_ = make_context(*wanted);
  if (ctx_ == nullptr) return Status::Internal(failed + ": could not create its context.");
  pooling_ = llama_pooling_type(ctx_);
  if (pooling_ == LLAMA_POOLING_TYPE_NONE || pooling_ == LLAMA_POOLING_TYPE_UNSPECIFIED) {
    // A generative model names no pooling: average its last hidden states.
    llama_free(ctx_);
    ctx_ = make_context(LLAMA_POOLING_TYPE_MEAN);
    if (ctx_ == nullptr) return Status::Internal(failed + ": could not create its context.");
    pooling_ = llama_pooling_type(ctx_);
  }
  if (pooling_ == LLAMA_POOLING_TYPE_RANK) {
    return Status::Internal(failed + ": it is a reranking model, not an embedding model.");
  }
  n_embd_ = llama_model_n_embd_out(model_);
  if (n_embd_ <= 0) n_embd_ = llama_model_n_embd(model_);
  mem_ = llama_get_memory(ctx_);
  batch_ = llama_batch_init(n_batch_, 0, 1);
  batch_allocated_ = true;

  spdlog::info(
      "embedding model '{}' loaded in {} ms: {} dimensions, {} pooling, up to {} tokens a text, "
      "{} tokens and {} texts a step, {} threads",
      config_.name,
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                            load_start)
          .count(),
      n_embd_, pooling_name(), max_text_tokens_, n_batch_, n_seq_max_, threads);
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

EmbedRunner::~EmbedRunner() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  if (batch_allocated_) llama_batch_free(batch_);
  if (ctx_ != nullptr) llama_free(ctx_);
  if (model_ != nullptr) llama_model_free(model_);
}

const char* EmbedRunner::pooling_name() const {
  switch (pooling_) {
    case LLAMA_POOLING_TYPE_MEAN:
      return "mean";
    case LLAMA_POOLING_TYPE_CLS:
      return "cls";
    case LLAMA_POOLING_TYPE_LAST:
      return "last";
    default:
      return "other";
  }
}

int64_t EmbedRunner::steps() const {
  std::lock_guard<std::mutex> lock(mu_);
  return steps_;
}

int64_t EmbedRunner::texts_embedded() const {
  std::lock_guard<std::mutex> lock(mu_);
  return texts_embedded_;
}

StatusOr<std::vector<llama_token>> EmbedRunner::TokenizeOne(std::string_view text,
                                                            EmbedTruncate truncate) const {
  if (text.size() > static_cast<size_t>(INT32_MAX / 2)) return Status::InvalidArgument(kTooLong);
  // The text without specials first (user text never becomes control tokens), then the
  // model's own start and end markers around what is kept.
  const int32_t len = static_cast<int32_t>(text.size());
  std::vector<llama_token> body(text.size() + 1);
  int32_t n = llama_tokenize(vocab_, text.data(), len, body.data(),
                             static_cast<int32_t>(body.size()), false, false);
  if (n < 0 && n != INT32_MIN) {
    body.resize(-n);
    n = llama_tokenize(vocab_, text.data(), len, body.data(), static_cast<int32_t>(body.size()),
                       false, false);
  }
  if (n < 0) return Status::Internal("Tokenization failed.");
  body.resize(n);

  std::vector<llama_token> head, tail;
  if (llama_vocab_get_add_bos(vocab_) && llama_vocab_bos(vocab_) != LLAMA_TOKEN_NULL) {
    head.push_back(llama_vocab_bos(vocab_));
  }
  if (llama_vocab_get_add_eos(vocab_) && llama_vocab_eos(vocab_) != LLAMA_TOKEN_NULL) {
    tail.push_back(llama_vocab_eos(vocab_));
  }
  if (llama_vocab_get_add_sep(vocab_) && llama_vocab_sep(vocab_) != LLAMA_TOKEN_NULL) {
    tail.push_back(llama_vocab_sep(vocab_));
  }
  const size_t room = static_cast<size_t>(max_text_tokens_);
  const size_t specials = head.size() + tail.size();
  if (body.size() + specials > room) {
    if (truncate == EmbedTruncate::kNone || specials >= room) {
      return Status::InvalidArgument(kTooLong);
    }
    const size_t keep = room - specials;
    if (truncate == EmbedTruncate::kEnd) {
      body.resize(keep);
    } else {
      body.erase(body.begin(), body.end() - static_cast<std::ptrdiff_t>(keep));
    }
  }
  std::vector<llama_token> out;
  out.reserve(body.size() + specials);
  out.insert(out.end(), head.begin(), head.end());
  out.insert(out.end(), body.begin(), body.end());
  out.insert(out.end(), tail.begin(), tail.end());
  if (out.empty()) {
    return Status::InvalidArgument("The text is empty: there is nothing to embed.");
  }
  return out;
}

StatusOr<EmbedResult> EmbedRunner::Embed(const std::vector<std::string>& texts,
                                         EmbedTruncate truncate) {
  auto job = std::make_shared<Job>();
  job->tokens.reserve(texts.size());
  for (const std::string& text : texts) {
    StatusOr<std::vector<llama_token>> tokens = TokenizeOne(text, truncate);
    if (!tokens.ok()) return tokens.status();
    job->result.token_counts.push_back(static_cast<int>(tokens->size()));
    job->tokens.push_back(std::move(*tokens));
  }
  job->result.vectors.resize(texts.size());
  if (texts.empty()) return std::move(job->result);

  std::unique_lock<std::mutex> lock(mu_);
  if (stop_) return Status::Unavailable("The model is shutting down.");
  if (queue_.size() >= static_cast<size_t>(std::max(0, config_.max_queue)) + 1) {
    return Status::ResourceExhausted(kTooManyRequests);
  }
  queue_.push_back(job);
  cv_.notify_all();
  job->cv.wait(lock, [&] { return job->done == job->tokens.size() || !job->status.ok(); });
  if (!job->status.ok()) return job->status;
  return std::move(job->result);
}

std::vector<EmbedRunner::Item> EmbedRunner::TakeStep() {
  std::vector<Item> items;
  int tokens = 0;
  while (!queue_.empty() && static_cast<int>(items.size()) < n_seq_max_) {
    const std::shared_ptr<Job>& job = queue_.front();
    const int n = static_cast<int>(job->tokens[job->next].size());
    if (tokens + n > n_batch_) break;  // in order: the next text waits for the next step
    tokens += n;
    items.push_back({job, job->next});
    if (++job->next == job->tokens.size()) queue_.pop_front();
  }
  return items;
}

void EmbedRunner::Run() {
  for (;;) {
    std::vector<Item> items;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) {
        for (auto& job : queue_) {
          job->status = Status::Unavailable("The model was unloaded; try again.");
          job->cv.notify_all();
        }
        queue_.clear();
        return;
      }
      items = TakeStep();
    }
    Decode(items);
  }
}

void EmbedRunner::Decode(const std::vector<Item>& items) {
  batch_.n_tokens = 0;
  for (size_t s = 0; s < items.size(); ++s) {
    const std::vector<llama_token>& tokens = items[s].job->tokens[items[s].text];
    for (size_t i = 0; i < tokens.size(); ++i) {
      const int k = batch_.n_tokens++;
      batch_.token[k] = tokens[i];
      batch_.pos[k] = static_cast<llama_pos>(i);
      batch_.n_seq_id[k] = 1;
      batch_.seq_id[k][0] = static_cast<llama_seq_id>(s);
      batch_.logits[k] = 1;
    }
  }
  const int rc = llama_decode(ctx_, batch_);
  std::vector<std::vector<float>> vectors(items.size());
  Status failed;
  if (rc != 0) {
    failed = Status::Internal("The embedding model failed to run (llama_decode " +
                              std::to_string(rc) + ").");
  } else {
    for (size_t s = 0; s < items.size() && failed.ok(); ++s) {
      const float* v = llama_get_embeddings_seq(ctx_, static_cast<llama_seq_id>(s));
      if (v == nullptr) {
        failed = Status::Internal("The embedding model returned no pooled embedding.");
        break;
      }
      vectors[s].assign(v, v + n_embd_);
    }
  }
  if (mem_ != nullptr) llama_memory_clear(mem_, true);

  std::lock_guard<std::mutex> lock(mu_);
  ++steps_;
  texts_embedded_ += static_cast<int64_t>(items.size());
  for (size_t s = 0; s < items.size(); ++s) {
    Job& job = *items[s].job;
    if (!failed.ok()) {
      if (job.status.ok()) job.status = failed;
    } else {
      job.result.vectors[items[s].text] = std::move(vectors[s]);
    }
    ++job.done;
    if (job.done == job.tokens.size() || !job.status.ok()) job.cv.notify_all();
  }
  if (!failed.ok()) {
    // The rest of a failed job's texts are not run.
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (!(*it)->status.ok()) {
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

StatusOr<std::shared_ptr<EmbedRunner>> EmbedModels::Get(const ModelConfig& config,
                                                        const std::string& pooling) {
  std::lock_guard<std::mutex> lock(mu_);
  Slot& slot = slots_[config.name];
  if (slot.path == config.path && slot.pooling == pooling) {
    if (slot.runner != nullptr) return slot.runner;
    if (!slot.load_status.ok()) return slot.load_status;
  }
  // First use, or the file or pooling changed: load (the old runner lives on in requests that
  // hold it and unloads after the last one).
  slot.path = config.path;
  slot.pooling = pooling;
  slot.runner.reset();
  StatusOr<std::unique_ptr<EmbedRunner>> loaded = EmbedRunner::Load(config, pooling);
  if (!loaded.ok()) {
    slot.load_status = loaded.status();
    return loaded.status();
  }
  slot.load_status = Status::Ok();
  slot.runner = std::move(*loaded);
  return slot.runner;
}

StatusOr<EmbedResult> EmbedModels::Embed(const ModelConfig& config, const EmbedRequest& request) {
  StatusOr<std::shared_ptr<EmbedRunner>> runner = Get(config, request.pooling);
  if (!runner.ok()) return runner.status();
  return (*runner)->Embed(request.texts, request.truncate);
}

}  // namespace basalt::engine::llm
