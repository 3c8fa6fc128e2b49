// CLIP's byte-level BPE tokenizer (vocab.json + merges.txt, as in a diffusers `tokenizer/`
// folder): lower-cases and cleans whitespace, splits with CLIP's pattern, merges by rank,
// wraps in <|startoftext|> ... <|endoftext|>, truncates to the context and pads (with
// <|endoftext|> for SD 1.x, id 0 "!" for SD 2.x, as tokenizer_config.json's pad_token says).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"

namespace basalt::image {

class ClipTokenizer {
 public:
  // kFailedPrecondition naming the file on malformed JSON or merges. `pad_token` as found in
  // tokenizer_config.json ("<|endoftext|>" when empty).
  static StatusOr<ClipTokenizer> Load(const std::string& vocab_json, const std::string& merges_txt,
                                      const std::string& pad_token = "");
  // Reads vocab.json, merges.txt and (optional) tokenizer_config.json / special_tokens_map.json
  // from a folder.
  static StatusOr<ClipTokenizer> LoadDir(const std::string& dir);

  // Token ids without BOS/EOS and without padding.
  std::vector<int> Tokenize(std::string_view text) const;
  // BOS + ids (truncated to context - 2) + EOS, padded to `context` (77). `*used` gets the
  // count before padding.
  std::vector<int> Encode(std::string_view text, int context = 77, int* used = nullptr) const;

  int bos_id() const { return bos_; }
  int eos_id() const { return eos_; }
  int pad_id() const { return pad_; }
  size_t vocab_size() const { return vocab_.size(); }

 private:
  std::unordered_map<std::string, int> vocab_;
  std::map<std::pair<std::string, std::string>, int> ranks_;
  int bos_ = 49406, eos_ = 49407, pad_ = 49407;
  // Matched in the raw text as transformers does with special tokens (so a pad token "!" in a
  // prompt is the pad id, as in SD 2.x's tokenizer).
  std::string pad_token_ = "<|endoftext|>";
};

}  // namespace basalt::image
