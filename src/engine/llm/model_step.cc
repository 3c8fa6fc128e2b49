// ModelRunner's decode step (scheduler thread only): which tokens go into each batch, prefix
// sharing between slots, speculative verification and handing tokens to the sinks.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>

#include "engine/llm/model_runner.h"

namespace basalt::engine::llm {
namespace {

// A prefix shorter than this is recomputed rather than copied from another slot: a copy moves
// the source's whole KV stream, which costs about as much as decoding a few tokens.
constexpr size_t kMinSharedPrefix = 32;
// Draft tokens in one batch, all sequences together, as a share of the batch: prompt chunks
// of waiting requests keep the rest.
constexpr int kDraftShareOfBatch = 4;

int64_t MillisBetween(std::chrono::steady_clock::time_point from,
                      std::chrono::steady_clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

size_t CommonPrefix(const std::vector<llama_token>& a, const std::vector<llama_token>& b,
                    size_t limit) {
  limit = std::min({limit, a.size(), b.size()});
  size_t n = 0;
  while (n < limit && a[n] == b[n]) ++n;
  return n;
}

}  // namespace

void ModelRunner::AddToBatch(llama_token token, llama_pos pos, llama_seq_id seq, bool logits) {
  const int i = batch_.n_tokens++;
  batch_.token[i] = token;
  batch_.pos[i] = pos;
  batch_.n_seq_id[i] = 1;
  batch_.seq_id[i][0] = seq;
  batch_.logits[i] = logits ? 1 : 0;
}

bool ModelRunner::SharePrefix(Slot& slot) {
  if (!can_share_kv_) return false;
  const std::vector<llama_token>& prompt = slot.job->prompt;
  // The last prompt token is always decoded: its logits give the first output token.
  const size_t limit = prompt.size() - 1;
  const size_t have = slot.cache.size();  // while ingesting, the cache is a prompt prefix
  if (have + kMinSharedPrefix > limit) return false;
  Slot* source = nullptr;
  size_t best = have + kMinSharedPrefix - 1;
  for (Slot& other : slots_) {
    if (&other == &slot || other.cache.size() <= best) continue;
    const size_t common = CommonPrefix(other.cache, prompt, limit);
    if (common > best && llama_memory_seq_pos_min(mem_, other.seq) <= 0) {
      source = &other;
      best = common;
    }
  }
  // An earlier request still computing a longer shared prefix: wait for it, then copy.
  for (int index : ingest_order_) {
    const Slot& other = slots_[static_cast<size_t>(index)];
    if (&other == &slot) break;
    const size_t common = CommonPrefix(other.job->prompt, prompt, limit);
    if (common > best && other.cache.size() < common) return true;
  }
  if (source == nullptr) return false;
  // A copy between KV streams takes the whole stream (llama.cpp applies it at the next
  // decode, before the batch); the tail past the shared prefix is then dropped.
  llama_memory_seq_rm(mem_, slot.seq, -1, -1);
  llama_memory_seq_cp(mem_, source->seq, slot.seq, -1, -1);
  if (!llama_memory_seq_rm(mem_, slot.seq, static_cast<llama_pos>(best), -1)) {
    llama_memory_seq_rm(mem_, slot.seq, -1, -1);
    slot.cache.clear();
    return false;
  }
  slot.cache.assign(source->cache.begin(), source->cache.begin() + static_cast<ptrdiff_t>(best));
  slot.cached_prompt_tokens = std::max(slot.cached_prompt_tokens, static_cast<int>(best));
  return false;
}

void ModelRunner::AddDraft(Slot& slot, int* budget) {
  slot.draft.clear();
  if (!config_.speculative || slot.job->sampler != nullptr || *budget <= 0) return;
  // Room: the batch's share, the KV stream, and the tokens still to generate (the first
  // output of the step comes without a draft).
  int room = std::min(*budget, n_ctx_slot_ - static_cast<int>(slot.cache.size()) - 1);
  if (slot.job->max_tokens > 0) {
    room = std::min(room, slot.job->max_tokens - slot.completion_tokens - 1);
  }
  if (room <= 0) return;
  const int length = slot.drafts.NextLength();
  if (length <= 0) return;
  LookupDraft(slot.cache, slot.next_token, std::min(room, length), &slot.draft);
  const llama_pos pos = static_cast<llama_pos>(slot.cache.size());
  for (size_t k = 0; k < slot.draft.size(); ++k) {
    AddToBatch(slot.draft[k], pos + 1 + static_cast<llama_pos>(k), slot.seq, true);
  }
  *budget -= static_cast<int>(slot.draft.size());
}

void ModelRunner::Step() {
  batch_.n_tokens = 0;
  // One token for every generating slot (plus its draft), then prompt chunks in arrival
  // order: whole prompts while they fit, so the earliest requests start generating first.
  int generating = 0;
  for (const Slot& slot : slots_) generating += slot.state == SlotState::kGenerating ? 1 : 0;
  int draft_budget = std::min(n_batch_ / kDraftShareOfBatch, n_batch_ - generating);
  for (Slot& slot : slots_) {
    slot.i_batch = -1;
    slot.n_chunk = 0;
    slot.draft.clear();
    if (slot.state != SlotState::kGenerating) continue;
    slot.i_batch = batch_.n_tokens;
    AddToBatch(slot.next_token, static_cast<llama_pos>(slot.cache.size()), slot.seq, true);
    AddDraft(slot, &draft_budget);
    slot.n_chunk = 1 + static_cast<int>(slot.draft.size());
  }
  for (int index : ingest_order_) {
    const int budget = n_batch_ - batch_.n_tokens;
    if (budget <= 0) break;
    Slot& slot = slots_[static_cast<size_t>(index)];
    if (SharePrefix(slot)) continue;  // waits for an earlier request's shared prefix
    const std::vector<llama_token>& prompt = slot.job->prompt;
    const int start = static_cast<int>(slot.cache.size());
    const int total = static_cast<int>(prompt.size());
    const int n = std::min(budget, total - start);
    for (int k = 0; k < n; ++k) {
      AddToBatch(prompt[static_cast<size_t>(start + k)], start + k, slot.seq,
                 start + k == total - 1);
    }
    slot.n_chunk = n;
    if (start + n == total) slot.i_batch = batch_.n_tokens - 1;
  }
  if (batch_.n_tokens == 0) return;

  const int32_t rc = llama_decode(ctx_, batch_);
  if (rc != 0) {
    FailBatch(rc);
    return;
  }

  for (Slot& slot : slots_) {
    if (slot.n_chunk == 0) continue;
    if (slot.state == SlotState::kGenerating) {
      slot.cache.push_back(slot.next_token);  // accepted draft tokens are added in Verify
    } else {
      const auto first = slot.job->prompt.begin() + static_cast<ptrdiff_t>(slot.cache.size());
      slot.cache.insert(slot.cache.end(), first, first + slot.n_chunk);
    }
  }

  for (Slot& slot : slots_) {
    if (slot.i_batch < 0 || slot.job == nullptr) continue;
    if (!slot.draft.empty()) {
      Verify(slot);
      continue;
    }
    llama_token token = 0;
    if (Sample(slot, slot.i_batch, &token)) OnToken(slot, token);
  }
  int64_t used = 0;
  for (const Slot& slot : slots_) used += static_cast<int64_t>(slot.cache.size());
  kv_cells_used_.store(used, std::memory_order_relaxed);
}

bool ModelRunner::Sample(Slot& slot, int i_batch, llama_token* token) {
  Job& job = *slot.job;
  const float* logits = llama_get_logits_ith(ctx_, i_batch);
  if (logits == nullptr) {
    Finish(slot, Status::Internal("No logits after decoding."), FinishReason::kError);
    return false;
  }
  if (job.sampler == nullptr) {
    *token = static_cast<llama_token>(std::max_element(logits, logits + n_vocab_) - logits);
    return true;
  }
  for (int t = 0; t < n_vocab_; ++t) candidates_[t] = {t, logits[t], 0.0f};
  llama_token_data_array cur = {candidates_.data(), candidates_.size(), -1, false};
  llama_sampler_apply(job.sampler.get(), &cur);
  if (cur.selected < 0 || cur.selected >= static_cast<int64_t>(cur.size)) {
    Finish(slot, Status::Internal("Sampling selected no token."), FinishReason::kError);
    return false;
  }
  *token = cur.data[cur.selected].id;
  llama_sampler_accept(job.sampler.get(), *token);
  return true;
}

void ModelRunner::Verify(Slot& slot) {
  // The batch held next_token (now in the cache) and then the draft. The logits after each
  // of them give the greedy token for the next position: while that equals the drafted token
  // the draft's KV is valid and the walk goes on; the first mismatch is the next input token.
  const size_t drafted = slot.draft.size();
  int accepted = 0;
  for (size_t k = 0; k <= drafted; ++k) {
    llama_token token = 0;
    if (!Sample(slot, slot.i_batch + static_cast<int>(k), &token)) break;
    const bool match = k < drafted && token == slot.draft[k];
    OnToken(slot, token);
    if (slot.job == nullptr || !match) break;
    slot.cache.push_back(token);
    ++accepted;
  }
  slot.drafts.Update(static_cast<int>(drafted), accepted);
  drafted_total_.fetch_add(static_cast<int64_t>(drafted), std::memory_order_relaxed);
  accepted_total_.fetch_add(accepted, std::memory_order_relaxed);
  // Rejected draft tokens leave the KV so that it holds exactly the cache.
  if (static_cast<size_t>(accepted) < drafted &&
      !llama_memory_seq_rm(mem_, slot.seq, static_cast<llama_pos>(slot.cache.size()), -1)) {
    llama_memory_seq_rm(mem_, slot.seq, -1, -1);
    slot.cache.clear();
    if (slot.job != nullptr) {
      Finish(slot, Status::Internal("Could not drop rejected draft tokens."), FinishReason::kError);
    }
  }
}

void ModelRunner::FailBatch(int code) {
  spdlog::warn("model '{}': llama_decode returned {}", config_.name, code);
  const Status status =
      Status::Internal("Decoding failed (llama_decode returned " + std::to_string(code) + ").");
  for (Slot& slot : slots_) {
    if (slot.n_chunk == 0 || slot.job == nullptr) continue;
    llama_memory_seq_rm(mem_, slot.seq, -1, -1);
    slot.cache.clear();
    Finish(slot, status, FinishReason::kError);
  }
}

void ModelRunner::OnToken(Slot& slot, llama_token token) {
  Job& job = *slot.job;
  if (slot.state == SlotState::kIngesting) {
    slot.state = SlotState::kGenerating;
    job.first_token = Clock::now();
    ingest_order_.erase(std::find(ingest_order_.begin(), ingest_order_.end(),
                                  static_cast<int>(&slot - slots_.data())));
  }
  if (llama_vocab_is_eog(vocab_, token)) {
    Finish(slot, Status::Ok(), FinishReason::kEndOfGeneration);
    return;
  }
  ++slot.completion_tokens;
  generated_total_.fetch_add(1, std::memory_order_relaxed);

  char buf[128];
  int32_t n = llama_token_to_piece(vocab_, token, buf, sizeof(buf), 0, false);
  bool stopped = false;
  if (n >= 0) {
    stopped = slot.text.Append(std::string_view(buf, n), &slot.out);
  } else {
    std::string big(static_cast<size_t>(-n), '\0');
    n = llama_token_to_piece(vocab_, token, big.data(), static_cast<int32_t>(big.size()), 0, false);
    if (n > 0) stopped = slot.text.Append(std::string_view(big.data(), n), &slot.out);
  }
  if (!slot.out.empty()) {
    job.sink->OnText(slot.out);
    slot.out.clear();
  }
  if (stopped) {
    Finish(slot, Status::Ok(), FinishReason::kStopSequence);
  } else if ((job.max_tokens > 0 && slot.completion_tokens >= job.max_tokens) ||
             static_cast<int>(slot.cache.size()) >= n_ctx_slot_) {
    Finish(slot, Status::Ok(), FinishReason::kLength);
  } else {
    slot.next_token = token;
  }
}

void ModelRunner::Finish(Slot& slot, const Status& status, FinishReason reason) {
  std::unique_ptr<Job> job = std::move(slot.job);
  const Clock::time_point now = Clock::now();
  if (reason == FinishReason::kEndOfGeneration || reason == FinishReason::kLength) {
    slot.text.Flush(&slot.out);
    if (!slot.out.empty()) job->sink->OnText(slot.out);
  }
  slot.out.clear();
  if (slot.state == SlotState::kIngesting) {
    ingest_order_.erase(std::find(ingest_order_.begin(), ingest_order_.end(),
                                  static_cast<int>(&slot - slots_.data())));
  }
  slot.state = SlotState::kFree;
  slot.i_batch = -1;
  slot.n_chunk = 0;
  slot.last_used = ++use_counter_;
  --n_active_;

  Usage usage;
  usage.prompt_tokens = static_cast<int>(job->prompt.size());
  usage.completion_tokens = slot.completion_tokens;
  usage.cached_prompt_tokens = slot.cached_prompt_tokens;
  Timing timing;
  timing.queued_ms = MillisBetween(job->submitted, job->started);
  if (job->first_token != Clock::time_point()) {
    timing.first_token_ms = MillisBetween(job->submitted, job->first_token);
  }
  timing.total_ms = MillisBetween(job->submitted, now);
  const std::string stop =
      reason == FinishReason::kStopSequence ? slot.text.matched_stop() : std::string();
  {
    std::lock_guard<std::mutex> lock(mu_);
    --busy_;
    live_.erase(job->id);
  }
  need_admit_ = true;
  job->sink->OnDone(status, reason, stop, usage, timing);
}

}  // namespace basalt::engine::llm
