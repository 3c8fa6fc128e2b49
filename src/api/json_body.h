// Reading provider-native JSON bodies with Bedrock's "Malformed input request" wording:
//   Malformed input request: #/temperature: expected type: Number, found: String, please
//   reformat your input and try again.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/status.h"

namespace basalt::api {

using Json = nlohmann::json;

// Parses a request body; kInvalidArgument with Bedrock's wording on failure.
StatusOr<Json> ParseJsonBody(std::string_view body);

Status MalformedInput(const std::string& detail);

// JSON-schema-like type name used in messages ("String", "Number", "Integer", ...).
const char* JsonTypeName(const Json& value);

class JsonReader {
 public:
  JsonReader(const Json& object, std::string path) : obj_(object), path_(std::move(path)) {}

  // Fails on keys not in `allowed` ("extraneous key [x] is not permitted").
  Status OnlyKeys(std::initializer_list<const char*> allowed) const;
  bool Has(const char* key) const;

  StatusOr<std::optional<std::string>> String(const char* key, bool required = false) const;
  StatusOr<std::optional<double>> Number(const char* key, std::optional<double> min = {},
                                         std::optional<double> max = {},
                                         bool required = false) const;
  StatusOr<std::optional<int64_t>> Integer(const char* key, std::optional<int64_t> min = {},
                                           std::optional<int64_t> max = {},
                                           bool required = false) const;
  StatusOr<std::optional<bool>> Bool(const char* key) const;
  StatusOr<std::optional<std::vector<std::string>>> StringList(const char* key,
                                                               size_t max_items = 0) const;
  // The member itself (nullptr when absent); fails when present with another type.
  StatusOr<const Json*> Object(const char* key, bool required = false) const;
  StatusOr<const Json*> Array(const char* key, bool required = false) const;

  std::string PathOf(const char* key) const { return path_ + "/" + key; }

 private:
  const Json& obj_;
  std::string path_;
};

}  // namespace basalt::api
