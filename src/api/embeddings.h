// Embedding bodies of InvokeModel (shared/docs/bedrock-api.md B.5 and B.8): Amazon Titan Text
// Embeddings G1 (v1) and V2, and Cohere Embed v3. Parsing into an EmbedPlan, and shaping the
// engine's pooled vectors into each family's response.
//
// What the numbers mean on a local model (docs/catalog.md, "Embedding models"):
// - A vector starts as the model's pooled output in its native size (n_embd).
// - Titan V2 `dimensions` (1024, 512 or 256; default 1024) keeps the first `dimensions`
//   components (Matryoshka truncation) and renormalizes them when `normalize` (default true).
//   Asking for more dimensions than the model has is a ValidationException; without
//   `dimensions` a smaller model answers with all of its own.
// - Titan G1 (v1) returns the model's native size, as pooled (v1 has no normalize option).
// - Cohere floats are unit length in the native size; int8/uint8 scale each vector so that its
//   largest component is ±127; binary/ubinary pack the signs 8 to a byte (MSB first), ubinary
//   as 0..255 and binary as that minus 128, as Cohere defines them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/json_body.h"
#include "catalog/catalog.h"
#include "engine/engine.h"

namespace basalt::api {

struct EmbedPlan {
  catalog::EmbedFamily family = catalog::EmbedFamily::kTitanV2;
  std::vector<std::string> texts;
  engine::EmbedTruncate truncate = engine::EmbedTruncate::kNone;
  // Titan V2.
  std::optional<int> dimensions;
  bool normalize = true;
  bool titan_binary = false;  // embeddingTypes has "binary"
  bool titan_float = true;    // embeddingTypes has "float" (or was not given)
  // Cohere.
  std::string input_type;
  std::vector<std::string> embedding_types;  // empty: response_type embeddings_floats
};

// Parses an InvokeModel body for `family` (not kNone). kInvalidArgument with Bedrock's
// "Malformed input request" wording names the offending key.
StatusOr<EmbedPlan> ParseEmbedBody(catalog::EmbedFamily family, const Json& body);

// Rough token count of the plan's texts, for quota admission before the model counts them.
int64_t EstimateEmbedTokens(const EmbedPlan& plan);

// The response body for the vectors `result` holds (one per plan text). `response_id` is
// Cohere's `id`. kInvalidArgument when `dimensions` exceeds the model's size.
StatusOr<Json> RenderEmbedResponse(const EmbedPlan& plan, const engine::EmbedResult& result,
                                   const std::string& response_id);

// The first `dims` components of `v`, scaled to unit length when `normalize` (a zero vector
// stays zero).
std::vector<float> ShapeEmbedding(const std::vector<float>& v, size_t dims, bool normalize);
// Cohere's quantized forms of a vector.
std::vector<int> QuantizeInt8(const std::vector<float>& v, bool unsigned_form);
std::vector<int> PackBinary(const std::vector<float>& v, bool unsigned_form);

// Bedrock's refusals of the text-only operations on an embedding model.
inline constexpr char kConverseUnsupportedModel[] =
    "This action doesn't support the model that you provided. Try again with a supported text "
    "or chat model.";
inline constexpr char kCountTokensUnsupportedModel[] =
    "The provided model doesn't support counting tokens.";

}  // namespace basalt::api
