#include "api/chat.h"

#include <algorithm>
#include <random>

#include "common/json_depth.h"

namespace basalt::api {
namespace {

constexpr std::string_view kOpen = "<tool_call>";
constexpr std::string_view kClose = "</tool_call>";

std::string ToolsSystemPrompt(const std::vector<ToolSpec>& tools) {
  std::string s =
      "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
      "You are provided with function signatures within <tools></tools> XML tags:\n<tools>";
  for (const auto& t : tools) {
    Json fn = {
        {"type", "function"},
        {"function",
         {{"name", t.name}, {"description", t.description}, {"parameters", t.input_schema}}}};
    s += "\n" + fn.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  s += "\n</tools>\n\nFor each function call, return a json object with function name and "
       "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
       "<function-name>, \"arguments\": <args-json-object>}\n</tool_call>";
  return s;
}

std::string GbnfLiteral(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// A JSON grammar (RFC 8259 values). Whitespace is bounded so a model cannot stall in it.
constexpr const char* kJsonGrammar = R"(
object ::= "{" ws ( string ws ":" ws value ( ws "," ws string ws ":" ws value )* )? ws "}"
array ::= "[" ws ( value ( ws "," ws value )* )? ws "]"
value ::= object | array | string | number | "true" | "false" | "null"
string ::= "\"" ( [^"\\\x00-\x1f] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] ) )* "\""
number ::= "-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?
integer ::= "-"? ( "0" | [1-9] [0-9]* )
boolean ::= "true" | "false"
ws ::= [ \t\n]?
)";

// Turns a JSON schema into a GBNF rule (a subset: object properties, required, string enums,
// number, integer, boolean, array items, null; anything else is any JSON value). Properties
// are emitted in schema order; without "required" every property is required, which keeps
// small models from closing the object early.
std::string SchemaRule(const Json& schema, const std::string& name, int depth,
                       std::vector<std::string>* rules) {
  if (!schema.is_object() || depth > 8) return "value";
  std::string type = schema.contains("type") && schema["type"].is_string()
                         ? schema["type"].get<std::string>()
                         : "";
  if (schema.contains("enum") && schema["enum"].is_array() && !schema["enum"].empty()) {
    std::string alts;
    for (const auto& v : schema["enum"]) {
      if (!alts.empty()) alts += " | ";
      alts += GbnfLiteral(v.dump());
    }
    rules->push_back(name + " ::= " + alts);
    return name;
  }
  if (type == "string") return "string";
  if (type == "number") return "number";
  if (type == "integer") return "integer";
  if (type == "boolean") return "boolean";
  if (type == "null") return "\"null\"";
  if (type == "array") {
    std::string item = schema.contains("items")
                           ? SchemaRule(schema["items"], name + "-item", depth + 1, rules)
                           : "value";
    rules->push_back(name + " ::= \"[\" ws ( " + item + " ( ws \",\" ws " + item +
                     " )* )? ws \"]\"");
    return name;
  }
  if (type == "object" || schema.contains("properties")) {
    if (!schema.contains("properties") || !schema["properties"].is_object() ||
        schema["properties"].empty()) {
      return "object";
    }
    std::vector<std::string> required;
    if (schema.contains("required") && schema["required"].is_array()) {
      for (const auto& r : schema["required"]) {
        if (r.is_string() && schema["properties"].contains(r.get<std::string>())) {
          required.push_back(r.get<std::string>());
        }
      }
    }
    bool all_required = required.empty();
    std::string body;
    std::string optional;
    int i = 0;
    for (auto it = schema["properties"].begin(); it != schema["properties"].end(); ++it, ++i) {
      bool is_required =
          all_required || std::find(required.begin(), required.end(), it.key()) != required.end();
      std::string value = SchemaRule(it.value(), name + "-" + std::to_string(i), depth + 1, rules);
      std::string pair = GbnfLiteral(Json(it.key()).dump()) + " ws \":\" ws " + value;
      if (is_required) {
        body += (body.empty() ? "" : " ws \",\" ws ") + pair;
      } else {
        optional += " ( ws \",\" ws " + pair + " )?";
      }
    }
    rules->push_back(name + " ::= \"{\" ws " + body + optional + " ws \"}\"");
    return name;
  }
  return "value";
}

std::string ToolGrammar(const std::vector<ToolSpec>& tools, ToolChoice choice,
                        const std::string& name) {
  std::vector<std::string> rules;
  std::string calls;
  int i = 0;
  for (const auto& t : tools) {
    if (choice == ToolChoice::kTool && t.name != name) continue;
    std::string args = SchemaRule(t.input_schema, "args" + std::to_string(i++), 0, &rules);
    if (!calls.empty()) calls += " | ";
    calls += "( " + GbnfLiteral("\"" + t.name + "\"") + " \", \\\"arguments\\\": \" " + args + " )";
  }
  std::string g =
      "root ::= \"<tool_call>\\n{\\\"name\\\": \" ( " + calls + " ) \"}\\n</tool_call>\"\n";
  for (const auto& r : rules) g += r + "\n";
  return g + kJsonGrammar;
}

}  // namespace

std::string RenderToolCallText(const std::string& name, const Json& input) {
  Json call = {{"name", name}, {"arguments", input}};
  return std::string(kOpen) + "\n" + call.dump(-1, ' ', false, Json::error_handler_t::replace) +
         "\n" + std::string(kClose);
}

std::string RenderToolResultText(const std::string& content) {
  return "<tool_response>\n" + content + "\n</tool_response>";
}

StatusOr<engine::GenerateRequest> BuildGenerateRequest(engine::Engine& engine,
                                                       const std::string& engine_model,
                                                       const PromptPlan& plan) {
  // Stop sequences are matched on the model's shared scheduler thread for every token, so
  // their count and size are bounded for all request families (Converse allows 2,500 items).
  size_t stop_bytes = 0;
  if (plan.sampling.stop.size() > kMaxStopSequences) {
    return Status::InvalidArgument(
        "1 validation error detected: Value at 'stopSequences' failed to satisfy constraint: "
        "Member must have length less than or equal to " +
        std::to_string(kMaxStopSequences));
  }
  for (const std::string& stop : plan.sampling.stop) {
    stop_bytes += stop.size();
    if (stop.size() > kMaxStopSequenceBytes || stop_bytes > kMaxStopSequencesTotalBytes) {
      return Status::InvalidArgument(
          "Stop sequences are limited to " + std::to_string(kMaxStopSequenceBytes) +
          " bytes each and " + std::to_string(kMaxStopSequencesTotalBytes) + " bytes in all.");
    }
  }
  engine::GenerateRequest req;
  req.model = engine_model;
  req.sampling = plan.sampling;
  if (plan.raw) {
    req.prompt = plan.raw_prompt;
    return req;
  }
  std::vector<engine::ChatMessage> messages;
  std::string system = plan.system;
  bool use_tools = !plan.tools.empty() && plan.tool_choice != ToolChoice::kNone;
  if (use_tools) {
    if (!system.empty()) system += "\n\n";
    system += ToolsSystemPrompt(plan.tools);
  }
  // The schema helps a model fill the fields sensibly; on a small context it would crowd out
  // the answer, so it goes into the prompt only when it takes at most an eighth of it.
  auto info = plan.output_schema ? engine.GetModelInfo(engine_model)
                                 : StatusOr<engine::ModelInfo>(engine::ModelInfo{});
  if (plan.output_schema && info.ok() &&
      plan.output_schema_text.size() / 4 <= static_cast<size_t>(info->context_length) / 8) {
    if (!system.empty()) system += "\n\n";
    system +=
        "Answer with one JSON value and nothing else. It must follow this JSON schema" +
        (plan.output_schema_name.empty() ? std::string() : " (" + plan.output_schema_name + ")") +
        ":\n" + plan.output_schema_text;
  }
  if (!system.empty()) messages.push_back({"system", system});
  messages.insert(messages.end(), plan.messages.begin(), plan.messages.end());
  auto prompt = engine.FormatChat(engine_model, messages, /*add_generation_prompt=*/true);
  if (!prompt.ok()) return prompt.status();
  req.prompt = std::move(*prompt);
  if (!plan.prefill.empty()) req.prompt += plan.prefill;
  if (use_tools &&
      (plan.tool_choice == ToolChoice::kAny || plan.tool_choice == ToolChoice::kTool)) {
    req.grammar = ToolGrammar(plan.tools, plan.tool_choice, plan.tool_choice_name);
  } else if (!plan.output_grammar.empty()) {
    // The answer is the JSON, or (tools on auto) a tool call instead.
    std::string root = "root ::= js-top\n";
    if (use_tools) {
      std::string tools = ToolGrammar(plan.tools, ToolChoice::kAny, "");
      root = "root ::= tool-call | js-top\ntool-call" + tools.substr(4);  // "root ::= ..."
    }
    req.grammar = root + plan.output_grammar;
  }
  return req;
}

bool StructuredOutputValid(const PromptPlan& plan, const std::string& text) {
  if (!plan.output_schema) return true;
  if (!JsonDepthWithin(text)) return false;
  grammar::SchemaJson value = grammar::SchemaJson::parse(text, nullptr, false);
  if (value.is_discarded()) return false;
  grammar::ValidateOptions options;
  options.check_patterns = false;
  return grammar::ValidateJson(*plan.output_schema, value, options).ok();
}

ParsedOutput ParseToolCalls(const std::string& output, const std::vector<ToolSpec>& tools) {
  ParsedOutput out;
  size_t pos = 0;
  std::string text;
  while (pos < output.size()) {
    size_t open = output.find(kOpen, pos);
    if (open == std::string::npos) {
      text += output.substr(pos);
      break;
    }
    size_t close = output.find(kClose, open + kOpen.size());
    std::string body =
        output.substr(open + kOpen.size(),
                      close == std::string::npos ? std::string::npos : close - open - kOpen.size());
    // Model output is client-controlled through the prompt: bound its depth like a body.
    Json j = JsonDepthWithin(body) ? Json::parse(body, nullptr, false) : Json();
    bool known = false;
    if (j.is_object() && j.contains("name") && j["name"].is_string()) {
      for (const auto& t : tools) known = known || t.name == j["name"].get<std::string>();
    }
    if (!known) {
      text += output.substr(
          pos, (close == std::string::npos ? output.size() : close + kClose.size()) - pos);
    } else {
      text += output.substr(pos, open - pos);
      ToolCall call;
      call.id = NewToolUseId();
      call.name = j["name"].get<std::string>();
      if (j.contains("arguments")) {
        call.input = j["arguments"];
        if (call.input.is_string()) {  // some models double-encode
          const std::string& encoded = call.input.get_ref<const std::string&>();
          Json inner = JsonDepthWithin(encoded) ? Json::parse(encoded, nullptr, false) : Json();
          if (inner.is_object()) call.input = inner;
        }
      }
      if (!call.input.is_object()) call.input = Json::object();
      out.calls.push_back(std::move(call));
    }
    if (close == std::string::npos) break;
    pos = close + kClose.size();
  }
  size_t b = text.find_first_not_of(" \n\t\r");
  size_t e = text.find_last_not_of(" \n\t\r");
  out.text = b == std::string::npos ? "" : text.substr(b, e - b + 1);
  return out;
}

std::string NewToolUseId(const char* prefix) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string id = prefix;
  for (int i = 0; i < 22; ++i) id += kChars[rng() % 64];
  return id;
}

size_t SafeTextPrefix(const std::string& text) {
  size_t open = text.find(kOpen);
  if (open != std::string::npos) return open;
  for (size_t k = std::min(text.size(), kOpen.size() - 1); k > 0; --k) {
    if (text.compare(text.size() - k, k, kOpen.substr(0, k)) == 0) return text.size() - k;
  }
  return text.size();
}

}  // namespace basalt::api
