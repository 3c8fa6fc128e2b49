#include "engine/llm/speculative.h"

#include <algorithm>

namespace basalt::engine::llm {
namespace {

constexpr int kMaxNgram = 4;
constexpr int kMinNgram = 2;
constexpr double kMinRate = 0.25;  // below this average acceptance, pause drafting
constexpr int kMaxPause = 1024;

}  // namespace

void LookupDraft(const std::vector<llama_token>& context, llama_token last, int max_draft,
                 std::vector<llama_token>* draft) {
  draft->clear();
  const int n = static_cast<int>(context.size()) + 1;  // length of context + last
  if (max_draft <= 0) return;
  auto at = [&](int i) { return i + 1 < n ? context[static_cast<size_t>(i)] : last; };
  for (int g = std::min(kMaxNgram, n - 1); g >= kMinNgram; --g) {
    // The n-gram is at [n - g, n); look for its latest earlier start i < n - g.
    for (int i = n - g - 1; i >= 0; --i) {
      if (at(i + g - 1) != last) continue;
      int k = 0;
      while (k < g - 1 && at(i + k) == at(n - g + k)) ++k;
      if (k < g - 1) continue;
      for (int j = i + g; j < n && static_cast<int>(draft->size()) < max_draft; ++j) {
        draft->push_back(at(j));
      }
      return;
    }
  }
}

void DraftPolicy::Reset() { *this = DraftPolicy(); }

int DraftPolicy::NextLength() {
  if (paused_for_ > 0) {
    --paused_for_;
    return 0;
  }
  return length_;
}

void DraftPolicy::Update(int drafted, int accepted) {
  if (drafted <= 0) return;
  drafted_total_ += drafted;
  accepted_total_ += accepted;
  rate_ = 0.7 * rate_ + 0.3 * static_cast<double>(accepted) / drafted;
  length_ = accepted == drafted ? std::min(kMaxDraft, length_ * 2) : std::max(2, accepted + 1);
  if (rate_ < kMinRate) {
    paused_for_ = next_pause_;
    next_pause_ = std::min(kMaxPause, next_pause_ * 2);
    rate_ = 0.5;
    length_ = 4;
  } else if (accepted > 0) {
    next_pause_ = 32;
  }
}

}  // namespace basalt::engine::llm
