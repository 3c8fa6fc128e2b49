#include "grammar/pattern.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <utility>
#include <vector>

namespace basalt::grammar::internal {
namespace {

using Range = std::pair<uint32_t, uint32_t>;  // inclusive code point range

std::string Utf8(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// One character inside a GBNF class.
std::string ClassChar(uint32_t cp) {
  if (cp < 0x20 || cp == 0x7F) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02X", cp);
    return buf;
  }
  if (cp == ']' || cp == '[' || cp == '\\' || cp == '-' || cp == '^') {
    return std::string("\\") + static_cast<char>(cp);
  }
  return Utf8(cp);
}

// The JSON text of one code point inside a string (escaped where JSON requires).
std::string JsonChar(uint32_t cp) {
  switch (cp) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\n':
      return "\\n";
    case '\t':
      return "\\t";
    case '\r':
      return "\\r";
    case '\b':
      return "\\b";
    case '\f':
      return "\\f";
    default:
      break;
  }
  if (cp < 0x20) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\u%04x", cp);
    return buf;
  }
  return Utf8(cp);
}

class PatternParser {
 public:
  PatternParser(std::string_view p, int max_repeat) : p_(p), max_repeat_(max_repeat) {}

  StatusOr<std::string> Run() {
    if (!p_.empty() && p_[0] == '^') ++pos_;
    std::string out = Alternation(0);
    if (!error_.empty()) return Fail(error_);
    if (pos_ < p_.size()) return Fail("unexpected ')'");
    return out.empty() ? std::string("\"\"") : out;
  }

 private:
  Status Fail(const std::string& what) const {
    return Status::InvalidArgument("pattern '" + std::string(p_) + "' is not supported: " + what +
                                   " (at offset " + std::to_string(pos_) + ")");
  }
  bool AtEnd() const { return pos_ >= p_.size(); }
  void SetError(std::string e) {
    if (error_.empty()) error_ = std::move(e);
  }

  uint32_t NextCodePoint() {
    unsigned char c = static_cast<unsigned char>(p_[pos_++]);
    int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    uint32_t cp = extra == 0 ? c : (c & (0x3F >> extra));
    for (int i = 0; i < extra && pos_ < p_.size(); ++i) {
      cp = (cp << 6) | (static_cast<unsigned char>(p_[pos_++]) & 0x3F);
    }
    return cp;
  }

  std::string Alternation(int depth) {
    if (depth > 32) {
      SetError("groups nest too deeply");
      return "";
    }
    std::vector<std::string> alts{Sequence(depth)};
    while (!AtEnd() && p_[pos_] == '|' && error_.empty()) {
      ++pos_;
      alts.push_back(Sequence(depth));
    }
    if (alts.size() == 1) return alts[0];
    std::string out = "(";
    for (size_t i = 0; i < alts.size(); ++i) {
      out += (i ? " | " : " ") + (alts[i].empty() ? std::string("\"\"") : alts[i]);
    }
    return out + " )";
  }

  std::string Sequence(int depth) {
    std::string out;
    while (!AtEnd() && p_[pos_] != '|' && p_[pos_] != ')' && error_.empty()) {
      if (p_[pos_] == '$') {
        ++pos_;
        if (!AtEnd() && !(depth == 0 && pos_ == p_.size())) SetError("'$' before the end");
        continue;
      }
      std::string atom = Atom(depth);
      if (!error_.empty()) break;
      atom = Quantified(atom);
      out += (out.empty() ? "" : " ") + atom;
    }
    return out;
  }

  std::string Quantified(const std::string& atom) {
    if (AtEnd()) return atom;
    char q = p_[pos_];
    std::string out;
    if (q == '*' || q == '+' || q == '?') {
      ++pos_;
      out = atom + q;
    } else if (q == '{') {
      size_t close = p_.find('}', pos_);
      if (close == std::string_view::npos) {
        SetError("unclosed '{'");
        return atom;
      }
      std::string_view body = p_.substr(pos_ + 1, close - pos_ - 1);
      size_t comma = body.find(',');
      long lo = 0, hi = -1;
      auto number = [&](std::string_view s, long* v) {
        if (s.empty() || s.size() > 6) return false;
        *v = 0;
        for (char c : s) {
          if (c < '0' || c > '9') return false;
          *v = *v * 10 + (c - '0');
        }
        return true;
      };
      bool ok = comma == std::string_view::npos
                    ? number(body, &lo) && number(body, &hi)
                    : number(body.substr(0, comma), &lo) &&
                          (comma + 1 == body.size() || number(body.substr(comma + 1), &hi));
      if (!ok || (hi >= 0 && hi < lo)) {
        SetError("bad repetition {" + std::string(body) + "}");
        return atom;
      }
      if (lo > max_repeat_) {
        SetError("repetition above " + std::to_string(max_repeat_));
        return atom;
      }
      if (hi > max_repeat_) hi = max_repeat_;
      pos_ = close + 1;
      out = atom + "{" + std::to_string(lo) +
            (hi < 0     ? ","
             : hi == lo ? ""
                        : "," + std::to_string(hi)) +
            "}";
    } else {
      return atom;
    }
    if (!AtEnd() && p_[pos_] == '?') ++pos_;  // lazy: same language for a whole-string match
    if (!AtEnd() && p_[pos_] == '+') SetError("possessive quantifiers");
    if (!AtEnd() && (p_[pos_] == '*' || p_[pos_] == '{'))
      SetError("a quantifier after a quantifier");
    return out;
  }

  std::string Atom(int depth) {
    char c = p_[pos_];
    if (c == '(') {
      ++pos_;
      if (!AtEnd() && p_[pos_] == '?') {
        if (pos_ + 1 < p_.size() && p_[pos_ + 1] == ':') {
          pos_ += 2;
        } else {
          SetError("lookaround and named groups");
          return "";
        }
      }
      std::string inner = Alternation(depth + 1);
      if (AtEnd() || p_[pos_] != ')') {
        SetError("unclosed '('");
        return "";
      }
      ++pos_;
      return "(" + (inner.empty() ? std::string("\"\"") : " " + inner) + " )";
    }
    if (c == '[') return Class();
    if (c == '.') {
      ++pos_;
      return "[^\"\\\\\\x00-\\x1F\\x7F]";
    }
    if (c == '*' || c == '+' || c == '?' || c == '{') {
      SetError("nothing to repeat");
      return "";
    }
    if (c == '^') {
      SetError("'^' after the start");
      return "";
    }
    if (c == '\\') {
      ++pos_;
      if (AtEnd()) {
        SetError("trailing backslash");
        return "";
      }
      std::vector<Range> ranges;
      bool negated = false;
      if (ClassEscape(&ranges, &negated)) return Emit(ranges, negated);
      if (!error_.empty()) return "";
      return GbnfLiteral(JsonChar(EscapedChar()));
    }
    return GbnfLiteral(JsonChar(NextCodePoint()));
  }

  // After a backslash: \d \w \s and their negations. Returns false (nothing consumed) else.
  bool ClassEscape(std::vector<Range>* ranges, bool* negated) {
    char e = p_[pos_];
    switch (e) {
      case 'd':
      case 'D':
        ranges->push_back({'0', '9'});
        break;
      case 'w':
      case 'W':
        *ranges = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
        break;
      case 's':
      case 'S':
        *ranges = {{'\t', '\r'}, {' ', ' '}};
        break;
      default:
        return false;
    }
    *negated = e == 'D' || e == 'W' || e == 'S';
    ++pos_;
    return true;
  }

  // After a backslash, an escaped single character.
  uint32_t EscapedChar() {
    char e = p_[pos_];
    if ((e >= '1' && e <= '9') || e == 'b' || e == 'B' || e == 'k' || e == 'p' || e == 'P' ||
        e == 'c' || e == 'A' || e == 'z' || e == 'Z') {
      SetError(std::string("the escape \\") + e);
      ++pos_;
      return 0;
    }
    ++pos_;
    switch (e) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      case '0':
        return 0;
      case 'x':
      case 'u': {
        size_t n = e == 'x' ? 2 : 4;
        uint32_t v = 0;
        for (size_t i = 0; i < n; ++i) {
          if (AtEnd() || !isxdigit(static_cast<unsigned char>(p_[pos_]))) {
            SetError(std::string("a bad \\") + e + " escape");
            return 0;
          }
          char h = p_[pos_++];
          v = v * 16 + (h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
        }
        return v;
      }
      default:
        if (isalnum(static_cast<unsigned char>(e))) {
          SetError(std::string("the escape \\") + e);
          return 0;
        }
        --pos_;
        return NextCodePoint();
    }
  }

  std::string Class() {
    ++pos_;  // '['
    bool negated = false;
    if (!AtEnd() && p_[pos_] == '^') {
      negated = true;
      ++pos_;
    }
    std::vector<Range> ranges;
    bool first = true;
    while (!AtEnd() && (p_[pos_] != ']' || first) && error_.empty()) {
      first = false;
      uint32_t lo;
      if (p_[pos_] == '\\') {
        ++pos_;
        if (AtEnd()) break;
        std::vector<Range> sub;
        bool sub_negated = false;
        if (ClassEscape(&sub, &sub_negated)) {
          if (sub_negated) {
            SetError("\\D, \\W or \\S inside a class");
            return "";
          }
          ranges.insert(ranges.end(), sub.begin(), sub.end());
          continue;
        }
        lo = p_[pos_] == 'b' ? (++pos_, uint32_t{'\b'}) : EscapedChar();
      } else {
        lo = NextCodePoint();
      }
      uint32_t hi = lo;
      if (pos_ + 1 < p_.size() && p_[pos_] == '-' && p_[pos_ + 1] != ']') {
        ++pos_;
        if (p_[pos_] == '\\') {
          ++pos_;
          if (AtEnd()) break;
          hi = EscapedChar();
        } else {
          hi = NextCodePoint();
        }
        if (hi < lo) SetError("a class range out of order");
      }
      ranges.push_back({lo, hi});
    }
    if (AtEnd()) SetError("unclosed '['");
    if (!error_.empty()) return "";
    ++pos_;  // ']'
    return Emit(ranges, negated);
  }

  // A class as GBNF over JSON text: a quote or backslash the class allows becomes its escape
  // sequence; control characters are left out.
  std::string Emit(const std::vector<Range>& ranges, bool negated) {
    if (negated) {
      std::string out = "[^";
      for (const auto& [lo, hi] : ranges) {
        out += ClassChar(lo);
        if (hi != lo) out += "-" + ClassChar(hi);
      }
      return out + "\"\\\\\\x00-\\x1F\\x7F]";
    }
    std::string cls;
    bool quote = false, backslash = false;
    for (auto [lo, hi] : ranges) {
      if (lo <= '"' && '"' <= hi) quote = true;
      if (lo <= '\\' && '\\' <= hi) backslash = true;
      if (lo < 0x20) lo = 0x20;
      if (hi < lo) continue;
      // Split around '"' (0x22) and '\\' (0x5C).
      std::vector<Range> parts;
      uint32_t start = lo;
      for (uint32_t cut : {uint32_t{'"'}, uint32_t{'\\'}}) {
        if (cut >= start && cut <= hi) {
          if (cut > start) parts.push_back({start, cut - 1});
          start = cut + 1;
        }
      }
      if (start <= hi) parts.push_back({start, hi});
      for (const auto& [a, b] : parts) {
        cls += ClassChar(a);
        if (b != a) cls += "-" + ClassChar(b);
      }
    }
    std::vector<std::string> alts;
    if (!cls.empty()) alts.push_back("[" + cls + "]");
    if (quote) alts.push_back(GbnfLiteral("\\\""));
    if (backslash) alts.push_back(GbnfLiteral("\\\\"));
    if (alts.empty()) {
      SetError("a class of control characters only");
      return "";
    }
    if (alts.size() == 1) return alts[0];
    std::string out = "(";
    for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : " ") + alts[i];
    return out + " )";
  }

  std::string_view p_;
  int max_repeat_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

std::string GbnfLiteral(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

StatusOr<std::string> PatternToGbnf(std::string_view pattern, int max_repeat) {
  return PatternParser(pattern, max_repeat).Run();
}

}  // namespace basalt::grammar::internal
