// The embedded texts: the published JSON Schema and the sample apps seeded into Discover.
#include "apps/definition.h"
#include "apps/internal.h"

namespace basalt::apps {
namespace internal {

std::string_view FindEmbeddedText(std::string_view path) {
  for (const EmbeddedText& text : EmbeddedTexts()) {
    if (path == text.path) return {text.data, text.size};
  }
  return {};
}

}  // namespace internal

const std::string& SchemaText() {
  static const std::string text(internal::FindEmbeddedText("docs/schemas/app-definition-v1.json"));
  return text;
}

std::vector<AppDefinition> SampleApps() {
  // Parsed once; every sample is checked by apps_definition_test (FromJson, Validate, the
  // schema), so one that does not parse is a build mistake and is left out, never a crash.
  static const std::vector<AppDefinition> samples = [] {
    std::vector<AppDefinition> out;
    for (const internal::EmbeddedText& text : internal::EmbeddedTexts()) {
      if (std::string_view(text.path).starts_with("src/apps/samples/")) {
        Json j = Json::parse(text.data, text.data + text.size, nullptr, false);
        auto def = FromJson(j);
        if (def.ok() && Validate(*def).ok()) out.push_back(std::move(*def));
      }
    }
    return out;
  }();
  return samples;
}

}  // namespace basalt::apps
