// CLIP's tokenizer as transformers' CLIPTokenizer runs it (the `tokenizers` pipeline: NFC,
// whitespace runs to one space, lower-case, CLIP's split pattern, byte-level mapping, BPE with
// "</w>" on the last symbol of each word, special tokens matched in the raw text). The Unicode
// classes are compact range tables covering the scripts prompts use (Latin, Greek, Cyrillic,
// Armenian, Hebrew, Arabic, Indic, Thai, Hangul, kana, CJK, fullwidth forms); normalization
// composes Hangul jamo and the common Latin accents.
#include "image/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace basalt::image {

namespace {

struct CpRange {
  char32_t lo, hi;
};

// Letters (\p{L}) by block, approximate where a block mixes in a few symbols.
constexpr CpRange kTokLetters[] = {
    {0x41, 0x5A},       {0x61, 0x7A},       {0xAA, 0xAA},     {0xB5, 0xB5},     {0xBA, 0xBA},
    {0xC0, 0xD6},       {0xD8, 0xF6},       {0xF8, 0x2C1},    {0x2C6, 0x2D1},   {0x2E0, 0x2E4},
    {0x2EC, 0x2EC},     {0x2EE, 0x2EE},     {0x370, 0x374},   {0x376, 0x377},   {0x37A, 0x37D},
    {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x3FF},   {0x400, 0x481},   {0x48A, 0x52F},
    {0x531, 0x556},     {0x559, 0x559},     {0x560, 0x588},   {0x5D0, 0x5EA},   {0x5EF, 0x5F2},
    {0x620, 0x64A},     {0x66E, 0x66F},     {0x671, 0x6D3},   {0x6D5, 0x6D5},   {0x6FA, 0x6FC},
    {0x904, 0x939},     {0x93D, 0x93D},     {0x950, 0x950},   {0x958, 0x961},   {0x971, 0x980},
    {0x985, 0x9B9},     {0xE01, 0xE30},     {0xE32, 0xE33},   {0xE40, 0xE46},   {0x10A0, 0x10FF},
    {0x1100, 0x11FF},   {0x1E00, 0x1FBC},   {0x1FC2, 0x1FCC}, {0x1FD0, 0x1FDB}, {0x1FE0, 0x1FEC},
    {0x1FF2, 0x1FFC},   {0x2C00, 0x2CE4},   {0x3005, 0x3006}, {0x3031, 0x3035}, {0x303B, 0x303C},
    {0x3041, 0x3096},   {0x309D, 0x309F},   {0x30A1, 0x30FA}, {0x30FC, 0x30FF}, {0x3105, 0x312F},
    {0x3131, 0x318E},   {0x31A0, 0x31BF},   {0x31F0, 0x31FF}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF},
    {0xA000, 0xA48C},   {0xA960, 0xA97C},   {0xAC00, 0xD7A3}, {0xD7B0, 0xD7FB}, {0xF900, 0xFAFF},
    {0xFB00, 0xFB06},   {0xFF21, 0xFF3A},   {0xFF41, 0xFF5A}, {0xFF66, 0xFFBE}, {0xFFC2, 0xFFDC},
    {0x20000, 0x2FA1F}, {0x30000, 0x323AF},
};
// Numbers (\p{N}): decimal digits, super/subscripts, fractions, roman numerals, circled.
constexpr CpRange kTokNumbers[] = {
    {0x30, 0x39},     {0xB2, 0xB3},     {0xB9, 0xB9},     {0xBC, 0xBE},     {0x660, 0x669},
    {0x6F0, 0x6F9},   {0x966, 0x96F},   {0x9E6, 0x9EF},   {0xE50, 0xE59},   {0x2070, 0x2070},
    {0x2074, 0x2079}, {0x2080, 0x2089}, {0x2150, 0x2182}, {0x2185, 0x2189}, {0x2460, 0x249B},
    {0x24EA, 0x24FF}, {0x2776, 0x2793}, {0x3007, 0x3007}, {0x3021, 0x3029}, {0x3038, 0x303A},
    {0x3192, 0x3195}, {0x3220, 0x3229}, {0x3248, 0x324F}, {0x3251, 0x325F}, {0x3280, 0x3289},
    {0x32B1, 0x32BF}, {0xFF10, 0xFF19},
};
constexpr CpRange kTokSpaces[] = {
    {0x09, 0x0D},     {0x20, 0x20},     {0x85, 0x85},     {0xA0, 0xA0},     {0x1680, 0x1680},
    {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}};

template <size_t N>
bool InRanges(const CpRange (&table)[N], char32_t c) {
  for (const CpRange& r : table) {
    if (c < r.lo) return false;
    if (c <= r.hi) return true;
  }
  return false;
}
bool TokIsLetter(char32_t c) { return InRanges(kTokLetters, c); }
bool TokIsNumber(char32_t c) { return InRanges(kTokNumbers, c); }
bool TokIsSpace(char32_t c) { return InRanges(kTokSpaces, c); }

std::u32string TokDecodeUtf8(std::string_view s) {
  std::u32string out;
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<uint8_t>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    char32_t c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    bool ok = len > 0 && i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      const auto cb = static_cast<uint8_t>(s[i + k]);
      if ((cb & 0xC0) != 0x80) ok = false;
      c = (c << 6) | (cb & 0x3F);
    }
    if (!ok || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
      out.push_back(0xFFFD);  // as a lossy decode would
      ++i;
      continue;
    }
    out.push_back(c);
    i += len;
  }
  return out;
}

void TokAppendUtf8(std::string* out, char32_t c) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

char32_t TokLower(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0x80) return c;
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 32;
  if (c >= 0x100 && c <= 0x137 && c % 2 == 0) return c + 1;
  if (c >= 0x139 && c <= 0x148 && c % 2 == 1) return c + 1;
  if (c >= 0x14A && c <= 0x177 && c % 2 == 0) return c + 1;
  if (c == 0x178) return 0xFF;
  if ((c == 0x179 || c == 0x17B || c == 0x17D)) return c + 1;
  if (c == 0x130) return 'i';
  if (c >= 0x391 && c <= 0x3AB && c != 0x3A2) return c + 32;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  if (((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F)) &&
      c % 2 == 0) {
    return c + 1;
  }
  if (c >= 0x531 && c <= 0x556) return c + 48;
  if (c >= 0x1E00 && c <= 0x1EFF && c % 2 == 0 && !(c >= 0x1E96 && c <= 0x1E9F)) return c + 1;
  if (c >= 0x2160 && c <= 0x216F) return c + 16;
  if (c >= 0x24B6 && c <= 0x24CF) return c + 26;
  if (c >= 0xFF21 && c <= 0xFF3A) return c + 32;
  return c;
}

// NFC for what prompts contain: Hangul jamo sequences and a base letter followed by a common
// combining accent.
char32_t TokCompose(char32_t a, char32_t b) {
  constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
  if (a >= kLBase && a < kLBase + 19 && b >= kVBase && b < kVBase + 21) {
    return kSBase + ((a - kLBase) * 21 + (b - kVBase)) * 28;
  }
  if (a >= kSBase && a < kSBase + 11172 && (a - kSBase) % 28 == 0 && b > kTBase &&
      b < kTBase + 28) {
    return a + (b - kTBase);
  }
  struct Comp {
    char32_t mark;
    const char* bases;
    const char32_t* out;
  };
  static const char32_t kGrave[] = {0xC0, 0xC8, 0xCC, 0xD2, 0xD9, 0xE0, 0xE8, 0xEC, 0xF2, 0xF9};
  static const char32_t kAcute[] = {0xC1, 0xC9, 0xCD, 0xD3, 0xDA, 0xDD,
                                    0xE1, 0xE9, 0xED, 0xF3, 0xFA, 0xFD};
  static const char32_t kCirc[] = {0xC2, 0xCA, 0xCE, 0xD4, 0xDB, 0xE2, 0xEA, 0xEE, 0xF4, 0xFB};
  static const char32_t kTilde[] = {0xC3, 0xD1, 0xD5, 0xE3, 0xF1, 0xF5};
  static const char32_t kDiaer[] = {0xC4, 0xCB, 0xCF, 0xD6, 0xDC, 0xE4,
                                    0xEB, 0xEF, 0xF6, 0xFC, 0xFF};
  static const char32_t kRing[] = {0xC5, 0xE5};
  static const char32_t kCedil[] = {0xC7, 0xE7};
  static const Comp kComps[] = {{0x300, "AEIOUaeiou", kGrave},  {0x301, "AEIOUYaeiouy", kAcute},
                                {0x302, "AEIOUaeiou", kCirc},   {0x303, "ANOano", kTilde},
                                {0x308, "AEIOUaeiouy", kDiaer}, {0x30A, "Aa", kRing},
                                {0x327, "Cc", kCedil}};
  if (a >= 0x80) return 0;
  for (const Comp& cm : kComps) {
    if (cm.mark != b) continue;
    for (int i = 0; cm.bases[i] != 0; ++i) {
      if (static_cast<char32_t>(cm.bases[i]) == a) return cm.out[i];
    }
  }
  return 0;
}

std::u32string TokNormalize(const std::u32string& in) {
  std::u32string out;
  bool in_space = false;
  for (char32_t c : in) {
    if (TokIsSpace(c)) {
      if (!in_space) out.push_back(' ');
      in_space = true;
      continue;
    }
    in_space = false;
    if (!out.empty()) {
      if (char32_t comp = TokCompose(out.back(), c)) {
        out.back() = comp;
        continue;
      }
    }
    out.push_back(c);
  }
  for (char32_t& c : out) c = TokLower(c);
  return out;
}

// CLIP's pattern: 's|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+ (the special
// tokens were split off before).
std::vector<std::u32string> TokSplit(const std::u32string& s) {
  std::vector<std::u32string> pieces;
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const char32_t c = s[i];
    if (TokIsSpace(c)) {
      ++i;
      continue;
    }
    if (c == '\'' && i + 1 < n) {
      static const char* kContractions[] = {"s", "t", "re", "ve", "m", "ll", "d"};
      size_t matched = 0;
      for (const char* k : kContractions) {
        size_t len = std::char_traits<char>::length(k);
        if (i + 1 + len > n) continue;
        bool eq = true;
        for (size_t j = 0; j < len && eq; ++j) eq = s[i + 1 + j] == static_cast<char32_t>(k[j]);
        if (eq) {
          matched = len + 1;
          break;
        }
      }
      if (matched > 0) {
        pieces.push_back(s.substr(i, matched));
        i += matched;
        continue;
      }
    }
    size_t j = i + 1;
    if (TokIsLetter(c)) {
      while (j < n && TokIsLetter(s[j])) ++j;
    } else if (!TokIsNumber(c)) {
      while (j < n && !TokIsSpace(s[j]) && !TokIsLetter(s[j]) && !TokIsNumber(s[j])) ++j;
    }
    pieces.push_back(s.substr(i, j - i));
    i = j;
  }
  return pieces;
}

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards.
const std::vector<std::string>& TokByteSymbols() {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t(256);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      TokAppendUtf8(&t[b], printable ? static_cast<char32_t>(b) : 256 + extra++);
    }
    return t;
  }();
  return table;
}

StatusOr<std::string> TokReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FailedPrecondition("tokenizer file '" + path + "' cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

StatusOr<ClipTokenizer> ClipTokenizer::Load(const std::string& vocab_json,
                                            const std::string& merges_txt,
                                            const std::string& pad_token) {
  BASALT_ASSIGN_OR_RETURN(std::string vocab_text, TokReadFile(vocab_json));
  BASALT_ASSIGN_OR_RETURN(std::string merges_text, TokReadFile(merges_txt));
  ClipTokenizer tok;
  nlohmann::json j = nlohmann::json::parse(vocab_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::FailedPrecondition("tokenizer file '" + vocab_json +
                                      "' is not a JSON object of token ids");
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() > std::numeric_limits<int>::max()) {
      return Status::FailedPrecondition("tokenizer file '" + vocab_json + "': token '" + it.key() +
                                        "' has no valid id");
    }
    tok.vocab_[it.key()] = it.value().get<int>();
  }
  std::istringstream lines(merges_text);
  std::string line;
  int rank = 0, lineno = 0;
  while (std::getline(lines, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (lineno == 1 && line.rfind("#version", 0) == 0)) continue;
    const size_t sp = line.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 >= line.size() ||
        line.find(' ', sp + 1) != std::string::npos) {
      return Status::FailedPrecondition("tokenizer file '" + merges_txt + "' line " +
                                        std::to_string(lineno) + " is not 'first second'");
    }
    tok.ranks_.emplace(std::make_pair(line.substr(0, sp), line.substr(sp + 1)), rank++);
  }
  auto id = [&](const std::string& t, int* out) -> Status {
    auto it = tok.vocab_.find(t);
    if (it == tok.vocab_.end()) {
      return Status::FailedPrecondition("tokenizer file '" + vocab_json + "' has no '" + t + "'");
    }
    *out = it->second;
    return Status::Ok();
  };
  BASALT_RETURN_IF_ERROR(id("<|startoftext|>", &tok.bos_));
  BASALT_RETURN_IF_ERROR(id("<|endoftext|>", &tok.eos_));
  if (!pad_token.empty()) tok.pad_token_ = pad_token;
  BASALT_RETURN_IF_ERROR(id(tok.pad_token_, &tok.pad_));
  return tok;
}

StatusOr<ClipTokenizer> ClipTokenizer::LoadDir(const std::string& dir) {
  std::string pad;
  for (const char* name : {"special_tokens_map.json", "tokenizer_config.json"}) {
    const std::string path = dir + "/" + name;
    std::ifstream probe(path);
    if (!probe) continue;
    BASALT_ASSIGN_OR_RETURN(std::string text, TokReadFile(path));
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return Status::FailedPrecondition("tokenizer file '" + path + "' is not a JSON object");
    }
    auto p = j.find("pad_token");
    if (p == j.end() || p->is_null()) continue;
    if (p->is_string()) {
      pad = p->get<std::string>();
    } else if (p->is_object() && p->contains("content") && (*p)["content"].is_string()) {
      pad = (*p)["content"].get<std::string>();
    }
  }
  return Load(dir + "/vocab.json", dir + "/merges.txt", pad);
}

std::vector<int> ClipTokenizer::Tokenize(std::string_view text) const {
  std::vector<int> ids;
  const auto& byte_symbols = TokByteSymbols();
  auto bpe_piece = [&](const std::u32string& piece) {
    std::string utf8;
    for (char32_t c : piece) TokAppendUtf8(&utf8, c);
    std::vector<std::string> word;
    for (unsigned char b : utf8) word.push_back(byte_symbols[b]);
    if (word.empty()) return;
    word.back() += "</w>";
    while (word.size() > 1) {
      int best = std::numeric_limits<int>::max();
      size_t best_i = 0;
      for (size_t i = 0; i + 1 < word.size(); ++i) {
        auto it = ranks_.find({word[i], word[i + 1]});
        if (it != ranks_.end() && it->second < best) {
          best = it->second;
          best_i = i;
        }
      }
      if (best == std::numeric_limits<int>::max()) break;
      const std::string first = word[best_i], second = word[best_i + 1];
      std::vector<std::string> merged;
      for (size_t i = 0; i < word.size();) {
        if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
          merged.push_back(first + second);
          i += 2;
        } else {
          merged.push_back(word[i++]);
        }
      }
      word = std::move(merged);
    }
    for (const std::string& sym : word) {
      auto it = vocab_.find(sym);
      ids.push_back(it == vocab_.end() ? eos_ : it->second);  // unk is <|endoftext|>
    }
  };
  // Special tokens are matched in the raw text, before normalization.
  const std::string special[] = {"<|startoftext|>", "<|endoftext|>", pad_token_};
  const int special_id[] = {bos_, eos_, pad_};
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t next = std::string_view::npos;
    int which = -1;
    for (int k = 0; k < 3; ++k) {
      size_t f = text.find(special[k], pos);
      // The earliest match wins; at the same place, the longest.
      if (f < next ||
          (f == next && f != std::string_view::npos && special[k].size() > special[which].size())) {
        next = f, which = k;
      }
    }
    const std::string_view chunk =
        text.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    for (const auto& piece : TokSplit(TokNormalize(TokDecodeUtf8(chunk)))) bpe_piece(piece);
    if (which < 0) break;
    ids.push_back(special_id[which]);
    pos = next + special[which].size();
  }
  return ids;
}

std::vector<int> ClipTokenizer::Encode(std::string_view text, int context, int* used) const {
  std::vector<int> ids = Tokenize(text);
  const size_t keep = context > 2 ? static_cast<size_t>(context - 2) : 0;
  if (ids.size() > keep) ids.resize(keep);
  std::vector<int> out;
  out.reserve(std::max(context, 2));
  out.push_back(bos_);
  out.insert(out.end(), ids.begin(), ids.end());
  out.push_back(eos_);
  if (used) *used = static_cast<int>(out.size());
  while (static_cast<int>(out.size()) < context) out.push_back(pad_);
  return out;
}

}  // namespace basalt::image
