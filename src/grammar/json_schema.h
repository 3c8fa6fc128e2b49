// JSON Schema for structured output: a compiler from a JSON Schema (a practical subset of draft
// 2020-12, listed in docs/structured-output.md) to a GBNF grammar that llama.cpp's grammar
// sampler enforces token by token, and a validator for the same subset. Converse's outputConfig
// uses both; app definitions reuse them. Stateless and thread-safe; no llama.cpp type appears.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace basalt::grammar {

// Schemas keep their key order: object properties are generated in schema order.
using SchemaJson = nlohmann::ordered_json;

// Bounds against abusive schemas. A string or array bound above `max_repeat` is generated as
// `max_repeat` (the output still satisfies the schema); a lower bound above it is refused.
struct SchemaLimits {
  size_t max_schema_bytes = 64 * 1024;
  int max_depth = 32;       // nesting of subschemas
  size_t max_rules = 4000;  // GBNF rules in the grammar
  size_t max_grammar_bytes = 512 * 1024;
  size_t max_enum_values = 1000;
  int max_repeat = 500;  // minLength/maxLength/minItems/maxItems/{n,m} in patterns
};

// Parses schema text (JSON object or boolean). kInvalidArgument, naming the problem, for text
// that is too big, too deep, not JSON, or not a schema.
StatusOr<SchemaJson> ParseJsonSchema(std::string_view text, const SchemaLimits& limits = {});

// Compiles `schema` into GBNF. The top-level rule is `root_name` (default "root"); every other
// rule name starts with "js-", so the grammar can be joined with another that avoids that
// prefix. kInvalidArgument for anything the grammar cannot enforce, naming the keyword and its
// JSON pointer ("keyword 'not' at '#/properties/a' is not supported ...").
StatusOr<std::string> CompileJsonSchema(const SchemaJson& schema,
                                        const std::string& root_name = "root",
                                        const SchemaLimits& limits = {});

struct ValidateOptions {
  // `pattern` is checked with std::regex (ECMAScript). Off where the grammar already enforced
  // it and the pattern comes from a client (a backtracking regex is a denial-of-service risk).
  bool check_patterns = true;
};

// Checks `value` against `schema` (same keyword set as the compiler, plus numeric bounds on
// numbers and multipleOf). OK, or kInvalidArgument naming the instance path and the keyword
// ("/items/0: 'x' is not one of the enum values").
Status ValidateJson(const SchemaJson& schema, const SchemaJson& value,
                    const ValidateOptions& options = {});

}  // namespace basalt::grammar
