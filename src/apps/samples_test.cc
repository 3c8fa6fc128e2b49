// The published schema and the sample apps: embedded texts equal the files, and the schema,
// FromJson and Validate agree on the samples and on bad definitions.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/definition.h"
#include "apps/internal.h"
#include "grammar/json_schema.h"

namespace basalt::apps {
namespace {

std::string SourceDir() {
  const char* dir = std::getenv("BASALT_SOURCE_DIR");
  if (dir != nullptr && *dir != '\0') return dir;
  // Run by hand: the source root is two folders above this file.
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

grammar::SchemaJson Schema() {
  auto schema = grammar::ParseJsonSchema(SchemaText());
  EXPECT_TRUE(schema.ok()) << schema.status().message();
  return schema.ok() ? *schema : grammar::SchemaJson();
}

bool SchemaAccepts(const Json& j) {
  return grammar::ValidateJson(Schema(), grammar::SchemaJson::parse(j.dump())).ok();
}

std::vector<std::filesystem::path> SampleFiles() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(SourceDir() + "/src/apps/samples")) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(Schema, EmbeddedTextEqualsTheFile) {
  const std::string file = ReadFile(SourceDir() + "/docs/schemas/app-definition-v1.json");
  ASSERT_FALSE(file.empty());
  EXPECT_EQ(SchemaText(), file);
  const Json j = Json::parse(SchemaText());
  EXPECT_EQ(j["$schema"], "https://json-schema.org/draft/2020-12/schema");
  EXPECT_NE(j["$id"].get<std::string>().find("v1"), std::string::npos);
  EXPECT_EQ(internal::FindEmbeddedText("src/apps/generate_instructions_v1.md"),
            ReadFile(SourceDir() + "/src/apps/generate_instructions_v1.md"));
}

TEST(Samples, EmbeddedEqualTheFilesAndValidate) {
  const auto files = SampleFiles();
  const auto samples = SampleApps();
  ASSERT_GE(files.size(), 10u);
  ASSERT_EQ(samples.size(), files.size());  // none left out for failing to parse or validate
  int korean = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    SCOPED_TRACE(files[i].string());
    const std::string text = ReadFile(files[i].string());
    EXPECT_EQ(internal::FindEmbeddedText("src/apps/samples/" + files[i].filename().string()), text);
    const Json j = Json::parse(text);
    EXPECT_TRUE(SchemaAccepts(j));
    auto def = FromJson(j);
    ASSERT_TRUE(def.ok()) << def.status().message();
    EXPECT_TRUE(Validate(*def).ok()) << Validate(*def).message();
    EXPECT_EQ(ToJson(*def), ToJson(samples[i]));
    EXPECT_EQ(ToJson(*def), j);  // the files are written in full, as ToJson writes them
    EXPECT_GE(def->widgets.size(), 4u);
    EXPECT_FALSE(RunWaves(*def).empty());
    for (const Widget& w : def->widgets) EXPECT_EQ(w.model, "");
    if (static_cast<unsigned char>(def->title[0]) >= 0x80) ++korean;
  }
  EXPECT_GE(korean, 5);
  EXPECT_GE(static_cast<int>(files.size()) - korean, 5);
}

// Bad definitions: the schema and FromJson both refuse them (the schema is what FromJson does).
TEST(Schema, AgreesWithFromJson) {
  const Json good = Json::parse(ReadFile(SourceDir() + "/src/apps/samples/en-trip-planner.json"));
  ASSERT_TRUE(SchemaAccepts(good));
  std::vector<std::function<void(Json&)>> mutations = {
      [](Json& j) { j["widgets"][3]["temperature"] = 1.5; },
      [](Json& j) { j["widgets"][3]["temperature"] = "hot"; },
      [](Json& j) { j["widgets"][0]["prompt"] = "x"; },
      [](Json& j) { j["widgets"][0]["type"] = "video"; },
      [](Json& j) { j["widgets"][0]["id"] = "w 1"; },
      [](Json& j) { j["widgets"][0]["title"] = ""; },
      [](Json& j) { j["widgets"][0]["title"] = " Padded"; },
      [](Json& j) { j["widgets"][0]["title"] = "Two\nlines"; },
      [](Json& j) { j["widgets"][0]["title"] = std::string(61, 'x'); },
      [](Json& j) { j["widgets"][0]["layout"]["x"] = 12; },
      [](Json& j) { j["widgets"][0]["layout"]["h"] = 25; },
      [](Json& j) { j["widgets"][0]["layout"].erase("y"); },
      [](Json& j) { j["widgets"][0]["layout"]["z"] = 1; },
      [](Json& j) { j["widgets"][0].erase("layout"); },
      [](Json& j) { j["widgets"][3]["maxTokens"] = 9000; },
      [](Json& j) { j["widgets"][5]["width"] = 500; },
      [](Json& j) { j["widgets"][5]["height"] = 2048; },
      [](Json& j) { j["widgets"][5]["seed"] = -1; },
      [](Json& j) { j["widgets"][5]["temperature"] = 0.5; },
      [](Json& j) { j["schemaVersion"] = 2; },
      [](Json& j) { j["title"] = ""; },
      [](Json& j) { j.erase("title"); },
      [](Json& j) { j["owner"] = "me"; },
      [](Json& j) { j["description"] = std::string(1001, 'd'); },
      [](Json& j) { j["widgets"] = Json::object(); },
  };
  for (size_t i = 0; i < mutations.size(); ++i) {
    Json j = good;
    mutations[i](j);
    SCOPED_TRACE("mutation " + std::to_string(i) + ": " + j.dump().substr(0, 300));
    EXPECT_FALSE(FromJson(j).ok());
    EXPECT_FALSE(SchemaAccepts(j));
  }
  // Both accept: optional members left out, a '$schema', Korean titles up to 60 characters.
  Json j = good;
  j.erase("schemaVersion");
  j.erase("description");
  j["$schema"] = "urn:basalt:schema:app-definition:v1";
  j["widgets"][0].erase("placeholder");
  j["widgets"][3].erase("temperature");
  std::string korean;
  for (int i = 0; i < 60; ++i) korean += "가";
  j["widgets"][1]["title"] = korean;
  EXPECT_TRUE(FromJson(j).ok()) << FromJson(j).status().message();
  EXPECT_TRUE(SchemaAccepts(j));
  Json blank = {{"title", "Untitled app"}};
  EXPECT_TRUE(FromJson(blank).ok());
  EXPECT_TRUE(SchemaAccepts(blank));
}

}  // namespace
}  // namespace basalt::apps
