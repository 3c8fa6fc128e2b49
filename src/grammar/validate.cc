// The JSON Schema validator for the subset the compiler accepts (plus numeric bounds on
// numbers and multipleOf, which only a validator can check). Recursion is bounded by the
// depth of the value and of the schema; $ref cycles that consume no input are cut off.
#include <cctype>
#include <cmath>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "grammar/json_schema.h"

namespace basalt::grammar {
namespace {

size_t CodePoints(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool Digits(const std::string& s, size_t pos, size_t n) {
  if (pos + n > s.size()) return false;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

int Num(const std::string& s, size_t pos, size_t n) { return std::stoi(s.substr(pos, n)); }

bool IsDate(const std::string& s) {
  if (s.size() != 10 || !Digits(s, 0, 4) || s[4] != '-' || !Digits(s, 5, 2) || s[7] != '-' ||
      !Digits(s, 8, 2)) {
    return false;
  }
  int year = Num(s, 0, 4), month = Num(s, 5, 2), day = Num(s, 8, 2);
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > kDays[month - 1]) return false;
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return !(month == 2 && day == 29 && !leap);
}

bool IsTime(const std::string& s) {
  if (s.size() < 9 || !Digits(s, 0, 2) || s[2] != ':' || !Digits(s, 3, 2) || s[5] != ':' ||
      !Digits(s, 6, 2) || Num(s, 0, 2) > 23 || Num(s, 3, 2) > 59 || Num(s, 6, 2) > 60) {
    return false;
  }
  size_t pos = 8;
  if (s[pos] == '.') {
    size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
    if (pos == start) return false;
  }
  std::string zone = s.substr(pos);
  if (zone == "Z" || zone == "z") return true;
  return zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && Digits(zone, 1, 2) &&
         zone[3] == ':' && Digits(zone, 4, 2) && Num(zone, 1, 2) <= 23 && Num(zone, 4, 2) <= 59;
}

bool IsUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

bool IsEmail(const std::string& s) {
  size_t at = s.find('@');
  if (at == std::string::npos || at == 0 || at > 64 || s.find('@', at + 1) != std::string::npos) {
    return false;
  }
  std::string local = s.substr(0, at), domain = s.substr(at + 1);
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string::npos) {
    return false;
  }
  for (unsigned char c : local) {
    if (!isalnum(c) &&
        std::string("!#$%&'*+/=?^_`{|}~.-").find(static_cast<char>(c)) == std::string::npos) {
      return false;
    }
  }
  if (domain.empty() || domain.size() > 253 || domain.find('.') == std::string::npos) return false;
  size_t start = 0;
  while (start <= domain.size()) {
    size_t dot = domain.find('.', start);
    std::string label =
        domain.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (unsigned char c : label) {
      if (!isalnum(c) && c != '-') return false;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return true;
}

bool IsIpv4(const std::string& s) {
  int parts = 0;
  size_t pos = 0;
  while (parts < 4) {
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9' && pos - start < 3) ++pos;
    size_t n = pos - start;
    if (n == 0 || (n > 1 && s[start] == '0') || Num(s, start, n) > 255) return false;
    ++parts;
    if (parts < 4) {
      if (pos >= s.size() || s[pos] != '.') return false;
      ++pos;
    }
  }
  return pos == s.size();
}

bool FormatOk(const std::string& format, const std::string& s) {
  if (format == "date") return IsDate(s);
  if (format == "time") return IsTime(s);
  if (format == "date-time") {
    size_t t = s.find_first_of("Tt");
    return t == 10 && IsDate(s.substr(0, 10)) && IsTime(s.substr(11));
  }
  if (format == "uuid") return IsUuid(s);
  if (format == "email") return IsEmail(s);
  if (format == "ipv4") return IsIpv4(s);
  return true;  // other formats are annotations here
}

const char* TypeOf(const SchemaJson& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

bool HasType(const SchemaJson& v, const std::string& t) {
  std::string actual = TypeOf(v);
  if (t == actual) return true;
  if (t == "number") return actual == "integer";
  if (t == "integer" && actual == "number") {
    double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
  }
  return false;
}

class Validator {
 public:
  Validator(const SchemaJson& root, const ValidateOptions& options)
      : root_(root), options_(options) {}

  Status Check(const SchemaJson& s, const SchemaJson& v, const std::string& at, int depth) {
    if (depth > 256) return Fail(at, "the schema or the value nests too deeply");
    if (s.is_boolean()) return s.get<bool>() ? Status::Ok() : Fail(at, "no value is allowed");
    if (!s.is_object()) return Fail(at, "the schema is not an object");
    if (s.contains("$ref")) {
      const SchemaJson* target = Resolve(s["$ref"]);
      if (target == nullptr) return Fail(at, "$ref does not resolve");
      BASALT_RETURN_IF_ERROR(Check(*target, v, at, depth + 1));
    }
    if (s.contains("const") && s["const"] != v) return Fail(at, "not the const value");
    if (s.contains("enum") && s["enum"].is_array()) {
      bool found = false;
      for (const auto& e : s["enum"]) found = found || e == v;
      if (!found) return Fail(at, Short(v) + " is not one of the enum values");
    }
    if (s.contains("type")) {
      std::vector<std::string> types;
      if (s["type"].is_string()) types.push_back(s["type"].get<std::string>());
      if (s["type"].is_array()) {
        for (const auto& t : s["type"]) {
          if (t.is_string()) types.push_back(t.get<std::string>());
        }
      }
      if (s.value("nullable", false)) types.push_back("null");
      bool ok = false;
      for (const auto& t : types) ok = ok || HasType(v, t);
      if (!ok)
        return Fail(at, std::string("expected type ") + s["type"].dump() + ", got " + TypeOf(v));
    }
    if (v.is_null() && s.value("nullable", false)) return Status::Ok();
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!s.contains(key) || !s[key].is_array()) continue;
      int matches = 0;
      for (const auto& alt : s[key]) matches += Check(alt, v, at, depth + 1).ok();
      if (matches == 0) return Fail(at, std::string("matches none of ") + key);
      if (std::string(key) == "oneOf" && matches > 1)
        return Fail(at, "matches more than one of oneOf");
    }
    if (s.contains("allOf") && s["allOf"].is_array()) {
      for (const auto& part : s["allOf"]) BASALT_RETURN_IF_ERROR(Check(part, v, at, depth + 1));
    }
    if (v.is_object()) return Object(s, v, at, depth);
    if (v.is_array()) return Array(s, v, at, depth);
    if (v.is_string()) return String(s, v.get_ref<const std::string&>(), at);
    if (v.is_number()) return Number(s, v, at);
    return Status::Ok();
  }

 private:
  static Status Fail(const std::string& at, const std::string& what) {
    return Status::InvalidArgument((at.empty() ? std::string("/") : at) + ": " + what);
  }
  static std::string Short(const SchemaJson& v) {
    std::string t = v.dump(-1, ' ', false, SchemaJson::error_handler_t::replace);
    return t.size() > 40 ? t.substr(0, 40) + "..." : t;
  }
  static std::string Escape(const std::string& key) {
    std::string out;
    for (char c : key) out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
    return out;
  }

  const SchemaJson* Resolve(const SchemaJson& ref) const {
    if (!ref.is_string()) return nullptr;
    const std::string& r = ref.get_ref<const std::string&>();
    if (r.empty() || r[0] != '#') return nullptr;
    try {
      SchemaJson::json_pointer pointer(r.substr(1));
      return root_.contains(pointer) ? &root_.at(pointer) : nullptr;
    } catch (const std::exception&) {
      return nullptr;
    }
  }

  Status Object(const SchemaJson& s, const SchemaJson& v, const std::string& at, int depth) {
    const SchemaJson empty = SchemaJson::object();
    const SchemaJson& props =
        s.contains("properties") && s["properties"].is_object() ? s["properties"] : empty;
    if (s.contains("required") && s["required"].is_array()) {
      for (const auto& r : s["required"]) {
        if (r.is_string() && !v.contains(r.get<std::string>())) {
          return Fail(at, "required property '" + r.get<std::string>() + "' is missing");
        }
      }
    }
    for (auto it = v.begin(); it != v.end(); ++it) {
      std::string child = at + "/" + Escape(it.key());
      if (props.contains(it.key())) {
        BASALT_RETURN_IF_ERROR(Check(props[it.key()], it.value(), child, depth + 1));
      } else if (s.contains("additionalProperties")) {
        const SchemaJson& extra = s["additionalProperties"];
        if (extra.is_boolean() && !extra.get<bool>()) {
          return Fail(at, "property '" + it.key() + "' is not allowed");
        }
        BASALT_RETURN_IF_ERROR(Check(extra, it.value(), child, depth + 1));
      }
    }
    return Status::Ok();
  }

  Status Array(const SchemaJson& s, const SchemaJson& v, const std::string& at, int depth) {
    size_t n = v.size();
    if (s.contains("minItems") && s["minItems"].is_number() && n < s["minItems"].get<double>()) {
      return Fail(at, "fewer than minItems items");
    }
    if (s.contains("maxItems") && s["maxItems"].is_number() && n > s["maxItems"].get<double>()) {
      return Fail(at, "more than maxItems items");
    }
    const SchemaJson* prefix = nullptr;
    const SchemaJson* rest = nullptr;
    if (s.contains("prefixItems")) {
      prefix = &s["prefixItems"];
      if (s.contains("items")) rest = &s["items"];
    } else if (s.contains("items") && s["items"].is_array()) {
      prefix = &s["items"];
      if (s.contains("additionalItems")) rest = &s["additionalItems"];
    } else if (s.contains("items")) {
      rest = &s["items"];
    }
    size_t p = prefix != nullptr && prefix->is_array() ? prefix->size() : 0;
    for (size_t i = 0; i < n; ++i) {
      std::string child = at + "/" + std::to_string(i);
      if (i < p) {
        BASALT_RETURN_IF_ERROR(Check((*prefix)[i], v[i], child, depth + 1));
      } else if (rest != nullptr) {
        BASALT_RETURN_IF_ERROR(Check(*rest, v[i], child, depth + 1));
      }
    }
    if (s.value("uniqueItems", false)) {
      for (size_t i = 0; i < n; ++i) {
        for (size_t j = i + 1; j < n; ++j) {
          if (v[i] == v[j]) return Fail(at, "items are not unique");
        }
      }
    }
    return Status::Ok();
  }

  Status String(const SchemaJson& s, const std::string& text, const std::string& at) {
    size_t n = CodePoints(text);
    if (s.contains("minLength") && s["minLength"].is_number() && n < s["minLength"].get<double>()) {
      return Fail(at, "shorter than minLength");
    }
    if (s.contains("maxLength") && s["maxLength"].is_number() && n > s["maxLength"].get<double>()) {
      return Fail(at, "longer than maxLength");
    }
    if (s.contains("format") && s["format"].is_string() &&
        !FormatOk(s["format"].get<std::string>(), text)) {
      return Fail(at,
                  Short(SchemaJson(text)) + " is not a valid " + s["format"].get<std::string>());
    }
    if (options_.check_patterns && s.contains("pattern") && s["pattern"].is_string()) {
      try {
        std::regex re(s["pattern"].get<std::string>(), std::regex::ECMAScript);
        if (!std::regex_search(text, re))
          return Fail(at, Short(SchemaJson(text)) + " does not match the pattern");
      } catch (const std::exception&) {
        return Fail(at, "the pattern is not a valid regular expression");
      }
    }
    return Status::Ok();
  }

  Status Number(const SchemaJson& s, const SchemaJson& v, const std::string& at) {
    double d = v.get<double>();
    auto bound = [&](const char* key) -> std::optional<double> {
      if (s.contains(key) && s[key].is_number()) return s[key].get<double>();
      return std::nullopt;
    };
    if (auto b = bound("minimum"); b && d < *b) return Fail(at, Short(v) + " is below minimum");
    if (auto b = bound("maximum"); b && d > *b) return Fail(at, Short(v) + " is above maximum");
    if (auto b = bound("exclusiveMinimum"); b && d <= *b)
      return Fail(at, Short(v) + " is not above exclusiveMinimum");
    if (auto b = bound("exclusiveMaximum"); b && d >= *b)
      return Fail(at, Short(v) + " is not below exclusiveMaximum");
    if (auto b = bound("multipleOf"); b && *b > 0) {
      double q = d / *b;
      if (std::fabs(q - std::round(q)) > 1e-9)
        return Fail(at, Short(v) + " is not a multiple of multipleOf");
    }
    return Status::Ok();
  }

  const SchemaJson& root_;
  const ValidateOptions& options_;
};

}  // namespace

Status ValidateJson(const SchemaJson& schema, const SchemaJson& value,
                    const ValidateOptions& options) {
  return Validator(schema, options).Check(schema, value, "", 0);
}

}  // namespace basalt::grammar
