// The app definition: JSON reading and writing (the rules of docs/schemas/app-definition-v1.json)
// and Validate. References are in references.cc, the dependency graph in graph.cc.
#include "apps/definition.h"

#include <algorithm>
#include <cmath>
#include <string_view>

#include "apps/internal.h"

namespace basalt::apps {
namespace {

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// "a text-generation widget", "an image-generation widget".
std::string WithArticle(const std::string& type) {
  return (type == kImageGeneration ? "an " : "a ") + type + " widget";
}

// Checks that `obj` has only the members in `allowed`; `what` names the object for the message.
Status CheckMembers(const Json& obj, const std::string& prefix,
                    std::initializer_list<std::string_view> allowed, const std::string& what) {
  for (const auto& [key, value] : obj.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Status::InvalidArgument(prefix + key + " is not a member of " + what + ".");
    }
  }
  return Status::Ok();
}

struct StringRule {
  size_t min = 0, max = 0;   // code points
  bool single_line = false;  // no control characters, no leading or trailing space
};

Status ReadString(const Json& obj, const std::string& prefix, const char* key, bool required,
                  const StringRule& rule, std::string* out) {
  const std::string path = prefix + key;
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return Status::InvalidArgument(path + " is required.");
    return Status::Ok();
  }
  const size_t n = it->is_string() ? internal::CodePoints(it->get_ref<const std::string&>()) : 0;
  if (!it->is_string() || n < rule.min || n > rule.max) {
    return Status::InvalidArgument(path + " must be a string of " + std::to_string(rule.min) +
                                   " to " + std::to_string(rule.max) + " characters.");
  }
  const auto& s = it->get_ref<const std::string&>();
  if (rule.single_line && !internal::SingleLine(s)) {
    return Status::InvalidArgument(
        path + " must be one line, without control characters or spaces at either end.");
  }
  *out = s;
  return Status::Ok();
}

Status ReadInt(const Json& obj, const std::string& prefix, const char* key, int64_t lo, int64_t hi,
               int64_t* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Ok();
  bool good = false;
  if (it->is_number_unsigned()) {
    const auto v = it->get<uint64_t>();
    good = v <= static_cast<uint64_t>(hi) && static_cast<int64_t>(v) >= lo;
    if (good) *out = static_cast<int64_t>(v);
  } else if (it->is_number_integer()) {
    const auto v = it->get<int64_t>();
    good = v >= lo && v <= hi;
    if (good) *out = v;
  }
  if (!good) {
    return Status::InvalidArgument(prefix + key + " must be an integer between " +
                                   std::to_string(lo) + " and " + std::to_string(hi) + ".");
  }
  return Status::Ok();
}

Status ReadInt(const Json& obj, const std::string& prefix, const char* key, int lo, int hi,
               int* out) {
  int64_t v = *out;
  BASALT_RETURN_IF_ERROR(ReadInt(obj, prefix, key, int64_t{lo}, int64_t{hi}, &v));
  *out = static_cast<int>(v);
  return Status::Ok();
}

Status ReadUnit(const Json& obj, const std::string& prefix, const char* key, double* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Ok();
  const double v = it->is_number() ? it->get<double>() : -1;
  if (!it->is_number() || !(v >= 0 && v <= 1)) {
    return Status::InvalidArgument(prefix + key + " must be a number between 0 and 1.");
  }
  *out = v;
  return Status::Ok();
}

Status ReadImageSide(const Json& obj, const std::string& prefix, const char* key, int* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Ok();
  const bool good = it->is_number_integer() && it->get<int64_t>() >= kMinImageSide &&
                    it->get<int64_t>() <= kMaxImageSide && it->get<int64_t>() % 64 == 0;
  if (!good) {
    return Status::InvalidArgument(prefix + key + " must be a multiple of 64 between " +
                                   std::to_string(kMinImageSide) + " and " +
                                   std::to_string(kMaxImageSide) + ".");
  }
  *out = it->get<int>();
  return Status::Ok();
}

Status ReadLayout(const Json& w, const std::string& prefix, Layout* layout) {
  auto it = w.find("layout");
  if (it == w.end()) return Status::InvalidArgument(prefix + "layout is required.");
  const std::string p = prefix + "layout.";
  if (!it->is_object()) {
    return Status::InvalidArgument(prefix + "layout must be an object {x, y, w, h}.");
  }
  BASALT_RETURN_IF_ERROR(CheckMembers(*it, p, {"x", "y", "w", "h"}, "a layout"));
  for (const char* key : {"x", "y", "w", "h"}) {
    if (!it->contains(key)) return Status::InvalidArgument(p + key + " is required.");
  }
  BASALT_RETURN_IF_ERROR(ReadInt(*it, p, "x", 0, kGridColumns - 1, &layout->x));
  BASALT_RETURN_IF_ERROR(ReadInt(*it, p, "y", 0, kMaxGridRow, &layout->y));
  BASALT_RETURN_IF_ERROR(ReadInt(*it, p, "w", 1, kGridColumns, &layout->w));
  BASALT_RETURN_IF_ERROR(ReadInt(*it, p, "h", 1, kMaxWidgetHeight, &layout->h));
  return Status::Ok();
}

const StringRule kTitleRule{1, kMaxTitleBytes, true};
const StringRule kPromptRule{0, kMaxPromptBytes, false};
const StringRule kModelRule{0, kMaxModelIdBytes, false};

Status ReadWidget(const Json& w, const std::string& prefix, Widget* out) {
  if (!w.is_object()) {
    return Status::InvalidArgument(prefix.substr(0, prefix.size() - 1) + " must be an object.");
  }
  auto type_it = w.find("type");
  if (type_it == w.end()) return Status::InvalidArgument(prefix + "type is required.");
  if (!type_it->is_string() || !internal::KnownType(type_it->get_ref<const std::string&>())) {
    return Status::InvalidArgument(prefix +
                                   "type must be one of user-input, static-text, document, "
                                   "text-generation, image-generation, chatbot.");
  }
  out->type = type_it->get<std::string>();
  const std::string what = WithArticle(out->type);
  const std::string& t = out->type;
  if (t == kUserInput) {
    BASALT_RETURN_IF_ERROR(
        CheckMembers(w, prefix, {"id", "type", "title", "layout", "placeholder", "default"}, what));
  } else if (t == kStaticText) {
    BASALT_RETURN_IF_ERROR(
        CheckMembers(w, prefix, {"id", "type", "title", "layout", "content"}, what));
  } else if (t == kDocument) {
    BASALT_RETURN_IF_ERROR(CheckMembers(w, prefix, {"id", "type", "title", "layout"}, what));
  } else if (t == kTextGeneration || t == kChatbot) {
    BASALT_RETURN_IF_ERROR(CheckMembers(
        w, prefix,
        {"id", "type", "title", "layout", "prompt", "model", "temperature", "topP", "maxTokens"},
        what));
  } else {
    BASALT_RETURN_IF_ERROR(CheckMembers(w, prefix,
                                        {"id", "type", "title", "layout", "prompt", "model",
                                         "width", "height", "seed", "negativePrompt"},
                                        what));
  }
  auto id_it = w.find("id");
  if (id_it == w.end()) return Status::InvalidArgument(prefix + "id is required.");
  if (!id_it->is_string() || !internal::ValidWidgetId(id_it->get_ref<const std::string&>())) {
    return Status::InvalidArgument(prefix +
                                   "id must be 1 to 32 letters, digits, '_' or '-' (like \"w1\").");
  }
  out->id = id_it->get<std::string>();
  BASALT_RETURN_IF_ERROR(ReadString(w, prefix, "title", true, kTitleRule, &out->title));
  BASALT_RETURN_IF_ERROR(ReadLayout(w, prefix, &out->layout));
  BASALT_RETURN_IF_ERROR(
      ReadString(w, prefix, "placeholder", false, {0, kMaxPlaceholderBytes}, &out->placeholder));
  BASALT_RETURN_IF_ERROR(ReadString(w, prefix, "default", false, kPromptRule, &out->default_value));
  BASALT_RETURN_IF_ERROR(ReadString(w, prefix, "content", false, kPromptRule, &out->content));
  BASALT_RETURN_IF_ERROR(ReadString(w, prefix, "prompt", false, kPromptRule, &out->prompt));
  BASALT_RETURN_IF_ERROR(ReadString(w, prefix, "model", false, kModelRule, &out->model));
  BASALT_RETURN_IF_ERROR(ReadUnit(w, prefix, "temperature", &out->temperature));
  BASALT_RETURN_IF_ERROR(ReadUnit(w, prefix, "topP", &out->top_p));
  BASALT_RETURN_IF_ERROR(ReadInt(w, prefix, "maxTokens", 1, kMaxMaxTokens, &out->max_tokens));
  BASALT_RETURN_IF_ERROR(ReadImageSide(w, prefix, "width", &out->width));
  BASALT_RETURN_IF_ERROR(ReadImageSide(w, prefix, "height", &out->height));
  BASALT_RETURN_IF_ERROR(ReadInt(w, prefix, "seed", int64_t{0}, kMaxSeed, &out->seed));
  BASALT_RETURN_IF_ERROR(
      ReadString(w, prefix, "negativePrompt", false, kPromptRule, &out->negative_prompt));
  return Status::Ok();
}

std::string WidgetName(const Widget& w) { return Quote(w.title); }

}  // namespace

StatusOr<AppDefinition> FromJson(const Json& j) {
  if (!j.is_object()) return Status::InvalidArgument("The app definition must be a JSON object.");
  BASALT_RETURN_IF_ERROR(CheckMembers(
      j, "", {"$schema", "schemaVersion", "title", "description", "widgets"}, "an app definition"));
  AppDefinition def;
  if (auto it = j.find("$schema"); it != j.end() && !it->is_string()) {
    return Status::InvalidArgument("$schema must be a string.");
  }
  if (auto it = j.find("schemaVersion"); it != j.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() != kSchemaVersion) {
      return Status::InvalidArgument(
          "schemaVersion must be 1 (the only version of the app "
          "definition).");
    }
  }
  BASALT_RETURN_IF_ERROR(
      ReadString(j, "", "title", true, {1, kMaxAppTitleBytes, true}, &def.title));
  BASALT_RETURN_IF_ERROR(
      ReadString(j, "", "description", false, {0, kMaxDescriptionBytes}, &def.description));
  if (auto it = j.find("widgets"); it != j.end()) {
    if (!it->is_array() || it->size() > kMaxWidgets) {
      return Status::InvalidArgument("widgets must be an array of at most " +
                                     std::to_string(kMaxWidgets) + " widgets.");
    }
    for (size_t i = 0; i < it->size(); ++i) {
      Widget w;
      BASALT_RETURN_IF_ERROR(ReadWidget((*it)[i], "widgets[" + std::to_string(i) + "].", &w));
      def.widgets.push_back(std::move(w));
    }
  }
  return def;
}

Json ToJson(const AppDefinition& def) {
  Json j = Json::object();
  j["schemaVersion"] = def.schema_version;
  j["title"] = def.title;
  j["description"] = def.description;
  Json widgets = Json::array();
  for (const Widget& w : def.widgets) {
    Json o = {
        {"id", w.id},
        {"type", w.type},
        {"title", w.title},
        {"layout", {{"x", w.layout.x}, {"y", w.layout.y}, {"w", w.layout.w}, {"h", w.layout.h}}}};
    if (w.type == kUserInput) {
      o["placeholder"] = w.placeholder;
      o["default"] = w.default_value;
    } else if (w.type == kStaticText) {
      o["content"] = w.content;
    } else if (w.type == kTextGeneration || w.type == kChatbot) {
      o["prompt"] = w.prompt;
      o["model"] = w.model;
      o["temperature"] = w.temperature;
      o["topP"] = w.top_p;
      o["maxTokens"] = w.max_tokens;
    } else if (w.type == kImageGeneration) {
      o["prompt"] = w.prompt;
      o["model"] = w.model;
      o["width"] = w.width;
      o["height"] = w.height;
      o["seed"] = w.seed;
      o["negativePrompt"] = w.negative_prompt;
    }
    widgets.push_back(std::move(o));
  }
  j["widgets"] = std::move(widgets);
  return j;
}

Status Validate(
    const AppDefinition& def,
    const std::function<Status(const std::string& type, const std::string& model)>& model_allowed) {
  // Field rules first (a definition built in code goes through the same checks as JSON).
  if (def.schema_version != kSchemaVersion) {
    return Status::InvalidArgument(
        "schemaVersion must be 1 (the only version of the app "
        "definition).");
  }
  if (auto parsed = FromJson(ToJson(def)); !parsed.ok()) return parsed.status();

  const auto& ws = def.widgets;
  for (size_t i = 0; i < ws.size(); ++i) {
    for (size_t k = 0; k < i; ++k) {
      if (ws[k].id == ws[i].id) {
        return Status::InvalidArgument("The widgets " + WidgetName(ws[k]) + " and " +
                                       WidgetName(ws[i]) + " have the same id " + Quote(ws[i].id) +
                                       ".");
      }
      if (internal::EqualsIgnoreCase(ws[k].title, ws[i].title)) {
        return Status::InvalidArgument("Two widgets are titled " + Quote(ws[i].title) +
                                       "; titles must be unique (ignoring case).");
      }
    }
  }
  for (size_t i = 0; i < ws.size(); ++i) {
    const Layout& a = ws[i].layout;
    if (a.x + a.w > kGridColumns) {
      return Status::InvalidArgument("The widget " + WidgetName(ws[i]) +
                                     " does not fit the grid: x + w must be at most " +
                                     std::to_string(kGridColumns) + ".");
    }
    for (size_t k = 0; k < i; ++k) {
      const Layout& b = ws[k].layout;
      const bool overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      if (overlap) {
        return Status::InvalidArgument("The widgets " + WidgetName(ws[k]) + " and " +
                                       WidgetName(ws[i]) + " overlap on the grid.");
      }
    }
  }
  for (const Widget& w : ws) {
    if (!internal::HasPrompt(w.type)) continue;
    for (const Reference& ref : FindReferences(w.prompt, def)) {
      if (ref.widget_id.empty()) {
        return Status::InvalidArgument("The widget " + WidgetName(w) + " refers to @" +
                                       ref.written + ", which is not a widget of this app.");
      }
      const Widget* target = internal::FindWidget(def, ref.widget_id);
      if (!internal::Referenceable(target->type)) {
        return Status::InvalidArgument(
            "The widget " + WidgetName(w) + " refers to @" + target->title + ", " +
            WithArticle(target->type) +
            "; only user input, static text, document and text generation widgets can "
            "be referenced.");
      }
    }
  }
  if (auto cycle = internal::FindCycle(def); !cycle.empty()) {
    std::string path;
    for (const std::string& id : cycle) {
      if (!path.empty()) path += " -> ";
      path += internal::FindWidget(def, id)->title;
    }
    return Status::InvalidArgument("These widgets refer to each other in a cycle: " + path + ".");
  }
  if (model_allowed) {
    for (const Widget& w : ws) {
      if (!internal::HasPrompt(w.type) || w.model.empty()) continue;
      Status st = model_allowed(w.type, w.model);
      if (!st.ok()) {
        return Status(st.code(),
                      "The widget " + WidgetName(w) + " cannot use the model " + Quote(w.model) +
                          ": " + st.message(),
                      st.reason());
      }
    }
  }
  return Status::Ok();
}

}  // namespace basalt::apps
