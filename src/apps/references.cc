// `@Title` references in prompts: finding them, following a rename, substituting values.
#include <cctype>

#include "apps/definition.h"
#include "apps/internal.h"

namespace basalt::apps {
namespace internal {

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool SingleLine(std::string_view s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

bool ValidWidgetId(std::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  for (unsigned char c : id) {
    if (!std::isalnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

bool KnownType(std::string_view t) {
  return t == kUserInput || t == kStaticText || t == kDocument || t == kTextGeneration ||
         t == kImageGeneration || t == kChatbot;
}

bool HasPrompt(std::string_view t) {
  return t == kTextGeneration || t == kImageGeneration || t == kChatbot;
}

bool Referenceable(std::string_view t) {
  return t == kUserInput || t == kStaticText || t == kDocument || t == kTextGeneration;
}

bool IsWordByte(unsigned char c) { return c >= 0x80 || std::isalnum(c) || c == '_'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const unsigned char x = a[i], y = b[i];
    if (x != y && (x >= 0x80 || y >= 0x80 || std::tolower(x) != std::tolower(y))) return false;
  }
  return true;
}

const Widget* FindWidget(const AppDefinition& def, const std::string& id) {
  for (const Widget& w : def.widgets) {
    if (w.id == id) return &w;
  }
  return nullptr;
}

}  // namespace internal

std::vector<Reference> FindReferences(const std::string& prompt, const AppDefinition& def) {
  std::vector<Reference> refs;
  size_t i = 0;
  while (i < prompt.size()) {
    if (prompt[i] != '@' ||
        (i > 0 && internal::IsWordByte(static_cast<unsigned char>(prompt[i - 1])))) {
      ++i;
      continue;
    }
    const std::string_view rest = std::string_view(prompt).substr(i + 1);
    const Widget* best = nullptr;
    for (const Widget& w : def.widgets) {
      if (w.title.empty() || w.title.size() > rest.size()) continue;
      if (best != nullptr && w.title.size() <= best->title.size()) continue;
      if (internal::EqualsIgnoreCase(rest.substr(0, w.title.size()), w.title)) best = &w;
    }
    Reference ref;
    ref.offset = i;
    if (best != nullptr) {
      ref.length = 1 + best->title.size();
      ref.widget_id = best->id;
      ref.written = std::string(rest.substr(0, best->title.size()));
    } else {
      size_t n = 0;
      while (n < rest.size() && internal::IsWordByte(static_cast<unsigned char>(rest[n]))) ++n;
      if (n == 0) {  // "@" before a space or punctuation: plain text
        ++i;
        continue;
      }
      ref.length = 1 + n;
      ref.written = std::string(rest.substr(0, n));
    }
    i += ref.length;
    refs.push_back(std::move(ref));
  }
  return refs;
}

Status RenameWidget(AppDefinition& def, const std::string& widget_id, const std::string& title) {
  if (internal::FindWidget(def, widget_id) == nullptr) {
    return Status::NotFound("This app has no widget with the id '" + widget_id + "'.");
  }
  const size_t n = internal::CodePoints(title);
  if (n == 0 || n > kMaxTitleBytes || !internal::SingleLine(title)) {
    return Status::InvalidArgument("A widget title must be one line of 1 to " +
                                   std::to_string(kMaxTitleBytes) +
                                   " characters, without spaces at either end.");
  }
  for (const Widget& w : def.widgets) {
    if (w.id != widget_id && internal::EqualsIgnoreCase(w.title, title)) {
      return Status::InvalidArgument("Another widget is already titled '" + w.title + "'.");
    }
  }
  // Rewrite the references (found with the old titles) back to front, then rename. Every
  // reference must still name the same widget afterwards: a longer new title could otherwise
  // capture text after another reference ("@Topic summary" naming "Topic" would name a widget
  // renamed "Topic summary"), and then the rename is refused and nothing changes.
  AppDefinition renamed = def;
  std::vector<std::vector<std::string>> before;
  for (size_t i = 0; i < def.widgets.size(); ++i) {
    Widget& w = renamed.widgets[i];
    if (w.id == widget_id) w.title = title;
    std::vector<std::string> targets;
    if (!internal::HasPrompt(w.type)) {
      before.push_back(targets);
      continue;
    }
    const std::vector<Reference> refs = FindReferences(def.widgets[i].prompt, def);
    for (auto it = refs.rbegin(); it != refs.rend(); ++it) {
      if (it->widget_id == widget_id) w.prompt.replace(it->offset + 1, it->length - 1, title);
    }
    for (const Reference& ref : refs) targets.push_back(ref.widget_id);
    before.push_back(std::move(targets));
  }
  for (size_t i = 0; i < renamed.widgets.size(); ++i) {
    const Widget& w = renamed.widgets[i];
    if (!internal::HasPrompt(w.type)) continue;
    std::vector<std::string> after;
    for (const Reference& ref : FindReferences(w.prompt, renamed)) after.push_back(ref.widget_id);
    if (after != before[i]) {
      return Status::InvalidArgument("Renaming the widget to '" + title +
                                     "' would change what a reference in '" + w.title +
                                     "' refers to; choose another title.");
    }
  }
  def = std::move(renamed);
  return Status::Ok();
}

std::string Substitute(const std::string& prompt, const AppDefinition& def,
                       const std::map<std::string, std::string>& values) {
  std::string out;
  size_t pos = 0;
  for (const Reference& ref : FindReferences(prompt, def)) {
    if (ref.widget_id.empty()) continue;  // a missing reference stays as written
    out.append(prompt, pos, ref.offset - pos);
    if (auto it = values.find(ref.widget_id); it != values.end()) out += it->second;
    pos = ref.offset + ref.length;
  }
  out.append(prompt, pos, std::string::npos);
  return out;
}

}  // namespace basalt::apps
