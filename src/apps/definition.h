// Apps (docs/apps.md): the PartyRock-style app definition, its published JSON Schema
// (docs/schemas/app-definition-v1.json), validation, `@Title` references between widgets, the
// dependency graph that orders a run, and Generate (an app written by a text model under
// grammar-constrained sampling).
//
// Everything here is pure: no I/O, no threads; callers bring the model call.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace basalt::apps {

using Json = nlohmann::json;

inline constexpr int kSchemaVersion = 1;
inline constexpr int kGridColumns = 12;
inline constexpr size_t kMaxWidgets = 40;
inline constexpr size_t kMaxTitleBytes = 60;
inline constexpr size_t kMaxPromptBytes = 20'000;
// Text limits count characters (Unicode code points), as the JSON Schema's maxLength does, so
// that the "...Bytes" limits above and below allow as many Korean characters as Latin ones.
inline constexpr size_t kMaxAppTitleBytes = 100;
inline constexpr size_t kMaxDescriptionBytes = 1000;
inline constexpr size_t kMaxPlaceholderBytes = 200;
inline constexpr size_t kMaxModelIdBytes = 200;
inline constexpr int kMaxGridRow = 999;      // largest layout.y
inline constexpr int kMaxWidgetHeight = 24;  // largest layout.h
inline constexpr int kMaxMaxTokens = 8192;   // largest maxTokens
inline constexpr int kMinImageSide = 256;    // width and height: multiples of 64 in range
inline constexpr int kMaxImageSide = 1024;
inline constexpr int64_t kMaxSeed = 2'147'483'647;  // image seed: 0..kMaxSeed

// Widget types, as the JSON names them.
inline constexpr const char* kUserInput = "user-input";
inline constexpr const char* kStaticText = "static-text";
inline constexpr const char* kDocument = "document";
inline constexpr const char* kTextGeneration = "text-generation";
inline constexpr const char* kImageGeneration = "image-generation";
inline constexpr const char* kChatbot = "chatbot";

struct Layout {
  int x = 0, y = 0;  // grid cell of the top-left corner; 0 <= x, x + w <= kGridColumns
  int w = 6, h = 3;  // 1..12 columns, 1..24 rows
};

struct Widget {
  std::string id;     // stable across renames: "w1", "w2", ... ([A-Za-z0-9_-]{1,32})
  std::string type;   // one of the k... names above
  std::string title;  // unique in the app (case-insensitively); what `@Title` names
  Layout layout;
  // user-input: placeholder, default value. static-text: Markdown content. document: none.
  std::string placeholder, default_value, content;
  // text-generation, image-generation, chatbot: the prompt with `@Title` references
  // (for a chatbot: its initial prompt, sent before the user's first message).
  std::string prompt;
  std::string model;  // catalog model id; "" = the deployment's default for the type
  double temperature = 0.7;
  double top_p = 0.9;
  int max_tokens = 512;  // text-generation, chatbot: 1..8192
  // image-generation
  int width = 512, height = 512;  // multiples of 64, 256..1024
  int64_t seed = 0;               // 0 = random per run
  std::string negative_prompt;
};

struct AppDefinition {
  int schema_version = kSchemaVersion;
  std::string title;        // 1..100 characters, one line
  std::string description;  // 0..1000 characters
  std::vector<Widget> widgets;
};

// JSON <-> definition. FromJson refuses (kInvalidArgument, with the JSON path in the message)
// anything the published schema refuses: unknown widget types or members, wrong types, out of
// range numbers, too many widgets. It does not check references (Validate does).
StatusOr<AppDefinition> FromJson(const Json& j);
Json ToJson(const AppDefinition& def);

// The published JSON Schema of a definition (the same text as docs/schemas/app-definition-v1
// .json, embedded in the binary).
const std::string& SchemaText();
// A stricter schema for Generate: the subset src/grammar compiles, with widget ids and layout
// left to the server (the model writes titles, types, prompts and settings only).
Json GenerationSchema();

// A reference in a prompt: `@` (at the start, or after a character that is not a letter,
// digit or '_') followed by a widget's title, the longest title that matches, compared
// case-insensitively. `@` followed by a word that names no widget is a missing reference.
struct Reference {
  size_t offset = 0;      // of the '@'
  size_t length = 0;      // '@' and the title as written
  std::string widget_id;  // "" for a missing reference
  std::string written;    // the title as written (for a missing one: the word after '@')
};
std::vector<Reference> FindReferences(const std::string& prompt, const AppDefinition& def);

// Checks everything FromJson cannot: unique ids and titles, references that resolve, no
// cycles, only referenceable widgets referenced (user input, static text, document, text
// generation), grid cells that do not overlap, and `model_allowed(type, model)` for every
// model named (type is the widget type). Messages name the widgets, e.g.
//   "The widget 'Summary' refers to @Topc, which is not a widget of this app."
//   "These widgets refer to each other in a cycle: Summary -> Title -> Summary."
Status Validate(const AppDefinition& def,
                const std::function<Status(const std::string& type, const std::string& model)>&
                    model_allowed = nullptr);

// Renames a widget and rewrites every reference to it in every prompt. kInvalidArgument for
// an empty, too long or duplicate title; kNotFound for an unknown id.
Status RenameWidget(AppDefinition& def, const std::string& widget_id, const std::string& title);

// The widgets each widget depends on (directly), by id.
std::map<std::string, std::set<std::string>> Dependencies(const AppDefinition& def);
// Widget ids in waves: every widget's dependencies are in earlier waves; widgets of one wave
// may run at the same time. Only widgets that run (generation, chatbot) and the ones they need.
// Requires a definition that validates.
std::vector<std::vector<std::string>> RunWaves(const AppDefinition& def);
// The widgets that must run again when `changed` (ids) change: all that depend on them,
// directly or not, in wave order.
std::vector<std::vector<std::string>> AffectedWaves(const AppDefinition& def,
                                                    const std::set<std::string>& changed);
// The prompt with every reference replaced by values.at(widget_id) ("" when absent).
std::string Substitute(const std::string& prompt, const AppDefinition& def,
                       const std::map<std::string, std::string>& values);

// Generate. The model is called with the instructions (generate_instructions_v1.md, embedded),
// the user's description and GenerationSchema() as a structured-output schema; `call_model`
// returns the model's JSON text (or an error). The result is completed (ids, layout, models
// from the allowed lists) and repaired where a small model gets it wrong (references to no
// widget become plain text, cycles are cut, unknown models replaced), then validated.
struct GenerateRequest {
  std::string description;  // 1..2000 bytes
  int64_t seed = 0;
  std::vector<std::string> text_models;   // models the user may use; first = default
  std::vector<std::string> image_models;  // may be empty (then no image widgets)
  std::string language;                   // "en" or "ko": the language of static texts
};
struct ModelCall {
  std::string system;  // the instructions
  std::string user;    // the description and the model lists
  Json json_schema;    // for Converse outputConfig.textFormat
  int64_t seed = 0;
  int max_tokens = 1500;
};
inline constexpr int kInstructionsVersion = 1;
StatusOr<AppDefinition> Generate(
    const GenerateRequest& request,
    const std::function<StatusOr<std::string>(const ModelCall&)>& call_model);

// The sample apps seeded into Discover on first start (English and Korean), embedded.
std::vector<AppDefinition> SampleApps();

}  // namespace basalt::apps
