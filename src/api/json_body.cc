#include "api/json_body.h"

#include <cmath>
#include <sstream>

#include "common/json_depth.h"

namespace basalt::api {

Status MalformedInput(const std::string& detail) {
  return Status::InvalidArgument("Malformed input request: " + detail +
                                 ", please reformat your input and try again.");
}

StatusOr<Json> ParseJsonBody(std::string_view body) {
  if (!JsonDepthWithin(body)) {
    return MalformedInput("#: the JSON nests deeper than " + std::to_string(kMaxJsonDepth) +
                          " levels");
  }
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return MalformedInput("expected a JSON object but the body is not valid JSON");
  }
  if (!j.is_object())
    return MalformedInput(std::string("#: expected type: JSONObject, found: ") + JsonTypeName(j));
  return j;
}

const char* JsonTypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "Null";
    case Json::value_t::boolean:
      return "Boolean";
    case Json::value_t::string:
      return "String";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "Integer";
    case Json::value_t::number_float:
      return "Number";
    case Json::value_t::object:
      return "JSONObject";
    case Json::value_t::array:
      return "JSONArray";
    default:
      return "Unknown";
  }
}

namespace {
std::string Fmt(double d) {
  std::ostringstream os;
  os << d;
  return os.str();
}
}  // namespace

Status JsonReader::OnlyKeys(std::initializer_list<const char*> allowed) const {
  std::string extra;
  for (auto it = obj_.begin(); it != obj_.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (!ok) {
      if (!extra.empty()) extra += ", ";
      extra += it.key();
    }
  }
  if (extra.empty()) return Status::Ok();
  return MalformedInput(path_ + ": extraneous key [" + extra + "] is not permitted");
}

bool JsonReader::Has(const char* key) const {
  auto it = obj_.find(key);
  return it != obj_.end() && !it->is_null();
}

StatusOr<std::optional<std::string>> JsonReader::String(const char* key, bool required) const {
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) {
    if (required) return MalformedInput(path_ + ": required key [" + key + "] not found");
    return std::optional<std::string>();
  }
  if (!it->is_string()) {
    return MalformedInput(PathOf(key) + ": expected type: String, found: " + JsonTypeName(*it));
  }
  return std::optional<std::string>(it->get<std::string>());
}

StatusOr<std::optional<double>> JsonReader::Number(const char* key, std::optional<double> min,
                                                   std::optional<double> max, bool required) const {
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) {
    if (required) return MalformedInput(path_ + ": required key [" + key + "] not found");
    return std::optional<double>();
  }
  if (!it->is_number()) {
    return MalformedInput(PathOf(key) + ": expected type: Number, found: " + JsonTypeName(*it));
  }
  double d = it->get<double>();
  if (!std::isfinite(d)) return MalformedInput(PathOf(key) + ": must be a finite number");
  if (min && d < *min) {
    return MalformedInput(PathOf(key) + ": " + Fmt(d) + " is not greater or equal to " + Fmt(*min));
  }
  if (max && d > *max) {
    return MalformedInput(PathOf(key) + ": " + Fmt(d) + " is not less or equal to " + Fmt(*max));
  }
  return std::optional<double>(d);
}

StatusOr<std::optional<int64_t>> JsonReader::Integer(const char* key, std::optional<int64_t> min,
                                                     std::optional<int64_t> max,
                                                     bool required) const {
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) {
    if (required) return MalformedInput(path_ + ": required key [" + key + "] not found");
    return std::optional<int64_t>();
  }
  int64_t v = 0;
  if (it->is_number_integer() || it->is_number_unsigned()) {
    if (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t(INT64_MAX)) {
      v = INT64_MAX;
    } else {
      v = it->get<int64_t>();
    }
  } else if (it->is_number_float() && std::floor(it->get<double>()) == it->get<double>() &&
             std::fabs(it->get<double>()) < 9e15) {
    v = static_cast<int64_t>(it->get<double>());
  } else {
    return MalformedInput(PathOf(key) + ": expected type: Integer, found: " + JsonTypeName(*it));
  }
  if (min && v < *min) {
    return MalformedInput(PathOf(key) + ": " + std::to_string(v) + " is not greater or equal to " +
                          std::to_string(*min));
  }
  if (max && v > *max) {
    return MalformedInput(PathOf(key) + ": " + std::to_string(v) + " is not less or equal to " +
                          std::to_string(*max));
  }
  return std::optional<int64_t>(v);
}

StatusOr<std::optional<bool>> JsonReader::Bool(const char* key) const {
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean()) {
    return MalformedInput(PathOf(key) + ": expected type: Boolean, found: " + JsonTypeName(*it));
  }
  return std::optional<bool>(it->get<bool>());
}

StatusOr<std::optional<std::vector<std::string>>> JsonReader::StringList(const char* key,
                                                                         size_t max_items) const {
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) return std::optional<std::vector<std::string>>();
  if (!it->is_array()) {
    return MalformedInput(PathOf(key) + ": expected type: JSONArray, found: " + JsonTypeName(*it));
  }
  if (max_items && it->size() > max_items) {
    return MalformedInput(PathOf(key) + ": expected maximum item count: " +
                          std::to_string(max_items) + ", found: " + std::to_string(it->size()));
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& v = (*it)[i];
    if (!v.is_string()) {
      return MalformedInput(PathOf(key) + "/" + std::to_string(i) +
                            ": expected type: String, found: " + JsonTypeName(v));
    }
    out.push_back(v.get<std::string>());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

StatusOr<const Json*> JsonReader::Object(const char* key, bool required) const {
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) {
    if (required) return MalformedInput(path_ + ": required key [" + key + "] not found");
    return static_cast<const Json*>(nullptr);
  }
  if (!it->is_object()) {
    return MalformedInput(PathOf(key) + ": expected type: JSONObject, found: " + JsonTypeName(*it));
  }
  return &*it;
}

StatusOr<const Json*> JsonReader::Array(const char* key, bool required) const {
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) {
    if (required) return MalformedInput(path_ + ": required key [" + key + "] not found");
    return static_cast<const Json*>(nullptr);
  }
  if (!it->is_array()) {
    return MalformedInput(PathOf(key) + ": expected type: JSONArray, found: " + JsonTypeName(*it));
  }
  return &*it;
}

}  // namespace basalt::api
