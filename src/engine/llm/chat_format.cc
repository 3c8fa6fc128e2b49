#include "engine/llm/chat_format.h"

#include "llama.h"

namespace basalt::engine::llm {
namespace {

// Returns the formatted size, or a negative value when the template is not recognised.
int32_t Apply(const char* tmpl, const std::vector<llama_chat_message>& chat, bool add_ass,
              std::string* out) {
  size_t want = 64;
  for (const llama_chat_message& m : chat) want += 2 * std::char_traits<char>::length(m.content);
  out->resize(want);
  int32_t n = llama_chat_apply_template(tmpl, chat.data(), chat.size(), add_ass, out->data(),
                                        static_cast<int32_t>(out->size()));
  if (n > static_cast<int32_t>(out->size())) {
    out->resize(n);
    n = llama_chat_apply_template(tmpl, chat.data(), chat.size(), add_ass, out->data(),
                                  static_cast<int32_t>(out->size()));
  }
  if (n >= 0) out->resize(n);
  return n;
}

}  // namespace

StatusOr<std::string> FormatChatMessages(const char* chat_template,
                                         const std::vector<ChatMessage>& messages,
                                         bool add_generation_prompt) {
  if (chat_template == nullptr) {
    std::string joined;
    for (size_t i = 0; i < messages.size(); ++i) {
      if (i > 0) joined += '\n';
      joined += messages[i].content;
    }
    return joined;
  }
  std::vector<llama_chat_message> chat;
  chat.reserve(messages.size());
  for (const ChatMessage& m : messages) chat.push_back({m.role.c_str(), m.content.c_str()});
  std::string out;
  if (Apply(chat_template, chat, add_generation_prompt, &out) >= 0) return out;
  if (Apply("chatml", chat, add_generation_prompt, &out) >= 0) return out;
  return Status::Internal("Could not apply the chat template.");
}

}  // namespace basalt::engine::llm
