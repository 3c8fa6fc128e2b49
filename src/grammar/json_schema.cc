// The JSON Schema → GBNF compiler. Each subschema becomes a GBNF expression; objects, arrays
// and $ref targets get their own rules (named "js-N"), so recursive schemas work through rule
// references. Primitive rules (js-string, js-number, ...) bound what a model can spin in:
// whitespace is at most one space or a newline and 8 spaces, numbers at most 16 digits.
#include "grammar/json_schema.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "common/json_depth.h"
#include "grammar/pattern.h"

namespace basalt::grammar {
namespace {

using internal::GbnfLiteral;

constexpr const char* kPrimitives = R"(js-ws ::= ( " " | "\n" " "{0,8} )?
js-char ::= [^"\\\x00-\x1F\x7F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )
js-string ::= "\"" js-char* "\""
js-integer ::= "-"? ( "0" | [1-9] [0-9]{0,15} )
js-number ::= js-integer ( "." [0-9]{1,15} )? ( [eE] [-+]? [0-9]{1,2} )?
js-boolean ::= "true" | "false"
js-null ::= "null"
js-value ::= js-object | js-array | js-string | js-number | js-boolean | js-null
js-object ::= "{" js-ws ( js-string js-ws ":" js-ws js-value ( js-ws "," js-ws js-string js-ws ":" js-ws js-value )* )? js-ws "}"
js-array ::= "[" js-ws ( js-value ( js-ws "," js-ws js-value )* )? js-ws "]"
)";

constexpr const char* kSep = "js-ws \",\" js-ws";

// Keywords that carry no constraint.
const std::set<std::string>& Annotations() {
  static const std::set<std::string> k = {
      "$schema",       "$id",     "$comment",    "$anchor",          "title",
      "description",   "default", "examples",    "deprecated",       "readOnly",
      "writeOnly",     "$defs",   "definitions", "contentMediaType", "contentEncoding",
      "discriminator", "example"};
  return k;
}

const std::set<std::string>& Supported() {
  static const std::set<std::string> k = {"type",
                                          "enum",
                                          "const",
                                          "anyOf",
                                          "oneOf",
                                          "allOf",
                                          "$ref",
                                          "nullable",
                                          "properties",
                                          "required",
                                          "additionalProperties",
                                          "items",
                                          "prefixItems",
                                          "additionalItems",
                                          "minItems",
                                          "maxItems",
                                          "minLength",
                                          "maxLength",
                                          "pattern",
                                          "format",
                                          "minimum",
                                          "maximum",
                                          "exclusiveMinimum",
                                          "exclusiveMaximum",
                                          "uniqueItems"};
  return k;
}

std::string Repeat(const std::string& atom, int64_t lo, int64_t hi /* -1: unbounded */) {
  if (hi == 0) return "";
  if (hi < 0) {
    if (lo == 0) return atom + "*";
    if (lo == 1) return atom + "+";
    return atom + "{" + std::to_string(lo) + ",}";
  }
  if (lo == 0 && hi == 1) return atom + "?";
  if (lo == hi) return lo == 1 ? atom : atom + "{" + std::to_string(lo) + "}";
  return atom + "{" + std::to_string(lo) + "," + std::to_string(hi) + "}";
}

// Digits from `lo` to `hi`, both decimal strings of the same length.
std::string SameLengthRange(const std::string& lo, const std::string& hi) {
  if (lo.empty()) return "";
  auto digit_class = [](char a, char b) {
    return a == b ? GbnfLiteral(std::string(1, a)) : "[" + std::string(1, a) + "-" + b + "]";
  };
  std::string rest_lo = lo.substr(1), rest_hi = hi.substr(1);
  if (lo[0] == hi[0]) {
    std::string tail = SameLengthRange(rest_lo, rest_hi);
    return GbnfLiteral(std::string(1, lo[0])) + (tail.empty() ? "" : " " + tail);
  }
  size_t n = rest_lo.size();
  std::string zeros(n, '0'), nines(n, '9');
  std::string any = n == 0 ? "" : " " + Repeat("[0-9]", n, n);
  if (rest_lo == zeros && rest_hi == nines) return digit_class(lo[0], hi[0]) + any;
  std::vector<std::string> alts;
  char first_full = lo[0], last_full = hi[0];
  if (rest_lo != zeros) {
    alts.push_back(GbnfLiteral(std::string(1, lo[0])) + " " + SameLengthRange(rest_lo, nines));
    ++first_full;
  }
  if (rest_hi != nines) --last_full;
  if (first_full <= last_full) alts.push_back(digit_class(first_full, last_full) + any);
  if (rest_hi != nines) {
    alts.push_back(GbnfLiteral(std::string(1, hi[0])) + " " + SameLengthRange(zeros, rest_hi));
  }
  std::string out = "(";
  for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : " ") + alts[i];
  return out + " )";
}

constexpr int64_t kMaxIntDigits = 16;
constexpr int64_t kMaxInt = 9999999999999999;  // 16 digits, as js-integer

// Non-negative integers in [lo, hi] (hi < 0: unbounded up to 16 digits), canonical form.
std::string NonNegativeRange(int64_t lo, int64_t hi) {
  std::vector<std::string> alts;
  if (lo == 0) {
    alts.push_back("\"0\"");
    lo = 1;
  }
  int64_t top = hi < 0 ? kMaxInt : hi;
  int64_t power = 1;
  for (int64_t digits = 1; digits <= kMaxIntDigits && lo <= top; ++digits, power *= 10) {
    int64_t band_lo = power, band_hi = power * 10 - 1;
    if (band_hi < lo) continue;
    int64_t a = std::max(lo, band_lo), b = std::min(top, band_hi);
    if (a > b) break;
    if (hi < 0 && a == band_lo && b == band_hi) {
      // Every longer length is allowed too: one open-ended alternative covers them.
      alts.push_back("[1-9] " + Repeat("[0-9]", digits - 1, kMaxIntDigits - 1));
      break;
    }
    alts.push_back(SameLengthRange(std::to_string(a), std::to_string(b)));
  }
  if (alts.size() == 1) return alts[0];
  std::string out = "(";
  for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : " ") + alts[i];
  return out + " )";
}

// Integers within optional bounds.
std::string IntegerRange(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  std::vector<std::string> alts;
  // Negative part: -x for x in [max(1,-hi), -lo].
  if (!lo || *lo < 0) {
    int64_t neg_lo = hi && *hi < 0 ? -*hi : 1;
    int64_t neg_hi = lo ? -*lo : -1;
    alts.push_back("\"-\" " + NonNegativeRange(neg_lo, neg_hi));
  }
  if (!hi || *hi >= 0) {
    alts.push_back(NonNegativeRange(lo && *lo > 0 ? *lo : 0, hi ? *hi : -1));
  }
  if (alts.size() == 1) return alts[0];
  return "( " + alts[0] + " | " + alts[1] + " )";
}

const std::map<std::string, std::string>& Formats() {
  static const std::map<std::string, std::string> k = {
      // Years 0001-9999: RFC 3339 allows 0000, but Python's datetime and many other readers
      // refuse it.
      {"date",
       "( [1-9] [0-9]{3} | \"0\" ( [1-9] [0-9]{2} | \"0\" ( [1-9] [0-9] | \"0\" [1-9] ) ) ) "
       "\"-\" ( ( \"01\" | \"03\" | \"05\" | \"07\" | \"08\" | \"10\" | \"12\" ) \"-\" "
       "( \"0\" [1-9] | [12] [0-9] | \"3\" [01] ) | ( \"04\" | \"06\" | \"09\" | \"11\" ) \"-\" "
       "( \"0\" [1-9] | [12] [0-9] | \"30\" ) | \"02-\" ( \"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8] "
       ") )"},
      {"time",
       "( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{1,6} )? "
       "( \"Z\" | [+-] ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] )"},
      {"uuid",
       "[0-9a-f]{8} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{12}"},
      {"email",
       "[a-zA-Z0-9_+-]{1,16} ( \".\" [a-zA-Z0-9_+-]{1,16} ){0,2} \"@\" ( [a-zA-Z0-9]{1,20} "
       "\".\" ){1,3} [a-zA-Z]{2,8}"},
      {"ipv4",
       "( \"25\" [0-5] | \"2\" [0-4] [0-9] | \"1\" [0-9] [0-9] | [1-9]? [0-9] ) ( \".\" ( \"25\" "
       "[0-5] | \"2\" [0-4] [0-9] | \"1\" [0-9] [0-9] | [1-9]? [0-9] ) ){3}"},
  };
  return k;
}

class Compiler {
 public:
  Compiler(const SchemaJson& root, const SchemaLimits& limits) : root_(root), limits_(limits) {}

  StatusOr<std::string> Run(const std::string& root_name) {
    std::string top;
    BASALT_ASSIGN_OR_RETURN(top, Visit(root_, "#", 0));
    if (rules_.size() > limits_.max_rules) return TooBig("rules");
    std::string out = root_name + " ::= " + top + "\n";
    for (size_t i = 0; i < rules_.size(); ++i) {
      out += "js-" + std::to_string(i) + " ::= " + rules_[i] + "\n";
      if (out.size() > limits_.max_grammar_bytes) return TooBig("bytes");
    }
    return out + kPrimitives;
  }

 private:
  Status Unsupported(const std::string& keyword, const std::string& path,
                     const std::string& why = "is not supported") const {
    return Status::InvalidArgument(
        "The JSON schema cannot be used for structured output: keyword '" + keyword + "' at '" +
        path + "' " + why + ".");
  }
  Status Invalid(const std::string& path, const std::string& what) const {
    return Status::InvalidArgument("The JSON schema is not valid at '" + path + "': " + what + ".");
  }
  Status TooBig(const std::string& what) const {
    return Status::InvalidArgument("The JSON schema is too large for structured output (grammar " +
                                   what + " over the limit).");
  }

  std::string NewRule() {
    rules_.emplace_back();
    return "js-" + std::to_string(rules_.size() - 1);
  }

  StatusOr<std::string> Visit(const SchemaJson& s, const std::string& path, int depth) {
    if (depth > limits_.max_depth) {
      return Invalid(path, "subschemas nest deeper than " + std::to_string(limits_.max_depth));
    }
    if (rules_.size() > limits_.max_rules) return TooBig("rules");
    if (s.is_boolean()) {
      if (s.get<bool>()) return std::string("js-value");
      return Unsupported("false", path, "allows no value");
    }
    if (!s.is_object()) return Invalid(path, "a schema must be an object or a boolean");
    for (auto it = s.begin(); it != s.end(); ++it) {
      if (!Annotations().count(it.key()) && !Supported().count(it.key())) {
        return Unsupported(it.key(), path);
      }
    }
    auto constraint_keys = [&](std::initializer_list<const char*> allowed) -> std::string {
      for (auto it = s.begin(); it != s.end(); ++it) {
        if (Annotations().count(it.key())) continue;
        bool ok = false;
        for (const char* a : allowed) ok = ok || it.key() == a;
        if (!ok) return it.key();
      }
      return "";
    };
    if (s.contains("$ref")) {
      if (std::string k = constraint_keys({"$ref"}); !k.empty()) {
        return Unsupported(k, path, "next to $ref is not supported");
      }
      return Ref(s["$ref"], path + "/$ref", depth);
    }
    if (s.contains("enum") || s.contains("const")) return Enum(s, path);
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!s.contains(key)) continue;
      if (std::string k = constraint_keys({key}); !k.empty()) {
        return Unsupported(k, path, std::string("next to ") + key + " is not supported");
      }
      const SchemaJson& alts = s[key];
      if (!alts.is_array() || alts.empty())
        return Invalid(path + "/" + key, "must be a non-empty array");
      std::string out = "(";
      for (size_t i = 0; i < alts.size(); ++i) {
        std::string alt;
        BASALT_ASSIGN_OR_RETURN(
            alt, Visit(alts[i], path + "/" + key + "/" + std::to_string(i), depth + 1));
        out += (i ? " | " : " ") + alt;
      }
      return out + " )";
    }
    if (s.contains("allOf")) return AllOf(s, path, depth);

    std::vector<std::string> types;
    if (s.contains("type")) {
      const SchemaJson& t = s["type"];
      if (t.is_string()) {
        types.push_back(t.get<std::string>());
      } else if (t.is_array() && !t.empty()) {
        for (const auto& x : t) {
          if (!x.is_string()) return Invalid(path + "/type", "type names must be strings");
          types.push_back(x.get<std::string>());
        }
      } else {
        return Invalid(path + "/type", "must be a string or a non-empty array of strings");
      }
    } else if (s.contains("properties") || s.contains("additionalProperties") ||
               s.contains("required")) {
      types.push_back("object");
    } else if (s.contains("items") || s.contains("prefixItems") || s.contains("minItems") ||
               s.contains("maxItems")) {
      types.push_back("array");
    } else if (s.contains("minLength") || s.contains("maxLength") || s.contains("pattern") ||
               s.contains("format")) {
      types.push_back("string");
    } else if (s.contains("minimum") || s.contains("maximum") || s.contains("exclusiveMinimum") ||
               s.contains("exclusiveMaximum")) {
      types.push_back("number");
    } else {
      return std::string("js-value");
    }
    if (s.value("nullable", false)) types.push_back("null");
    std::vector<std::string> alts;
    for (const std::string& t : types) {
      std::string e;
      if (t == "object") {
        BASALT_ASSIGN_OR_RETURN(e, Object(s, path, depth));
      } else if (t == "array") {
        BASALT_ASSIGN_OR_RETURN(e, Array(s, path, depth));
      } else if (t == "string") {
        BASALT_ASSIGN_OR_RETURN(e, String(s, path));
      } else if (t == "integer") {
        BASALT_ASSIGN_OR_RETURN(e, Integer(s, path));
      } else if (t == "number") {
        for (const char* k : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
          if (s.contains(k)) return Unsupported(k, path, "is supported on integers only");
        }
        e = "js-number";
      } else if (t == "boolean") {
        e = "js-boolean";
      } else if (t == "null") {
        e = "js-null";
      } else {
        return Invalid(path + "/type", "unknown type '" + t + "'");
      }
      if (std::find(alts.begin(), alts.end(), e) == alts.end()) alts.push_back(e);
    }
    if (alts.size() == 1) return alts[0];
    std::string out = "(";
    for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : " ") + alts[i];
    return out + " )";
  }

  StatusOr<std::string> Ref(const SchemaJson& ref, const std::string& path, int depth) {
    if (!ref.is_string()) return Invalid(path, "$ref must be a string");
    std::string r = ref.get<std::string>();
    if (r.empty() || r[0] != '#') {
      return Unsupported("$ref", path,
                         "must point into this schema ('#/$defs/...'), not '" + r + "'");
    }
    if (auto it = ref_rules_.find(r); it != ref_rules_.end()) {
      if (bare_refs_.count(r))
        return Unsupported("$ref", path, "refers to itself without any JSON in between");
      return it->second;
    }
    const SchemaJson* target = nullptr;
    try {
      SchemaJson::json_pointer pointer(r.substr(1));
      if (root_.contains(pointer)) target = &root_.at(pointer);
    } catch (const std::exception&) {
      target = nullptr;
    }
    if (target == nullptr) return Invalid(path, "$ref '" + r + "' does not resolve");
    std::string name = NewRule();
    size_t index = rules_.size() - 1;
    ref_rules_[r] = name;
    bare_refs_.insert(r);
    auto body = Visit(*target, r, depth + 1);
    bare_refs_.erase(r);
    if (!body.ok()) return body.status();
    rules_[index] = *body;
    return name;
  }

  StatusOr<std::string> Enum(const SchemaJson& s, const std::string& path) {
    std::vector<SchemaJson> values;
    if (s.contains("const")) values.push_back(s["const"]);
    if (s.contains("enum")) {
      if (!s["enum"].is_array() || s["enum"].empty())
        return Invalid(path + "/enum", "must be a non-empty array");
      if (s["enum"].size() > limits_.max_enum_values)
        return Unsupported("enum", path, "has too many values");
      for (const auto& v : s["enum"]) values.push_back(v);
    }
    // A value must satisfy the rest of the schema too (type, const, ...).
    std::string out;
    std::set<std::string> seen;
    for (const auto& v : values) {
      std::string text = v.dump(-1, ' ', false, SchemaJson::error_handler_t::replace);
      if (!seen.insert(text).second) continue;
      SchemaJson lone = s;
      lone.erase("enum");
      lone["const"] = v;
      if (!ValidateRooted(lone, v)) continue;
      out += (out.empty() ? "( " : " | ") + GbnfLiteral(text);
    }
    if (out.empty())
      return Unsupported(s.contains("enum") ? "enum" : "const", path, "allows no value");
    return out + " )";
  }

  bool ValidateRooted(const SchemaJson& lone, const SchemaJson& v) {
    // $ref inside the lone schema would resolve against it, not the root: validate against a
    // copy of the root's definitions only when needed (rare); plain values need nothing.
    SchemaJson wrapper = lone;
    for (const char* defs : {"$defs", "definitions"}) {
      if (root_.is_object() && root_.contains(defs) && !wrapper.contains(defs))
        wrapper[defs] = root_[defs];
    }
    ValidateOptions options;
    options.check_patterns = false;
    return ValidateJson(wrapper, v, options).ok();
  }

  StatusOr<std::string> AllOf(const SchemaJson& s, const std::string& path, int depth) {
    const SchemaJson& parts = s["allOf"];
    if (!parts.is_array() || parts.empty())
      return Invalid(path + "/allOf", "must be a non-empty array");
    SchemaJson merged = s;
    merged.erase("allOf");
    for (size_t i = 0; i < parts.size(); ++i) {
      std::string ppath = path + "/allOf/" + std::to_string(i);
      const SchemaJson* part = &parts[i];
      for (int hops = 0; part->is_object() && part->contains("$ref") && hops < 16; ++hops) {
        const SchemaJson& ref = (*part)["$ref"];
        if (!ref.is_string() || ref.get<std::string>().empty() ||
            ref.get<std::string>()[0] != '#') {
          return Unsupported("$ref", ppath, "must point into this schema");
        }
        try {
          SchemaJson::json_pointer pointer(ref.get<std::string>().substr(1));
          if (!root_.contains(pointer)) return Invalid(ppath, "$ref does not resolve");
          part = &root_.at(pointer);
        } catch (const std::exception&) {
          return Invalid(ppath, "$ref does not resolve");
        }
      }
      if (!part->is_object()) return Unsupported("allOf", ppath, "must list object schemas");
      for (auto it = part->begin(); it != part->end(); ++it) {
        const std::string& k = it.key();
        if (Annotations().count(k)) continue;
        if (k == "allOf" || k == "anyOf" || k == "oneOf" || k == "$ref") {
          return Unsupported(k, ppath, "inside allOf is not supported");
        }
        if (k == "properties") {
          if (!it.value().is_object()) return Invalid(ppath + "/properties", "must be an object");
          for (auto p = it.value().begin(); p != it.value().end(); ++p) {
            if (merged["properties"].contains(p.key()) &&
                merged["properties"][p.key()] != p.value()) {
              return Unsupported("allOf", ppath,
                                 "defines property '" + p.key() + "' twice differently");
            }
            merged["properties"][p.key()] = p.value();
          }
        } else if (k == "required") {
          if (!it.value().is_array()) return Invalid(ppath + "/required", "must be an array");
          for (const auto& r : it.value()) {
            bool have = false;
            if (merged.contains("required")) {
              for (const auto& x : merged["required"]) have = have || x == r;
            }
            if (!have) merged["required"].push_back(r);
          }
        } else if (k == "additionalProperties" && it.value() == false) {
          merged["additionalProperties"] = false;
        } else if (merged.contains(k) && merged[k] != it.value()) {
          return Unsupported(k, ppath, "inside allOf conflicts with another part");
        } else {
          merged[k] = it.value();
        }
      }
    }
    return Visit(merged, path, depth + 1);
  }

  StatusOr<std::string> Object(const SchemaJson& s, const std::string& path, int depth) {
    auto saved = std::move(bare_refs_);
    bare_refs_.clear();
    auto result = ObjectBody(s, path, depth);
    bare_refs_ = std::move(saved);
    return result;
  }

  StatusOr<std::string> ObjectBody(const SchemaJson& s, const std::string& path, int depth) {
    const SchemaJson empty = SchemaJson::object();
    const SchemaJson& props = s.contains("properties") ? s["properties"] : empty;
    if (!props.is_object()) return Invalid(path + "/properties", "must be an object");
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) return Invalid(path + "/required", "must be an array");
      for (const auto& r : s["required"]) {
        if (!r.is_string()) return Invalid(path + "/required", "names must be strings");
        if (!props.contains(r.get<std::string>())) {
          return Unsupported("required", path,
                             "names '" + r.get<std::string>() + "', which is not in properties");
        }
        required.insert(r.get<std::string>());
      }
    }
    const SchemaJson* additional =
        s.contains("additionalProperties") ? &s["additionalProperties"] : nullptr;
    std::string rule = NewRule();
    size_t index = rules_.size() - 1;
    if (props.empty()) {
      if (additional != nullptr && additional->is_boolean() && !additional->get<bool>()) {
        rules_[index] = "\"{\" js-ws \"}\"";
        return rule;
      }
      if (additional == nullptr || (additional->is_boolean() && additional->get<bool>())) {
        rules_[index] = "js-object";
        return rule;
      }
      std::string value;
      BASALT_ASSIGN_OR_RETURN(value, Visit(*additional, path + "/additionalProperties", depth + 1));
      std::string kv = "js-string js-ws \":\" js-ws " + value;
      rules_[index] = "\"{\" js-ws ( " + kv + " ( " + kSep + " " + kv + " )* )? js-ws \"}\"";
      return rule;
    }
    // Only the listed properties are generated (a valid subset when additionalProperties
    // allows more), in schema order; required ones always, optional ones maybe.
    std::vector<std::string> kvs;
    std::vector<bool> req;
    for (auto it = props.begin(); it != props.end(); ++it) {
      std::string value;
      BASALT_ASSIGN_OR_RETURN(value,
                              Visit(it.value(), path + "/properties/" + it.key(), depth + 1));
      std::string key =
          SchemaJson(it.key()).dump(-1, ' ', false, SchemaJson::error_handler_t::replace);
      kvs.push_back(GbnfLiteral(key) + " js-ws \":\" js-ws " + value);
      req.push_back(required.count(it.key()) > 0);
    }
    size_t n = kvs.size();
    // tails[i]: properties i.. after at least one was written (each preceded by a comma).
    std::vector<std::string> tails(n + 1);
    for (size_t i = n; i-- > 1;) {
      std::string piece = std::string("( ") + kSep + " " + kvs[i] + " )" + (req[i] ? "" : "?");
      std::string next = tails[i + 1];
      if (next.empty()) {
        tails[i] = piece;
      } else {
        std::string name = NewRule();
        rules_.back() = piece + " " + next;
        tails[i] = name;
      }
    }
    std::vector<std::string> heads;
    bool all_optional = true;
    for (size_t i = 0; i < n; ++i) {
      heads.push_back(kvs[i] + (tails[i + 1].empty() ? "" : " " + tails[i + 1]));
      if (req[i]) {
        all_optional = false;
        break;
      }
    }
    std::string body = "(";
    for (size_t i = 0; i < heads.size(); ++i) body += (i ? " | " : " ") + heads[i];
    body += all_optional ? " )?" : " )";
    rules_[index] = "\"{\" js-ws " + body + " js-ws \"}\"";
    return rule;
  }

  StatusOr<int64_t> Count(const SchemaJson& s, const char* key, const std::string& path) {
    const SchemaJson& v = s[key];
    if (!v.is_number_integer() &&
        !(v.is_number_float() && std::floor(v.get<double>()) == v.get<double>())) {
      return Invalid(path + "/" + key, "must be a non-negative integer");
    }
    double d = v.get<double>();
    if (d < 0) return Invalid(path + "/" + key, "must be a non-negative integer");
    return static_cast<int64_t>(std::min(d, 1e12));
  }

  // Reads min/max counts; a max above the cap is lowered to it, a min above it is refused.
  Status Bounds(const SchemaJson& s, const char* min_key, const char* max_key,
                const std::string& path, int64_t* lo, int64_t* hi) {
    *lo = 0;
    *hi = -1;
    if (s.contains(min_key)) {
      BASALT_ASSIGN_OR_RETURN(*lo, Count(s, min_key, path));
    }
    if (s.contains(max_key)) {
      BASALT_ASSIGN_OR_RETURN(*hi, Count(s, max_key, path));
    }
    if (*hi >= 0 && *hi < *lo) return Invalid(path, std::string(max_key) + " is below " + min_key);
    if (*lo > limits_.max_repeat) {
      return Unsupported(min_key, path, "is above " + std::to_string(limits_.max_repeat));
    }
    if (*hi > limits_.max_repeat) *hi = limits_.max_repeat;
    return Status::Ok();
  }

  StatusOr<std::string> String(const SchemaJson& s, const std::string& path) {
    int64_t lo, hi;
    BASALT_RETURN_IF_ERROR(Bounds(s, "minLength", "maxLength", path, &lo, &hi));
    bool lengths = s.contains("minLength") || s.contains("maxLength");
    if (s.contains("format")) {
      if (!s["format"].is_string()) return Invalid(path + "/format", "must be a string");
      std::string f = s["format"].get<std::string>();
      if (lengths || s.contains("pattern")) {
        return Unsupported("format", path,
                           "together with minLength, maxLength or pattern is not supported");
      }
      if (f == "date-time")
        return "\"\\\"\" " + Formats().at("date") + " \"T\" " + Formats().at("time") + " \"\\\"\"";
      auto it = Formats().find(f);
      if (it == Formats().end()) {
        return Unsupported(
            "format", path,
            "value '" + f + "' is not supported (date, time, date-time, uuid, email, ipv4)");
      }
      return "\"\\\"\" " + it->second + " \"\\\"\"";
    }
    if (s.contains("pattern")) {
      if (!s["pattern"].is_string()) return Invalid(path + "/pattern", "must be a string");
      if (lengths)
        return Unsupported("pattern", path,
                           "together with minLength or maxLength is not supported");
      auto g = internal::PatternToGbnf(s["pattern"].get<std::string>(), limits_.max_repeat);
      if (!g.ok()) return Unsupported("pattern", path, g.status().message().substr(0, 300));
      return "\"\\\"\" " + *g + " \"\\\"\"";
    }
    if (!lengths) return std::string("js-string");
    return "\"\\\"\" " + Repeat("js-char", lo, hi) + " \"\\\"\"";
  }

  StatusOr<std::string> Integer(const SchemaJson& s, const std::string& path) {
    std::optional<int64_t> lo, hi;
    auto read = [&](const char* key, bool upper, bool exclusive) -> Status {
      if (!s.contains(key)) return Status::Ok();
      const SchemaJson& v = s[key];
      if (!v.is_number()) return Invalid(path + "/" + key, "must be a number");
      double d = std::clamp(v.get<double>(), -1e17, 1e17);
      double b = upper ? (exclusive ? std::ceil(d) - 1 : std::floor(d))
                       : (exclusive ? std::floor(d) + 1 : std::ceil(d));
      int64_t x = static_cast<int64_t>(
          std::clamp(b, -static_cast<double>(kMaxInt), static_cast<double>(kMaxInt)));
      if (upper) {
        hi = hi ? std::min(*hi, x) : x;
      } else {
        lo = lo ? std::max(*lo, x) : x;
      }
      return Status::Ok();
    };
    BASALT_RETURN_IF_ERROR(read("minimum", false, false));
    BASALT_RETURN_IF_ERROR(read("exclusiveMinimum", false, true));
    BASALT_RETURN_IF_ERROR(read("maximum", true, false));
    BASALT_RETURN_IF_ERROR(read("exclusiveMaximum", true, true));
    if (!lo && !hi) return std::string("js-integer");
    if (lo && hi && *lo > *hi)
      return Unsupported("minimum", path, "is above maximum: no integer fits");
    return IntegerRange(lo, hi);
  }

  StatusOr<std::string> Array(const SchemaJson& s, const std::string& path, int depth) {
    auto saved = std::move(bare_refs_);
    bare_refs_.clear();
    auto result = ArrayBody(s, path, depth);
    bare_refs_ = std::move(saved);
    return result;
  }

  StatusOr<std::string> ArrayBody(const SchemaJson& s, const std::string& path, int depth) {
    if (s.contains("uniqueItems") && s["uniqueItems"] != false) {
      return Unsupported("uniqueItems", path, "cannot be enforced by a grammar");
    }
    int64_t lo, hi;
    BASALT_RETURN_IF_ERROR(Bounds(s, "minItems", "maxItems", path, &lo, &hi));
    std::vector<std::string> prefix;
    const SchemaJson* rest = nullptr;
    std::string rest_path;
    const SchemaJson* prefix_list = nullptr;
    std::string prefix_path;
    if (s.contains("prefixItems")) {
      prefix_list = &s["prefixItems"];
      prefix_path = path + "/prefixItems";
      if (s.contains("items")) {
        rest = &s["items"];
        rest_path = path + "/items";
      }
    } else if (s.contains("items") && s["items"].is_array()) {
      prefix_list = &s["items"];  // draft 2019-09 tuple form
      prefix_path = path + "/items";
      if (s.contains("additionalItems")) {
        rest = &s["additionalItems"];
        rest_path = path + "/additionalItems";
      }
    } else if (s.contains("items")) {
      rest = &s["items"];
      rest_path = path + "/items";
    }
    if (prefix_list != nullptr) {
      if (!prefix_list->is_array()) return Invalid(prefix_path, "must be an array");
      for (size_t i = 0; i < prefix_list->size(); ++i) {
        std::string e;
        BASALT_ASSIGN_OR_RETURN(
            e, Visit((*prefix_list)[i], prefix_path + "/" + std::to_string(i), depth + 1));
        prefix.push_back(e);
      }
    }
    std::string item = "js-value";
    int64_t p = static_cast<int64_t>(prefix.size());
    if (rest != nullptr && rest->is_boolean() && !rest->get<bool>()) {
      hi = hi < 0 ? p : std::min(hi, p);
      if (lo > hi) return Unsupported("minItems", path, "needs more items than the schema allows");
    } else if (rest != nullptr) {
      BASALT_ASSIGN_OR_RETURN(item, Visit(*rest, rest_path, depth + 1));
    }
    std::string rule = NewRule();
    size_t index = rules_.size() - 1;
    std::string sep_item = std::string("( ") + kSep + " " + item + " )";
    // Elements from position i on; each after the first is preceded by a comma.
    std::function<std::string(int64_t)> build = [&](int64_t i) -> std::string {
      if (hi >= 0 && i >= hi) return "";
      if (i >= p) {
        int64_t need = std::max<int64_t>(0, lo - i);
        int64_t upper = hi < 0 ? -1 : hi - i;
        if (i > 0) return Repeat(sep_item, need, upper);
        std::string more =
            Repeat(sep_item, std::max<int64_t>(0, need - 1), upper < 0 ? -1 : upper - 1);
        std::string seq = item + (more.empty() ? "" : " " + more);
        return need >= 1 ? seq : "( " + seq + " )?";
      }
      std::string tail = build(i + 1);
      std::string seq =
          (i == 0 ? "" : std::string(kSep) + " ") + prefix[i] + (tail.empty() ? "" : " " + tail);
      return i < lo ? seq : "( " + seq + " )?";
    };
    std::string elements = build(0);
    rules_[index] = "\"[\" js-ws " + (elements.empty() ? "" : elements + " ") + "js-ws \"]\"";
    return rule;
  }

  const SchemaJson& root_;
  const SchemaLimits& limits_;
  std::vector<std::string> rules_;
  std::map<std::string, std::string> ref_rules_;
  std::set<std::string> bare_refs_;  // $refs entered with no JSON written since
};

}  // namespace

StatusOr<SchemaJson> ParseJsonSchema(std::string_view text, const SchemaLimits& limits) {
  if (text.size() > limits.max_schema_bytes) {
    return Status::InvalidArgument("The JSON schema is larger than " +
                                   std::to_string(limits.max_schema_bytes) + " bytes.");
  }
  if (!JsonDepthWithin(text, limits.max_depth * 2 + 8)) {
    return Status::InvalidArgument("The JSON schema nests too deeply.");
  }
  SchemaJson schema = SchemaJson::parse(text, nullptr, false);
  if (schema.is_discarded()) return Status::InvalidArgument("The JSON schema is not valid JSON.");
  if (!schema.is_object() && !schema.is_boolean()) {
    return Status::InvalidArgument("The JSON schema must be a JSON object.");
  }
  return schema;
}

StatusOr<std::string> CompileJsonSchema(const SchemaJson& schema, const std::string& root_name,
                                        const SchemaLimits& limits) {
  return Compiler(schema, limits).Run(root_name);
}

}  // namespace basalt::grammar
