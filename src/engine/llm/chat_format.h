// Chat prompt formatting with llama.cpp's built-in (non-Jinja) template engine.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "engine/engine.h"

namespace basalt::engine::llm {

// Formats `messages` with `chat_template` (the GGUF's Jinja source or a built-in name such
// as "chatml"). A template llama.cpp does not recognise falls back to "chatml", as
// llama-server does. A null template joins the message contents with "\n" (base models).
StatusOr<std::string> FormatChatMessages(const char* chat_template,
                                         const std::vector<ChatMessage>& messages,
                                         bool add_generation_prompt);

}  // namespace basalt::engine::llm
