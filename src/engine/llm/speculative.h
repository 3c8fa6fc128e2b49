// Speculative decoding by prompt lookup: draft tokens are copied from the sequence itself
// (prompt and output so far) after the latest earlier occurrence of its last few tokens, and
// the model verifies them all in one batch. Only greedy requests draft (temperature 0 and no
// grammar): a drafted token is kept exactly when it equals the argmax at its position, so the
// output is the same token for token as without drafting. Sampled requests never draft.
#pragma once

#include <cstddef>
#include <vector>

#include "llama.h"

namespace basalt::engine::llm {

// Finds the longest n-gram (n from kMaxNgram down to kMinNgram) ending the sequence
// `context` + `last` that also occurs earlier in it, and puts into `draft` up to `max_draft`
// tokens that followed its latest earlier occurrence. `draft` is empty when none matches.
void LookupDraft(const std::vector<llama_token>& context, llama_token last, int max_draft,
                 std::vector<llama_token>* draft);

// Per-sequence draft length and on/off switch driven by acceptance. Drafts grow while they are
// accepted whole and shrink to what was accepted; a run of rejected drafts pauses drafting for
// a number of tokens that doubles each time, so work that does not copy pays almost nothing.
class DraftPolicy {
 public:
  static constexpr int kMaxDraft = 16;

  void Reset();
  // Draft tokens to try at this step (0: do not draft now). Counts one step of any pause.
  int NextLength();
  // Outcome of a draft of `drafted` tokens of which the first `accepted` were right.
  void Update(int drafted, int accepted);
  int drafted_total() const { return drafted_total_; }
  int accepted_total() const { return accepted_total_; }

 private:
  int length_ = 4;
  double rate_ = 0.5;   // moving average of the accepted fraction
  int paused_for_ = 0;  // steps left without drafting
  int next_pause_ = 32;
  int drafted_total_ = 0;
  int accepted_total_ = 0;
};

}  // namespace basalt::engine::llm
