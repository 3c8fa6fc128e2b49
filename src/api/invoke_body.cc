#include "api/invoke_body.h"

#include <random>

namespace basalt::api {
namespace {

using catalog::RequestFamily;
using engine::FinishReason;

Json Metrics(const GenerationResult& r) {
  return {{"inputTokenCount", r.usage.prompt_tokens},
          {"outputTokenCount", r.usage.completion_tokens},
          {"invocationLatency", r.latency_ms},
          {"firstByteLatency", r.first_byte_ms}};
}

Status ApplySampling(const JsonReader& r, const char* temp_key, const char* top_p_key,
                     const char* top_k_key, int64_t top_k_max, const char* max_key, int64_t max_min,
                     int64_t max_max, const char* stop_key, bool max_required,
                     engine::SamplingParams* s) {
  std::optional<double> temp, top_p;
  BASALT_ASSIGN_OR_RETURN(temp, r.Number(temp_key, 0.0, 1.0));
  if (temp) s->temperature = static_cast<float>(*temp);
  BASALT_ASSIGN_OR_RETURN(top_p, r.Number(top_p_key, 0.0, 1.0));
  if (top_p) s->top_p = static_cast<float>(*top_p);
  if (top_k_key) {
    std::optional<int64_t> top_k;
    BASALT_ASSIGN_OR_RETURN(top_k, r.Integer(top_k_key, 0, top_k_max));
    if (top_k) s->top_k = static_cast<int>(*top_k);
  }
  std::optional<int64_t> max_tokens;
  BASALT_ASSIGN_OR_RETURN(max_tokens, r.Integer(max_key, max_min, max_max, max_required));
  if (max_tokens) s->max_tokens = static_cast<int>(*max_tokens);
  if (stop_key) {
    std::optional<std::vector<std::string>> stop;
    BASALT_ASSIGN_OR_RETURN(stop, r.StringList(stop_key, 8191));
    if (stop) {
      for (auto& seq : *stop) {
        if (!seq.empty()) s->stop.push_back(std::move(seq));
      }
    }
  }
  return Status::Ok();
}

// "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant:" -> turns.
Status ParseAnthropicTextPrompt(const std::string& prompt, PromptPlan* plan) {
  static const std::string kHuman = "\n\nHuman:";
  static const std::string kAssistant = "\n\nAssistant:";
  size_t first = prompt.find(kHuman);
  if (first == std::string::npos) {
    return Status::InvalidArgument(
        "Invalid prompt: prompt must start with \"\n\nHuman:\" turn after an optional system "
        "prompt");
  }
  auto trim = [](std::string s) {
    size_t b = s.find_first_not_of(" \n");
    size_t e = s.find_last_not_of(" \n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  plan->system = trim(prompt.substr(0, first));
  size_t pos = first;
  std::string role;
  std::string last_assistant;
  while (pos < prompt.size()) {
    bool human = prompt.compare(pos, kHuman.size(), kHuman) == 0;
    size_t start = pos + (human ? kHuman.size() : kAssistant.size());
    size_t next_h = prompt.find(kHuman, start);
    size_t next_a = prompt.find(kAssistant, start);
    size_t next = std::min(next_h, next_a);
    std::string content =
        prompt.substr(start, next == std::string::npos ? std::string::npos : next - start);
    std::string r = human ? "user" : "assistant";
    if (r == role) {
      return Status::InvalidArgument(
          "Invalid prompt: prompt must alternate between \"\n\nHuman:\" and \"\n\nAssistant:\" "
          "turns");
    }
    role = r;
    plan->messages.push_back({r, r == "user" ? trim(content) : content});
    if (next == std::string::npos) break;
    pos = next;
  }
  if (role != "assistant") {
    return Status::InvalidArgument("Invalid prompt: prompt must end with \"\n\nAssistant:\" turn");
  }
  // The final assistant turn is the generation prompt; text after it is a prefill.
  std::string prefill = plan->messages.back().content;
  plan->messages.pop_back();
  size_t b = prefill.find_first_not_of(' ');
  plan->prefill = b == std::string::npos ? "" : prefill.substr(b);
  for (auto& m : plan->messages) {
    if (m.role == "assistant") m.content = trim(m.content);
  }
  return Status::Ok();
}

StatusOr<std::string> AnthropicContentText(const Json& content, const std::string& path,
                                           std::string* tool_text, bool assistant) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) {
    return MalformedInput(path + ": expected type: JSONArray, found: " + JsonTypeName(content));
  }
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const Json& block = content[i];
    std::string bpath = path + "/" + std::to_string(i);
    if (!block.is_object()) return MalformedInput(bpath + ": expected type: JSONObject");
    JsonReader br(block, bpath);
    std::optional<std::string> type;
    BASALT_ASSIGN_OR_RETURN(type, br.String("type", true));
    if (*type == "text") {
      std::optional<std::string> t;
      BASALT_ASSIGN_OR_RETURN(t, br.String("text", true));
      if (!text.empty()) text += "\n";
      text += *t;
    } else if (*type == "tool_use" && assistant) {
      std::optional<std::string> name;
      BASALT_ASSIGN_OR_RETURN(name, br.String("name", true));
      Json input = block.contains("input") ? block["input"] : Json::object();
      if (!tool_text->empty()) *tool_text += "\n";
      *tool_text += RenderToolCallText(*name, input);
    } else if (*type == "tool_result" && !assistant) {
      std::string result;
      if (block.contains("content")) {
        const Json& c = block["content"];
        if (c.is_string()) {
          result = c.get<std::string>();
        } else if (c.is_array()) {
          for (const auto& part : c) {
            if (part.is_object() && part.value("type", "") == "text" && part.contains("text") &&
                part["text"].is_string()) {
              if (!result.empty()) result += "\n";
              result += part["text"].get<std::string>();
            }
          }
        }
      }
      if (!text.empty()) text += "\n";
      text += RenderToolResultText(result);
    } else if (*type == "image" || *type == "document") {
      return Status::InvalidArgument("This model doesn't support the " + *type +
                                     " content block that you provided. Try again with text "
                                     "input or a model that supports it.");
    } else {
      return MalformedInput(bpath + "/type: " + *type + " is not a valid enum value");
    }
  }
  return text;
}

StatusOr<PromptPlan> ParseAnthropicMessages(const Json& body) {
  PromptPlan plan;
  JsonReader r(body, "#");
  BASALT_RETURN_IF_ERROR(r.OnlyKeys({"anthropic_version", "max_tokens", "messages", "system",
                                     "temperature", "top_p", "top_k", "stop_sequences", "tools",
                                     "tool_choice", "anthropic_beta", "thinking", "metadata"}));
  std::optional<std::string> version;
  BASALT_ASSIGN_OR_RETURN(version, r.String("anthropic_version", true));
  if (version->rfind("bedrock-", 0) != 0) {
    return MalformedInput("#/anthropic_version: " + *version +
                          " is not a valid value (expected bedrock-2023-05-31)");
  }
  plan.sampling.temperature = 1.0f;
  BASALT_RETURN_IF_ERROR(ApplySampling(r, "temperature", "top_p", "top_k", 500, "max_tokens", 1,
                                       1 << 20, "stop_sequences", true, &plan.sampling));
  if (body.contains("system") && !body["system"].is_null()) {
    const Json& sys = body["system"];
    std::string unused;
    BASALT_ASSIGN_OR_RETURN(plan.system, AnthropicContentText(sys, "#/system", &unused, false));
  }
  const Json* messages;
  BASALT_ASSIGN_OR_RETURN(messages, r.Array("messages", true));
  std::string last_role;
  for (size_t i = 0; i < messages->size(); ++i) {
    const Json& m = (*messages)[i];
    std::string path = "#/messages/" + std::to_string(i);
    if (!m.is_object()) return MalformedInput(path + ": expected type: JSONObject");
    JsonReader mr(m, path);
    std::optional<std::string> role;
    BASALT_ASSIGN_OR_RETURN(role, mr.String("role", true));
    if (*role != "user" && *role != "assistant") {
      return MalformedInput(path + "/role: " + *role + " is not a valid enum value");
    }
    if (!m.contains("content")) return MalformedInput(path + ": required key [content] not found");
    std::string tool_text;
    std::string text;
    BASALT_ASSIGN_OR_RETURN(text, AnthropicContentText(m["content"], path + "/content", &tool_text,
                                                       *role == "assistant"));
    if (!tool_text.empty()) text = text.empty() ? tool_text : text + "\n" + tool_text;
    if (*role == last_role) {
      plan.messages.back().content += "\n" + text;  // the API merges consecutive turns
    } else {
      plan.messages.push_back({*role, text});
    }
    last_role = *role;
  }
  if (plan.messages.empty() || plan.messages.front().role != "user") {
    return Status::InvalidArgument("messages: first message must use the \"user\" role");
  }
  if (plan.messages.back().role == "assistant") {
    plan.prefill = plan.messages.back().content;
    plan.messages.pop_back();
  }
  const Json* tools;
  BASALT_ASSIGN_OR_RETURN(tools, r.Array("tools"));
  if (tools) {
    for (size_t i = 0; i < tools->size(); ++i) {
      const Json& t = (*tools)[i];
      std::string path = "#/tools/" + std::to_string(i);
      if (!t.is_object()) return MalformedInput(path + ": expected type: JSONObject");
      JsonReader tr(t, path);
      ToolSpec spec;
      std::optional<std::string> name, desc;
      BASALT_ASSIGN_OR_RETURN(name, tr.String("name", true));
      BASALT_ASSIGN_OR_RETURN(desc, tr.String("description"));
      spec.name = *name;
      spec.description = desc.value_or("");
      const Json* schema;
      BASALT_ASSIGN_OR_RETURN(schema, tr.Object("input_schema"));
      if (schema) spec.input_schema = *schema;
      plan.tools.push_back(std::move(spec));
    }
  }
  const Json* choice;
  BASALT_ASSIGN_OR_RETURN(choice, r.Object("tool_choice"));
  if (choice) {
    JsonReader cr(*choice, "#/tool_choice");
    std::optional<std::string> type, name;
    BASALT_ASSIGN_OR_RETURN(type, cr.String("type", true));
    if (*type == "auto")
      plan.tool_choice = ToolChoice::kAuto;
    else if (*type == "any")
      plan.tool_choice = ToolChoice::kAny;
    else if (*type == "none")
      plan.tool_choice = ToolChoice::kNone;
    else if (*type == "tool") {
      plan.tool_choice = ToolChoice::kTool;
      BASALT_ASSIGN_OR_RETURN(name, cr.String("name", true));
      plan.tool_choice_name = *name;
      bool found = false;
      for (const auto& t : plan.tools) found = found || t.name == *name;
      if (!found)
        return Status::InvalidArgument("tool_choice: tool " + *name + " not found in tools");
    } else {
      return MalformedInput("#/tool_choice/type: " + *type + " is not a valid enum value");
    }
    if (plan.tool_choice != ToolChoice::kAuto && plan.tool_choice != ToolChoice::kNone &&
        plan.tools.empty()) {
      return Status::InvalidArgument("tool_choice may only be specified while providing tools.");
    }
  }
  return plan;
}

}  // namespace

StatusOr<PromptPlan> ParseInvokeBody(RequestFamily family, const Json& body) {
  PromptPlan plan;
  JsonReader r(body, "#");
  switch (family) {
    case RequestFamily::kAnthropicText: {
      BASALT_RETURN_IF_ERROR(r.OnlyKeys({"prompt", "max_tokens_to_sample", "temperature", "top_p",
                                         "top_k", "stop_sequences", "anthropic_version"}));
      std::optional<std::string> prompt;
      BASALT_ASSIGN_OR_RETURN(prompt, r.String("prompt", true));
      plan.sampling.temperature = 1.0f;
      plan.sampling.top_k = 250;
      BASALT_RETURN_IF_ERROR(ApplySampling(r, "temperature", "top_p", "top_k", 500,
                                           "max_tokens_to_sample", 0, 1 << 20, "stop_sequences",
                                           true, &plan.sampling));
      // The model always stops at the next human turn.
      plan.sampling.stop.push_back("\n\nHuman:");
      BASALT_RETURN_IF_ERROR(ParseAnthropicTextPrompt(*prompt, &plan));
      return plan;
    }
    case RequestFamily::kAnthropicMessages:
      return ParseAnthropicMessages(body);
    case RequestFamily::kTitanText: {
      BASALT_RETURN_IF_ERROR(r.OnlyKeys({"inputText", "textGenerationConfig"}));
      std::optional<std::string> input;
      BASALT_ASSIGN_OR_RETURN(input, r.String("inputText", true));
      plan.sampling.temperature = 0.7f;
      plan.sampling.top_p = 0.9f;
      plan.sampling.max_tokens = 512;
      const Json* cfg;
      BASALT_ASSIGN_OR_RETURN(cfg, r.Object("textGenerationConfig"));
      if (cfg) {
        JsonReader cr(*cfg, "#/textGenerationConfig");
        BASALT_RETURN_IF_ERROR(
            cr.OnlyKeys({"temperature", "topP", "maxTokenCount", "stopSequences"}));
        BASALT_RETURN_IF_ERROR(ApplySampling(cr, "temperature", "topP", nullptr, 0, "maxTokenCount",
                                             0, 8192, "stopSequences", false, &plan.sampling));
      }
      // Titan is a chat model: the text is the user's turn.
      plan.messages.push_back({"user", *input});
      return plan;
    }
    case RequestFamily::kMetaLlama: {
      BASALT_RETURN_IF_ERROR(
          r.OnlyKeys({"prompt", "temperature", "top_p", "max_gen_len", "images"}));
      std::optional<std::string> prompt;
      BASALT_ASSIGN_OR_RETURN(prompt, r.String("prompt", true));
      if (r.Has("images")) {
        return Status::InvalidArgument("This model doesn't support image input.");
      }
      plan.sampling.temperature = 0.5f;
      plan.sampling.top_p = 0.9f;
      plan.sampling.max_tokens = 512;
      BASALT_RETURN_IF_ERROR(ApplySampling(r, "temperature", "top_p", nullptr, 0, "max_gen_len", 1,
                                           1 << 20, nullptr, false, &plan.sampling));
      plan.raw = true;
      plan.raw_prompt = *prompt;
      return plan;
    }
    case RequestFamily::kMistral: {
      BASALT_RETURN_IF_ERROR(
          r.OnlyKeys({"prompt", "max_tokens", "stop", "temperature", "top_p", "top_k"}));
      std::optional<std::string> prompt;
      BASALT_ASSIGN_OR_RETURN(prompt, r.String("prompt", true));
      plan.sampling.temperature = 0.5f;
      plan.sampling.top_p = 0.9f;
      plan.sampling.top_k = 50;
      plan.sampling.max_tokens = 512;
      BASALT_RETURN_IF_ERROR(ApplySampling(r, "temperature", "top_p", "top_k", 200, "max_tokens", 1,
                                           1 << 20, "stop", false, &plan.sampling));
      plan.raw = true;
      plan.raw_prompt = *prompt;
      return plan;
    }
  }
  return Status::Internal("unknown request family");
}

std::string AnthropicModelName(const std::string& model_id) {
  std::string m = model_id;
  if (m.rfind("anthropic.", 0) == 0) m = m.substr(10);
  size_t v = m.rfind("-v");
  if (v != std::string::npos && v + 2 < m.size() && isdigit(static_cast<unsigned char>(m[v + 2]))) {
    m = m.substr(0, v);
  }
  return m;
}

std::string NewMessageId() { return NewToolUseId("msg_bdrk_"); }

namespace {

const char* ClaudeTextStopReason(FinishReason r) {
  return r == FinishReason::kLength ? "max_tokens" : "stop_sequence";
}
Json ClaudeTextStop(const GenerationResult& r) {
  if (r.reason == FinishReason::kLength) return nullptr;
  if (r.reason == FinishReason::kStopSequence) return r.stop;
  return "\n\nHuman:";  // the model ended its turn
}
const char* MessagesStopReason(const GenerationResult& r) {
  if (!r.calls.empty()) return "tool_use";
  switch (r.reason) {
    case FinishReason::kLength:
      return "max_tokens";
    case FinishReason::kStopSequence:
      return "stop_sequence";
    default:
      return "end_turn";
  }
}
const char* TitanReason(FinishReason r) {
  switch (r) {
    case FinishReason::kLength:
      return "LENGTH";
    case FinishReason::kStopSequence:
      return "STOP_CRITERIA_MET";
    default:
      return "FINISH";
  }
}
const char* LlamaReason(FinishReason r) { return r == FinishReason::kLength ? "length" : "stop"; }

Json MessagesContent(const GenerationResult& r) {
  Json content = Json::array();
  if (!r.text.empty() || r.calls.empty()) content.push_back({{"type", "text"}, {"text", r.text}});
  for (const auto& c : r.calls) {
    content.push_back({{"type", "tool_use"},
                       {"id", "toolu_bdrk_" + c.id.substr(8)},
                       {"name", c.name},
                       {"input", c.input}});
  }
  return content;
}

}  // namespace

Json RenderInvokeResponse(RequestFamily family, const std::string& model_id,
                          const GenerationResult& r) {
  switch (family) {
    case RequestFamily::kAnthropicText:
      return {{"type", "completion"},
              {"completion", r.text},
              {"stop_reason", ClaudeTextStopReason(r.reason)},
              {"stop", ClaudeTextStop(r)}};
    case RequestFamily::kAnthropicMessages:
      return {
          {"id", NewMessageId()},
          {"type", "message"},
          {"role", "assistant"},
          {"model", AnthropicModelName(model_id)},
          {"content", MessagesContent(r)},
          {"stop_reason", MessagesStopReason(r)},
          {"stop_sequence", r.reason == FinishReason::kStopSequence ? Json(r.stop) : Json(nullptr)},
          {"usage",
           {{"input_tokens", r.usage.prompt_tokens},
            {"output_tokens", r.usage.completion_tokens}}}};
    case RequestFamily::kTitanText:
      return {{"inputTextTokenCount", r.usage.prompt_tokens},
              {"results", Json::array({{{"tokenCount", r.usage.completion_tokens},
                                        {"outputText", r.text},
                                        {"completionReason", TitanReason(r.reason)}}})}};
    case RequestFamily::kMetaLlama:
      return {{"generation", r.text},
              {"prompt_token_count", r.usage.prompt_tokens},
              {"generation_token_count", r.usage.completion_tokens},
              {"stop_reason", LlamaReason(r.reason)}};
    case RequestFamily::kMistral:
      return {
          {"outputs", Json::array({{{"text", r.text}, {"stop_reason", LlamaReason(r.reason)}}})}};
  }
  return Json::object();
}

std::vector<Json> InvokeStreamRenderer::Start() {
  std::vector<Json> out;
  if (family_ == RequestFamily::kAnthropicMessages) {
    out.push_back({{"type", "message_start"},
                   {"message",
                    {{"id", NewMessageId()},
                     {"type", "message"},
                     {"role", "assistant"},
                     {"model", AnthropicModelName(model_id_)},
                     {"content", Json::array()},
                     {"stop_reason", nullptr},
                     {"stop_sequence", nullptr},
                     {"usage", {{"input_tokens", input_tokens_}, {"output_tokens", 1}}}}}});
  }
  return out;
}

std::vector<Json> InvokeStreamRenderer::Delta(const std::string& text, int tokens) {
  std::vector<Json> out;
  if (text.empty()) return out;
  output_tokens_ += tokens;
  bool first = first_delta_;
  first_delta_ = false;
  switch (family_) {
    case RequestFamily::kAnthropicText:
      out.push_back({{"type", "completion"},
                     {"completion", text},
                     {"stop_reason", nullptr},
                     {"stop", nullptr}});
      break;
    case RequestFamily::kAnthropicMessages:
      if (!text_block_open_) {
        out.push_back({{"type", "content_block_start"},
                       {"index", block_index_},
                       {"content_block", {{"type", "text"}, {"text", ""}}}});
        text_block_open_ = true;
      }
      out.push_back({{"type", "content_block_delta"},
                     {"index", block_index_},
                     {"delta", {{"type", "text_delta"}, {"text", text}}}});
      break;
    case RequestFamily::kTitanText:
      out.push_back({{"outputText", text},
                     {"index", 0},
                     {"totalOutputTextTokenCount", nullptr},
                     {"completionReason", nullptr},
                     {"inputTextTokenCount", first ? Json(input_tokens_) : Json(nullptr)}});
      break;
    case RequestFamily::kMetaLlama:
      out.push_back({{"generation", text},
                     {"prompt_token_count", first ? Json(input_tokens_) : Json(nullptr)},
                     {"generation_token_count", output_tokens_},
                     {"stop_reason", nullptr}});
      break;
    case RequestFamily::kMistral:
      out.push_back({{"outputs", Json::array({{{"text", text}, {"stop_reason", nullptr}}})}});
      break;
  }
  return out;
}

std::vector<Json> InvokeStreamRenderer::Finish(const GenerationResult& r) {
  std::vector<Json> out;
  // Text that was held back (tool-call parsing) goes out first.
  std::vector<Json> tail = Delta(r.text, 0);
  out.insert(out.end(), tail.begin(), tail.end());
  switch (family_) {
    case RequestFamily::kAnthropicText:
      out.push_back({{"type", "completion"},
                     {"completion", ""},
                     {"stop_reason", ClaudeTextStopReason(r.reason)},
                     {"stop", ClaudeTextStop(r)}});
      break;
    case RequestFamily::kAnthropicMessages: {
      if (!text_block_open_ && r.calls.empty()) {
        out.push_back({{"type", "content_block_start"},
                       {"index", block_index_},
                       {"content_block", {{"type", "text"}, {"text", ""}}}});
        text_block_open_ = true;
      }
      if (text_block_open_) {
        out.push_back({{"type", "content_block_stop"}, {"index", block_index_}});
        ++block_index_;
      }
      for (const auto& c : r.calls) {
        out.push_back({{"type", "content_block_start"},
                       {"index", block_index_},
                       {"content_block",
                        {{"type", "tool_use"},
                         {"id", "toolu_bdrk_" + c.id.substr(8)},
                         {"name", c.name},
                         {"input", Json::object()}}}});
        out.push_back(
            {{"type", "content_block_delta"},
             {"index", block_index_},
             {"delta",
              {{"type", "input_json_delta"},
               {"partial_json", c.input.dump(-1, ' ', false, Json::error_handler_t::replace)}}}});
        out.push_back({{"type", "content_block_stop"}, {"index", block_index_}});
        ++block_index_;
      }
      out.push_back({{"type", "message_delta"},
                     {"delta",
                      {{"stop_reason", MessagesStopReason(r)},
                       {"stop_sequence",
                        r.reason == FinishReason::kStopSequence ? Json(r.stop) : Json(nullptr)}}},
                     {"usage", {{"output_tokens", r.usage.completion_tokens}}}});
      out.push_back({{"type", "message_stop"}});
      break;
    }
    case RequestFamily::kTitanText:
      out.push_back({{"outputText", ""},
                     {"index", 0},
                     {"totalOutputTextTokenCount", r.usage.completion_tokens},
                     {"completionReason", TitanReason(r.reason)},
                     {"inputTextTokenCount", first_delta_ ? Json(input_tokens_) : Json(nullptr)}});
      break;
    case RequestFamily::kMetaLlama:
      out.push_back({{"generation", ""},
                     {"prompt_token_count", first_delta_ ? Json(input_tokens_) : Json(nullptr)},
                     {"generation_token_count", r.usage.completion_tokens},
                     {"stop_reason", LlamaReason(r.reason)}});
      break;
    case RequestFamily::kMistral:
      out.push_back(
          {{"outputs", Json::array({{{"text", ""}, {"stop_reason", LlamaReason(r.reason)}}})}});
      break;
  }
  out.back()["amazon-bedrock-invocationMetrics"] = Metrics(r);
  return out;
}

}  // namespace basalt::api
