// Helpers shared by the apps core's source files (not part of the apps interface).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "apps/definition.h"

namespace basalt::apps::internal {

// Unicode code points in UTF-8 text (bytes that do not continue a sequence).
size_t CodePoints(std::string_view s);
// No control characters; no space at either end; not empty.
bool SingleLine(std::string_view s);
// [A-Za-z0-9_-]{1,32}
bool ValidWidgetId(std::string_view id);
bool KnownType(std::string_view type);
// Types with a prompt and a model: text-generation, image-generation, chatbot.
bool HasPrompt(std::string_view type);
// Types another widget's prompt may name: user-input, static-text, document, text-generation.
bool Referenceable(std::string_view type);
// A letter, digit or '_' for the reference rules; every byte >= 0x80 counts as a letter.
bool IsWordByte(unsigned char c);
// ASCII letters compared without case, all other bytes exactly.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
const Widget* FindWidget(const AppDefinition& def, const std::string& id);
// A cycle of references as ids, first id repeated at the end ("a", "b", "a"); empty if none.
std::vector<std::string> FindCycle(const AppDefinition& def);

// Text files embedded at build time (embed_text.cmake), by path under the source root:
// "docs/schemas/app-definition-v1.json", "src/apps/generate_instructions_v1.md",
// "src/apps/samples/<name>.json" (sorted).
struct EmbeddedText {
  const char* path;
  const char* data;
  size_t size;
};
std::span<const EmbeddedText> EmbeddedTexts();
// The embedded text at `path`; empty when there is none.
std::string_view FindEmbeddedText(std::string_view path);

}  // namespace basalt::apps::internal
