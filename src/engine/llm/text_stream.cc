#include "engine/llm/text_stream.h"

#include <algorithm>

namespace basalt::engine::llm {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Bytes in a character that starts with `lead`; 0 for a byte that cannot start one.
int SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Whether `byte` may follow `partial` (the lead byte and any continuation bytes so far).
// The narrowed second-byte ranges exclude overlongs, surrogates and code points > U+10FFFF.
bool ValidContinuation(std::string_view partial, unsigned char byte) {
  if (partial.size() == 1) {
    switch (static_cast<unsigned char>(partial[0])) {
      case 0xE0:
        return byte >= 0xA0 && byte <= 0xBF;
      case 0xED:
        return byte >= 0x80 && byte <= 0x9F;
      case 0xF0:
        return byte >= 0x90 && byte <= 0xBF;
      case 0xF4:
        return byte >= 0x80 && byte <= 0x8F;
      default:
        break;
    }
  }
  return byte >= 0x80 && byte <= 0xBF;
}

}  // namespace

void TextStream::Reset(const std::vector<std::string>& stops) {
  stops_.clear();
  max_stop_size_ = 0;
  for (const std::string& stop : stops) {
    if (stop.empty()) continue;
    stops_.push_back(stop);
    max_stop_size_ = std::max(max_stop_size_, stop.size());
  }
  partial_.clear();
  partial_need_ = 0;
  held_.clear();
  matched_stop_.clear();
}

void TextStream::AppendByte(unsigned char byte) {
  if (!partial_.empty()) {
    if (ValidContinuation(partial_, byte)) {
      partial_.push_back(static_cast<char>(byte));
      if (static_cast<int>(partial_.size()) == partial_need_) {
        held_ += partial_;
        partial_.clear();
      }
      return;
    }
    // A broken character becomes one replacement; `byte` starts afresh.
    held_ += kReplacement;
    partial_.clear();
  }
  const int need = SequenceLength(byte);
  if (need == 1) {
    held_.push_back(static_cast<char>(byte));
  } else if (need == 0) {
    held_ += kReplacement;
  } else {
    partial_.push_back(static_cast<char>(byte));
    partial_need_ = need;
  }
}

bool TextStream::Append(std::string_view bytes, std::string* out) {
  const size_t before = held_.size();
  if (partial_.empty() && stops_.empty()) {
    // Fast path: plain ASCII needs no state at all.
    bool ascii = true;
    for (char c : bytes) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (ascii) {
      out->append(held_);
      out->append(bytes);
      held_.clear();
      return false;
    }
  }
  for (char c : bytes) AppendByte(static_cast<unsigned char>(c));
  if (stops_.empty()) {
    out->append(held_);
    held_.clear();
    return false;
  }
  // A match not found before must end in the new bytes.
  const size_t search_from = before >= max_stop_size_ ? before - max_stop_size_ + 1 : 0;
  if (FindStop(search_from, out)) return true;

  // Hold back the longest tail that is the start of some stop sequence.
  size_t hold = 0;
  for (const std::string& stop : stops_) {
    for (size_t k = std::min(stop.size() - 1, held_.size()); k > hold; --k) {
      if (std::string_view(held_).substr(held_.size() - k) == std::string_view(stop).substr(0, k)) {
        hold = k;
        break;
      }
    }
  }
  const size_t emit = held_.size() - hold;
  out->append(held_, 0, emit);
  held_.erase(0, emit);
  return false;
}

bool TextStream::FindStop(size_t search_from, std::string* out) {
  size_t best_pos = std::string::npos;
  const std::string* best = nullptr;
  for (const std::string& stop : stops_) {
    const size_t pos = held_.find(stop, search_from);
    if (pos < best_pos) {
      best_pos = pos;
      best = &stop;
    }
  }
  if (best == nullptr) return false;
  out->append(held_, 0, best_pos);
  held_.clear();
  partial_.clear();
  matched_stop_ = *best;
  return true;
}

void TextStream::Flush(std::string* out) {
  out->append(held_);
  held_.clear();
  partial_.clear();
}

}  // namespace basalt::engine::llm
