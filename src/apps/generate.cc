// Generate: an app written by a text model under grammar-constrained sampling, then completed
// (ids, layout, models) and repaired into a definition that validates.
#include <algorithm>
#include <optional>

#include "apps/definition.h"
#include "apps/internal.h"

namespace basalt::apps {
namespace {

constexpr int kGenerateAttempts = 4;        // the first call and up to 3 retries (seed + 1)
constexpr size_t kMaxGeneratedWidgets = 8;  // a reply with more (no grammar) is cut
constexpr size_t kMaxDescriptionChars = 2000;

// The first `n` characters (code points) of UTF-8 text.
std::string CutChars(std::string_view s, size_t n) {
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && chars++ == n) {
      return std::string(s.substr(0, i));
    }
  }
  return std::string(s);
}

// One line: control characters become spaces, runs of spaces one, no '@' or space at the ends
// (a title that starts with '@' would make "@@Title" references), at most `n` characters.
std::string CleanLine(std::string_view s, size_t n) {
  std::string out;
  for (unsigned char c : s) {
    const char ch = (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
    if (ch == ' ' && (out.empty() || out.back() == ' ')) continue;
    if (ch == '@' && out.empty()) continue;
    out += ch;
  }
  out = CutChars(out, n);
  while (!out.empty() && (out.back() == ' ' || out.back() == '@')) out.pop_back();
  return out;
}

// Text without NUL and other control characters than tab and newline, at most `n` characters.
std::string CleanText(std::string_view s, size_t n) {
  std::string out;
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) continue;
    out += static_cast<char>(c);
  }
  return CutChars(out, n);
}

bool Korean(const GenerateRequest& r) { return r.language == "ko"; }

// The model's answer, read leniently: the generation schema's names, or the definition's.
struct Draft {
  std::string title, description;
  struct Item {
    std::string type, title, text, model;
  };
  std::vector<Item> widgets;
};

std::string StringMember(const Json& o, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (auto it = o.find(key); it != o.end() && it->is_string()) return it->get<std::string>();
  }
  return "";
}

// nullopt when the answer is not a JSON object (cut off at maxTokens, or not JSON at all).
std::optional<Draft> ParseDraft(const std::string& text) {
  const Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  Draft d;
  d.title = StringMember(j, {"name", "title"});
  d.description = StringMember(j, {"summary", "description"});
  if (auto it = j.find("widgets"); it != j.end() && it->is_array()) {
    for (const Json& w : *it) {
      if (!w.is_object()) continue;
      Draft::Item item;
      item.type = StringMember(w, {"kind", "type"});
      item.title = StringMember(w, {"name", "title"});
      item.text = StringMember(w, {"text", "prompt", "content", "placeholder"});
      item.model = StringMember(w, {"model"});
      d.widgets.push_back(std::move(item));
    }
  }
  return d;
}

std::string DefaultTitle(const std::string& type, bool korean) {
  if (type == kUserInput) return korean ? "입력" : "Input";
  if (type == kStaticText) return korean ? "안내" : "About";
  if (type == kDocument) return korean ? "문서" : "Document";
  if (type == kTextGeneration) return korean ? "결과" : "Result";
  if (type == kImageGeneration) return korean ? "이미지" : "Image";
  return korean ? "대화" : "Chat";
}

// A title not yet used (ignoring case): `base`, else "base 2", "base 3", ...
std::string UniqueTitle(const std::string& base, const std::vector<Widget>& widgets) {
  auto taken = [&](const std::string& t) {
    return std::any_of(widgets.begin(), widgets.end(),
                       [&](const Widget& w) { return internal::EqualsIgnoreCase(w.title, t); });
  };
  if (!taken(base)) return base;
  for (int n = 2;; ++n) {
    const std::string suffix = " " + std::to_string(n);
    std::string t = CleanLine(base, kMaxTitleBytes - suffix.size()) + suffix;
    if (!taken(t)) return t;
  }
}

// Removes the '@' of every reference in `w`'s prompt for which `drop(ref)` holds.
template <typename Pred>
void DropReferences(Widget& w, const AppDefinition& def, Pred drop) {
  const auto refs = FindReferences(w.prompt, def);
  for (auto it = refs.rbegin(); it != refs.rend(); ++it) {
    if (drop(*it)) w.prompt.erase(it->offset, 1);
  }
}

void RepairReferences(AppDefinition& def) {
  // References to no widget, to the widget itself, or to one that cannot be referenced.
  for (Widget& w : def.widgets) {
    if (!internal::HasPrompt(w.type)) continue;
    DropReferences(w, def, [&](const Reference& ref) {
      const Widget* target = internal::FindWidget(def, ref.widget_id);
      return target == nullptr || target->id == w.id || !internal::Referenceable(target->type);
    });
  }
  // Cycles: cut one edge at a time (each pass removes an edge, so this ends).
  for (auto cycle = internal::FindCycle(def); !cycle.empty(); cycle = internal::FindCycle(def)) {
    for (Widget& w : def.widgets) {
      if (w.id != cycle[0]) continue;
      DropReferences(w, def, [&](const Reference& ref) { return ref.widget_id == cycle[1]; });
    }
  }
  // A generation widget that uses nothing gets the app's inputs: a small model often forgets
  // to wire them, and an app whose inputs feed nothing does nothing.
  std::string inputs;
  for (const Widget& w : def.widgets) {
    if (w.type == kUserInput || w.type == kDocument) inputs += "\n@" + w.title;
  }
  for (Widget& w : def.widgets) {
    if (!internal::HasPrompt(w.type) || inputs.empty()) continue;
    if (FindReferences(w.prompt, def).empty()) {
      w.prompt = CutChars(w.prompt, kMaxPromptBytes - internal::CodePoints(inputs)) + inputs;
    }
  }
}

// Places the widgets in order, left to right in rows of the 12-column grid.
void LayOut(AppDefinition& def) {
  int x = 0, y = 0, row_height = 0;
  for (Widget& w : def.widgets) {
    Layout size{0, 0, 12, 5};
    if (w.type == kUserInput) size = {0, 0, 6, 2};
    if (w.type == kDocument) size = {0, 0, 6, 3};
    if (w.type == kStaticText) size = {0, 0, 12, 2};
    if (w.type == kImageGeneration) size = {0, 0, 6, 5};
    if (w.type == kChatbot) size = {0, 0, 12, 6};
    if (x + size.w > kGridColumns) {
      x = 0;
      y += row_height;
      row_height = 0;
    }
    w.layout = {x, y, size.w, size.h};
    x += size.w;
    row_height = std::max(row_height, size.h);
  }
}

std::string PickModel(const std::string& wanted, const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), wanted) != allowed.end()) return wanted;
  return allowed.empty() ? "" : allowed.front();
}

AppDefinition Complete(const Draft& draft, const GenerateRequest& request) {
  const bool korean = Korean(request);
  AppDefinition def;
  def.title = CleanLine(draft.title, kMaxAppTitleBytes);
  if (def.title.empty()) def.title = CleanLine(request.description, 40);
  if (def.title.empty()) def.title = korean ? "제목 없는 앱" : "Untitled app";
  def.description = CleanText(draft.description, kMaxDescriptionBytes);
  if (def.description.empty())
    def.description = CleanText(request.description, kMaxDescriptionBytes);

  for (const Draft::Item& item : draft.widgets) {
    if (def.widgets.size() == kMaxGeneratedWidgets) break;
    if (!internal::KnownType(item.type)) continue;
    if (item.type == kImageGeneration && request.image_models.empty()) continue;
    Widget w;
    w.type = item.type;
    std::string title = CleanLine(item.title, kMaxTitleBytes);
    w.title = UniqueTitle(title.empty() ? DefaultTitle(w.type, korean) : title, def.widgets);
    if (w.type == kUserInput) w.placeholder = CleanLine(item.text, kMaxPlaceholderBytes);
    if (w.type == kStaticText) w.content = CleanText(item.text, kMaxPromptBytes);
    if (internal::HasPrompt(w.type)) {
      w.prompt = CleanText(item.text, kMaxPromptBytes);
      w.model = PickModel(item.model,
                          w.type == kImageGeneration ? request.image_models : request.text_models);
    }
    if (w.type == kTextGeneration) w.max_tokens = 1024;
    def.widgets.push_back(std::move(w));
  }
  // An app with nothing to run gets an input and a result, from the description itself.
  const bool runs = std::any_of(def.widgets.begin(), def.widgets.end(),
                                [](const Widget& w) { return internal::HasPrompt(w.type); });
  if (!runs) {
    const bool has_input = std::any_of(def.widgets.begin(), def.widgets.end(), [](const Widget& w) {
      return w.type == kUserInput || w.type == kDocument;
    });
    if (!has_input) {
      Widget in;
      in.type = kUserInput;
      in.title = UniqueTitle(DefaultTitle(kUserInput, korean), def.widgets);
      def.widgets.push_back(std::move(in));
    }
    Widget out;
    out.type = kTextGeneration;
    out.title = UniqueTitle(DefaultTitle(kTextGeneration, korean), def.widgets);
    out.prompt = CleanText(request.description, kMaxPromptBytes - 1000);
    out.model = PickModel("", request.text_models);
    out.max_tokens = 1024;
    def.widgets.push_back(std::move(out));
  }
  for (size_t i = 0; i < def.widgets.size(); ++i) def.widgets[i].id = "w" + std::to_string(i + 1);
  RepairReferences(def);
  LayOut(def);
  return def;
}

std::string UserMessage(const GenerateRequest& request) {
  std::string m = "Design this app: " + request.description + "\n";
  m += Korean(request) ? "Language: Korean (한국어).\n" : "Language: English.\n";
  m += request.image_models.empty() ? "Image widgets: not available.\n"
                                    : "Image widgets: available.\n";
  return m;
}

}  // namespace

Json GenerationSchema() {
  // Property names sort in the order they should be written (nlohmann::json keeps keys
  // sorted): the app's name before its summary and widgets, a widget's kind before its name and
  // text. Short bounds keep a small model's answer inside its context.
  Json kinds = Json::array(
      {kUserInput, kDocument, kStaticText, kTextGeneration, kImageGeneration, kChatbot});
  Json widget = {{"type", "object"},
                 {"additionalProperties", false},
                 {"required", {"kind", "name", "text"}},
                 {"properties",
                  {{"kind", {{"enum", kinds}}},
                   {"name", {{"type", "string"}, {"minLength", 1}, {"maxLength", 30}}},
                   {"text", {{"type", "string"}, {"maxLength", 160}}}}}};
  return {
      {"type", "object"},
      {"additionalProperties", false},
      {"required", {"name", "summary", "widgets"}},
      {"properties",
       {{"name", {{"type", "string"}, {"minLength", 1}, {"maxLength", 40}}},
        {"summary", {{"type", "string"}, {"maxLength", 80}}},
        {"widgets", {{"type", "array"}, {"minItems", 1}, {"maxItems", 6}, {"items", widget}}}}}};
}

StatusOr<AppDefinition> Generate(
    const GenerateRequest& request,
    const std::function<StatusOr<std::string>(const ModelCall&)>& call_model) {
  const size_t chars = internal::CodePoints(request.description);
  if (chars == 0 || chars > kMaxDescriptionChars) {
    return Status::InvalidArgument("Describe the app in 1 to 2000 characters.");
  }
  if (request.text_models.empty()) {
    return Status::FailedPrecondition(
        "Generate needs a text model, and there is none you may use.");
  }
  ModelCall call;
  call.system = std::string(internal::FindEmbeddedText("src/apps/generate_instructions_v1.md"));
  call.user = UserMessage(request);
  call.json_schema = GenerationSchema();
  std::optional<Draft> draft;
  for (int attempt = 0; attempt < kGenerateAttempts && !draft; ++attempt) {
    call.seed = request.seed + attempt;
    StatusOr<std::string> reply = call_model(call);
    if (!reply.ok()) return reply.status();
    draft = ParseDraft(*reply);
  }
  if (!draft) {
    return Status::Unavailable("The model did not finish an app definition in " +
                               std::to_string(kGenerateAttempts) +
                               " tries (its answers were cut off or were not JSON). Try again, "
                               "or describe a smaller app.");
  }
  AppDefinition def = Complete(*draft, request);
  auto allowed = [&](const std::string& type, const std::string& model) -> Status {
    const auto& list = type == kImageGeneration ? request.image_models : request.text_models;
    if (std::find(list.begin(), list.end(), model) != list.end()) return Status::Ok();
    return Status::PermissionDenied("not a model you may use");
  };
  Status valid = Validate(def, allowed);
  if (!valid.ok()) {
    // Should not happen; as a last resort the references go (plain text), which cannot fail
    // on anything but a bug.
    for (Widget& w : def.widgets) {
      std::erase(w.prompt, '@');
    }
    valid = Validate(def, allowed);
    if (!valid.ok()) return Status::Internal("Generate made an invalid app: " + valid.message());
  }
  return def;
}

}  // namespace basalt::apps
