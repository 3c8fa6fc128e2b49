#include "api/embeddings.h"

#include <gtest/gtest.h>

#include <cmath>

namespace basalt::api {
namespace {

using catalog::EmbedFamily;

EmbedPlan MustParse(EmbedFamily family, const char* body) {
  auto json = ParseJsonBody(body);
  EXPECT_TRUE(json.ok()) << body;
  auto plan = ParseEmbedBody(family, *json);
  EXPECT_TRUE(plan.ok()) << body << ": " << plan.status().ToString();
  return plan.ok() ? *plan : EmbedPlan();
}

std::string ErrorOf(EmbedFamily family, const std::string& body) {
  auto json = ParseJsonBody(body);
  if (!json.ok()) return json.status().message();
  auto plan = ParseEmbedBody(family, *json);
  if (plan.ok()) return "";
  EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument);
  return plan.status().message();
}

double Norm(const Json& v) {
  double sum = 0;
  for (const auto& x : v) sum += x.get<double>() * x.get<double>();
  return std::sqrt(sum);
}

engine::EmbedResult Result(std::vector<std::vector<float>> vectors) {
  engine::EmbedResult r;
  for (auto& v : vectors) {
    r.vectors.push_back(v);
    r.token_counts.push_back(5);
  }
  return r;
}

std::vector<float> Ramp(int n) {
  std::vector<float> v;
  for (int i = 0; i < n; ++i) v.push_back(static_cast<float>((i % 7) - 3) * 0.5f);
  return v;
}

TEST(EmbeddingsTest, TitanV1TakesOnlyInputText) {
  EmbedPlan p = MustParse(EmbedFamily::kTitanV1, R"({"inputText":"hello"})");
  ASSERT_EQ(p.texts.size(), 1u);
  EXPECT_EQ(p.texts[0], "hello");
  EXPECT_EQ(ErrorOf(EmbedFamily::kTitanV1, R"({"inputText":"x","dimensions":256})"),
            "Malformed input request: #: extraneous key [dimensions] is not permitted, please "
            "reformat your input and try again.");
  EXPECT_EQ(ErrorOf(EmbedFamily::kTitanV1, R"({})"),
            "Malformed input request: #: required key [inputText] not found, please reformat "
            "your input and try again.");
  EXPECT_EQ(ErrorOf(EmbedFamily::kTitanV1, R"({"inputText":""})"),
            "Malformed input request: #/inputText: expected minLength: 1, actual: 0, please "
            "reformat your input and try again.");
  EXPECT_NE(ErrorOf(EmbedFamily::kTitanV1, R"({"inputText":5})"), "");
  std::string big(50'001, 'a');
  EXPECT_NE(ErrorOf(EmbedFamily::kTitanV1, R"({"inputText":")" + big + R"("})")
                .find("expected maxLength: 50000, actual: 50001"),
            std::string::npos);

  // v1 answers the model's own size, as pooled.
  auto body = RenderEmbedResponse(p, Result({Ramp(48)}), "id");
  ASSERT_TRUE(body.ok());
  EXPECT_EQ((*body)["embedding"].size(), 48u);
  EXPECT_EQ((*body)["inputTextTokenCount"], 5);
  EXPECT_FALSE(body->contains("embeddingsByType"));
}

TEST(EmbeddingsTest, TitanV2Options) {
  EmbedPlan d = MustParse(EmbedFamily::kTitanV2, R"({"inputText":"hi"})");
  EXPECT_FALSE(d.dimensions.has_value());
  EXPECT_TRUE(d.normalize);
  EXPECT_TRUE(d.titan_float);
  EXPECT_FALSE(d.titan_binary);
  EmbedPlan p = MustParse(
      EmbedFamily::kTitanV2,
      R"({"inputText":"hi","dimensions":256,"normalize":false,"embeddingTypes":["binary","float"]})");
  EXPECT_EQ(*p.dimensions, 256);
  EXPECT_FALSE(p.normalize);
  EXPECT_TRUE(p.titan_binary);
  EXPECT_TRUE(p.titan_float);
  EXPECT_EQ(ErrorOf(EmbedFamily::kTitanV2, R"({"inputText":"x","dimensions":100})"),
            "Malformed input request: #/dimensions: 100 is not a valid enum value, please "
            "reformat your input and try again.");
  EXPECT_NE(ErrorOf(EmbedFamily::kTitanV2, R"({"inputText":"x","dimensions":"256"})"), "");
  EXPECT_NE(ErrorOf(EmbedFamily::kTitanV2, R"({"inputText":"x","normalize":"yes"})"), "");
  EXPECT_EQ(ErrorOf(EmbedFamily::kTitanV2, R"({"inputText":"x","embeddingTypes":["int8"]})"),
            "Malformed input request: #/embeddingTypes/0: int8 is not a valid enum value, "
            "please reformat your input and try again.");
  EXPECT_NE(ErrorOf(EmbedFamily::kTitanV2, R"({"inputText":"x","embeddingTypes":[]})"), "");
  EXPECT_NE(ErrorOf(EmbedFamily::kTitanV2, R"({"inputText":"x","texts":["a"]})"), "");
}

TEST(EmbeddingsTest, TitanV2DimensionsNormalizeAndBinary) {
  const std::vector<float> raw = Ramp(768);
  // Default: min(1024, the model's size), unit length, float by type always present.
  auto d = RenderEmbedResponse(MustParse(EmbedFamily::kTitanV2, R"({"inputText":"a"})"),
                               Result({raw}), "id");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)["embedding"].size(), 768u);
  EXPECT_NEAR(Norm((*d)["embedding"]), 1.0, 1e-6);
  EXPECT_EQ((*d)["embeddingsByType"]["float"], (*d)["embedding"]);
  EXPECT_FALSE((*d)["embeddingsByType"].contains("binary"));

  // 256: the first 256 components, renormalized (Matryoshka).
  auto t = RenderEmbedResponse(
      MustParse(EmbedFamily::kTitanV2,
                R"({"inputText":"a","dimensions":256,"embeddingTypes":["binary"]})"),
      Result({raw}), "id");
  ASSERT_TRUE(t.ok());
  ASSERT_EQ((*t)["embedding"].size(), 256u);
  EXPECT_NEAR(Norm((*t)["embedding"]), 1.0, 1e-6);
  std::vector<float> first(raw.begin(), raw.begin() + 256);
  std::vector<float> unit = ShapeEmbedding(first, 256, true);
  for (size_t i = 0; i < 256; ++i) {
    EXPECT_NEAR((*t)["embedding"][i].get<double>(), unit[i], 1e-6);
    EXPECT_EQ((*t)["embeddingsByType"]["binary"][i], unit[i] > 0 ? 1 : 0);
  }
  EXPECT_FALSE((*t)["embeddingsByType"].contains("float"));

  // normalize false: the raw components.
  auto n = RenderEmbedResponse(
      MustParse(EmbedFamily::kTitanV2, R"({"inputText":"a","dimensions":512,"normalize":false})"),
      Result({raw}), "id");
  ASSERT_TRUE(n.ok());
  for (size_t i = 0; i < 512; ++i) EXPECT_EQ((*n)["embedding"][i].get<float>(), raw[i]);

  // More than the model has: a ValidationException.
  auto big = RenderEmbedResponse(
      MustParse(EmbedFamily::kTitanV2, R"({"inputText":"a","dimensions":1024})"), Result({raw}),
      "id");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("768"), std::string::npos);
}

TEST(EmbeddingsTest, CohereBody) {
  EmbedPlan p = MustParse(
      EmbedFamily::kCohere,
      R"({"texts":["a","b"],"input_type":"search_query","truncate":"END","embedding_types":["int8","float"]})");
  EXPECT_EQ(p.texts.size(), 2u);
  EXPECT_EQ(p.input_type, "search_query");
  EXPECT_EQ(p.truncate, engine::EmbedTruncate::kEnd);
  EXPECT_EQ(p.embedding_types, (std::vector<std::string>{"int8", "float"}));
  EXPECT_EQ(
      MustParse(EmbedFamily::kCohere, R"({"texts":["a"],"input_type":"clustering"})").truncate,
      engine::EmbedTruncate::kNone);
  EXPECT_EQ(MustParse(EmbedFamily::kCohere,
                      R"({"texts":["a"],"input_type":"clustering","truncate":"START"})")
                .truncate,
            engine::EmbedTruncate::kStart);

  EXPECT_EQ(ErrorOf(EmbedFamily::kCohere, R"({"texts":["a"]})"),
            "Malformed input request: #: required key [input_type] not found, please reformat "
            "your input and try again.");
  EXPECT_NE(ErrorOf(EmbedFamily::kCohere, R"({"input_type":"search_query"})"), "");
  EXPECT_EQ(ErrorOf(EmbedFamily::kCohere, R"({"texts":["a"],"input_type":"chat"})"),
            "Malformed input request: #/input_type: chat is not a valid enum value, please "
            "reformat your input and try again.");
  EXPECT_NE(ErrorOf(EmbedFamily::kCohere,
                    R"({"texts":["a"],"input_type":"search_query","truncate":"LEFT"})"),
            "");
  EXPECT_NE(ErrorOf(EmbedFamily::kCohere,
                    R"({"texts":["a"],"input_type":"search_query","embedding_types":["int4"]})"),
            "");
  EXPECT_NE(ErrorOf(EmbedFamily::kCohere, R"({"texts":[1],"input_type":"search_query"})"), "");
  EXPECT_NE(
      ErrorOf(
          EmbedFamily::kCohere,
          R"({"texts":["a"],"input_type":"search_query","images":["data:image/png;base64,AA=="]})"),
      "");
  std::string many = R"({"input_type":"search_query","texts":[)";
  for (int i = 0; i < 97; ++i) many += std::string(i ? "," : "") + "\"t\"";
  many += "]}";
  EXPECT_EQ(ErrorOf(EmbedFamily::kCohere, many),
            "Malformed input request: #/texts: expected maxItems: 96, actual: 97, please "
            "reformat your input and try again.");
  std::string long_text =
      R"({"input_type":"search_query","texts":[")" + std::string(2049, 'a') + R"("]})";
  EXPECT_NE(ErrorOf(EmbedFamily::kCohere, long_text).find("#/texts/0: expected maxLength: 2048"),
            std::string::npos);
}

TEST(EmbeddingsTest, CohereResponses) {
  const std::vector<float> a = Ramp(16), b = {1, -2, 3, -4, 0, 0.5f, -0.5f, 8};
  auto floats = RenderEmbedResponse(
      MustParse(EmbedFamily::kCohere, R"({"texts":["x","y"],"input_type":"search_document"})"),
      Result({a, b}), "abc");
  ASSERT_TRUE(floats.ok());
  EXPECT_EQ((*floats)["response_type"], "embeddings_floats");
  EXPECT_EQ((*floats)["id"], "abc");
  EXPECT_EQ((*floats)["texts"], Json::array({"x", "y"}));
  ASSERT_EQ((*floats)["embeddings"].size(), 2u);
  EXPECT_NEAR(Norm((*floats)["embeddings"][0]), 1.0, 1e-6);
  EXPECT_NEAR(Norm((*floats)["embeddings"][1]), 1.0, 1e-6);

  auto typed = RenderEmbedResponse(
      MustParse(
          EmbedFamily::kCohere,
          R"({"texts":["x","y"],"input_type":"search_document","embedding_types":["float","int8","uint8","binary","ubinary"]})"),
      Result({a, b}), "abc");
  ASSERT_TRUE(typed.ok());
  EXPECT_EQ((*typed)["response_type"], "embeddings_by_type");
  const Json& e = (*typed)["embeddings"];
  EXPECT_EQ(e["float"][1].size(), 8u);
  // b's largest component (8) maps to 127.
  EXPECT_EQ(e["int8"][1], Json::array({16, -32, 48, -64, 0, 8, -8, 127}));
  EXPECT_EQ(e["uint8"][1], Json::array({144, 96, 176, 64, 128, 136, 120, 255}));
  // Signs of b: + - + - 0 + - +  -> 1010 0101 = 0xA5 = 165; binary = 165 - 128.
  EXPECT_EQ(e["ubinary"][1], Json::array({165}));
  EXPECT_EQ(e["binary"][1], Json::array({37}));
  EXPECT_EQ(e["ubinary"][0].size(), 2u);  // 16 dimensions -> 2 bytes
}

TEST(EmbeddingsTest, ShapeAndQuantizeHelpers) {
  EXPECT_EQ(ShapeEmbedding({3, 4, 12}, 2, true), (std::vector<float>{0.6f, 0.8f}));
  EXPECT_EQ(ShapeEmbedding({0, 0}, 2, true), (std::vector<float>{0, 0}));
  EXPECT_EQ(ShapeEmbedding({3, 4}, 5, false), (std::vector<float>{3, 4}));
  EXPECT_EQ(QuantizeInt8({0, 0}, false), (std::vector<int>{0, 0}));
  EXPECT_EQ(PackBinary({1, 1, 1, 1, 1, 1, 1, 1, 1}, true), (std::vector<int>{255, 128}));
}

}  // namespace
}  // namespace basalt::api
