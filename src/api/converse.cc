#include "api/converse.h"

#include <memory>

#include "auth/sigv4.h"
#include "grammar/json_schema.h"

namespace basalt::api {
namespace {

Status Constraint(const std::string& field, const std::string& value, const std::string& what) {
  return Status::InvalidArgument("1 validation error detected: Value " + value + " at '" + field +
                                 "' failed to satisfy constraint: " + what);
}

Status TypeError(const std::string& field, const char* want, const Json& got) {
  return Status::InvalidArgument("1 validation error detected: Value at '" + field +
                                 "' failed to satisfy constraint: Member must be of type " + want +
                                 " (found " + JsonTypeName(got) + ")");
}

std::string TextOfToolResult(const Json& content, const std::string& path, Status* error) {
  std::string out;
  if (!content.is_array()) {
    *error = TypeError(path, "list", content);
    return out;
  }
  for (const auto& part : content) {
    if (!part.is_object()) continue;
    if (part.contains("text") && part["text"].is_string()) {
      if (!out.empty()) out += "\n";
      out += part["text"].get<std::string>();
    } else if (part.contains("json")) {
      if (!out.empty()) out += "\n";
      out += part["json"].dump(-1, ' ', false, Json::error_handler_t::replace);
    } else if (part.contains("image") || part.contains("document") || part.contains("video")) {
      *error = Status::InvalidArgument(
          "This model doesn't support the media content in toolResult. Try again with text or "
          "json content.");
      return out;
    }
  }
  return out;
}

// Flattens one message's content blocks into text for the chat template.
StatusOr<std::string> FlattenContent(const Json& content, const std::string& role,
                                     const std::string& path) {
  if (!content.is_array()) return TypeError(path, "list", content);
  std::string text;
  auto append = [&](const std::string& s) {
    if (!text.empty()) text += "\n";
    text += s;
  };
  for (size_t i = 0; i < content.size(); ++i) {
    const Json& block = content[i];
    std::string bpath = path + "." + std::to_string(i + 1) + ".member";
    if (!block.is_object() || block.empty()) {
      return Status::InvalidArgument("1 validation error detected: Value at '" + bpath +
                                     "' failed to satisfy constraint: Member must be a union "
                                     "with exactly one member set");
    }
    if (block.contains("text")) {
      if (!block["text"].is_string()) return TypeError(bpath + ".text", "string", block["text"]);
      append(block["text"].get<std::string>());
    } else if (block.contains("toolUse")) {
      const Json& tu = block["toolUse"];
      if (role != "assistant") {
        return Status::InvalidArgument(
            "A toolUse content block can only appear in an assistant message.");
      }
      if (!tu.is_object() || !tu.contains("name") || !tu["name"].is_string()) {
        return Status::InvalidArgument("1 validation error detected: Value null at '" + bpath +
                                       ".toolUse.name' failed to satisfy constraint: Member must "
                                       "not be null");
      }
      append(RenderToolCallText(tu["name"].get<std::string>(),
                                tu.contains("input") ? tu["input"] : Json::object()));
    } else if (block.contains("toolResult")) {
      const Json& tr = block["toolResult"];
      if (role != "user") {
        return Status::InvalidArgument(
            "A toolResult content block can only appear in a user message.");
      }
      if (!tr.is_object()) return TypeError(bpath + ".toolResult", "structure", tr);
      Status err;
      std::string result = TextOfToolResult(tr.contains("content") ? tr["content"] : Json::array(),
                                            bpath + ".toolResult.content", &err);
      if (!err.ok()) return err;
      append(RenderToolResultText(result));
    } else if (block.contains("document")) {
      const Json& doc = block["document"];
      if (!doc.is_object()) return TypeError(bpath + ".document", "structure", doc);
      std::string format = doc.value("format", "txt");
      std::string name = doc.value("name", "document");
      const Json& source = doc.contains("source") ? doc["source"] : Json::object();
      std::string body;
      if (source.contains("text") && source["text"].is_string()) {
        body = source["text"].get<std::string>();
      } else if (source.contains("bytes") && source["bytes"].is_string() &&
                 (format == "txt" || format == "md" || format == "csv" || format == "html")) {
        auto decoded = auth::Base64Decode(source["bytes"].get<std::string>());
        if (!decoded.ok()) {
          return Status::InvalidArgument("Invalid base64 in document bytes for " + name);
        }
        body = *decoded;
      } else {
        return Status::InvalidArgument("This model doesn't support documents of format " + format +
                                       ". Send txt, md, csv or html documents.");
      }
      append("Document \"" + name + "\":\n" + body);
    } else if (block.contains("guardContent")) {
      const Json& g = block["guardContent"];
      if (g.is_object() && g.contains("text") && g["text"].is_object() &&
          g["text"].contains("text") && g["text"]["text"].is_string()) {
        append(g["text"]["text"].get<std::string>());
      }
    } else if (block.contains("cachePoint") || block.contains("reasoningContent")) {
      // Prompt caching is automatic here (prefix reuse); past reasoning is not replayed.
    } else if (block.contains("image") || block.contains("video") || block.contains("audio")) {
      std::string kind = block.contains("image")   ? "image"
                         : block.contains("video") ? "video"
                                                   : "audio";
      return Status::InvalidArgument("This model doesn't support the " + kind +
                                     " content block that you provided. Try again with a model "
                                     "that supports " +
                                     kind + " input.");
    } else {
      return Status::InvalidArgument("1 validation error detected: Value at '" + bpath +
                                     "' failed to satisfy constraint: unknown content block type " +
                                     block.begin().key());
    }
  }
  return text;
}

Status ParseToolConfig(const Json& cfg, PromptPlan* plan) {
  if (!cfg.is_object()) return TypeError("toolConfig", "structure", cfg);
  if (!cfg.contains("tools") || !cfg["tools"].is_array() || cfg["tools"].empty()) {
    return Status::InvalidArgument(
        "1 validation error detected: Value at 'toolConfig.tools' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1");
  }
  const Json& tools = cfg["tools"];
  for (size_t i = 0; i < tools.size(); ++i) {
    const Json& t = tools[i];
    std::string path = "toolConfig.tools." + std::to_string(i + 1) + ".member";
    if (!t.is_object()) return TypeError(path, "structure", t);
    if (t.contains("cachePoint")) continue;
    if (t.contains("systemTool")) {
      return Status::InvalidArgument("System tools are not supported by this model.");
    }
    if (!t.contains("toolSpec") || !t["toolSpec"].is_object()) {
      return Status::InvalidArgument("1 validation error detected: Value at '" + path +
                                     "' failed to satisfy constraint: Member must be a union "
                                     "with exactly one member set");
    }
    const Json& spec = t["toolSpec"];
    ToolSpec ts;
    if (!spec.contains("name") || !spec["name"].is_string()) {
      return Status::InvalidArgument("1 validation error detected: Value null at '" + path +
                                     ".toolSpec.name' failed to satisfy constraint: Member must "
                                     "not be null");
    }
    ts.name = spec["name"].get<std::string>();
    bool name_ok = !ts.name.empty() && ts.name.size() <= 64;
    for (char c : ts.name)
      name_ok = name_ok && (isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
    if (!name_ok) {
      return Constraint(path + ".toolSpec.name", "'" + ts.name + "'",
                        "Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+");
    }
    for (const auto& other : plan->tools) {
      if (other.name == ts.name) {
        return Status::InvalidArgument("The toolConfig field must not have duplicate tool names: " +
                                       ts.name);
      }
    }
    if (spec.contains("description") && spec["description"].is_string()) {
      ts.description = spec["description"].get<std::string>();
    }
    if (!spec.contains("inputSchema") || !spec["inputSchema"].is_object() ||
        !spec["inputSchema"].contains("json")) {
      return Status::InvalidArgument("1 validation error detected: Value null at '" + path +
                                     ".toolSpec.inputSchema' failed to satisfy constraint: Member "
                                     "must not be null");
    }
    ts.input_schema = spec["inputSchema"]["json"];
    plan->tools.push_back(std::move(ts));
  }
  if (cfg.contains("toolChoice")) {
    const Json& c = cfg["toolChoice"];
    if (!c.is_object() || c.size() != 1) {
      return Status::InvalidArgument(
          "1 validation error detected: Value at 'toolConfig.toolChoice' failed to satisfy "
          "constraint: Member must be a union with exactly one member set");
    }
    if (c.contains("auto"))
      plan->tool_choice = ToolChoice::kAuto;
    else if (c.contains("any"))
      plan->tool_choice = ToolChoice::kAny;
    else if (c.contains("tool")) {
      plan->tool_choice = ToolChoice::kTool;
      const Json& t = c["tool"];
      if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) {
        return Status::InvalidArgument(
            "1 validation error detected: Value null at 'toolConfig.toolChoice.tool.name' failed "
            "to satisfy constraint: Member must not be null");
      }
      plan->tool_choice_name = t["name"].get<std::string>();
      bool found = false;
      for (const auto& ts : plan->tools) found = found || ts.name == plan->tool_choice_name;
      if (!found) {
        return Status::InvalidArgument("The tool " + plan->tool_choice_name +
                                       " in toolChoice is not defined in toolConfig.tools.");
      }
    } else {
      return Status::InvalidArgument("Unknown toolChoice " + c.begin().key());
    }
  }
  return Status::Ok();
}

// outputConfig: {textFormat: {type: "json_schema", structure: {jsonSchema: {schema, name?,
// description?}}}, effort?}. The schema is compiled into a grammar here, so a schema the
// grammar cannot express is a ValidationException before anything runs.
Status ParseOutputConfig(const Json& cfg, PromptPlan* plan) {
  if (!cfg.is_object()) return TypeError("outputConfig", "structure", cfg);
  if (cfg.contains("effort") && !cfg["effort"].is_null()) {
    const Json& e = cfg["effort"];
    if (!e.is_string()) return TypeError("outputConfig.effort", "string", e);
    const std::string v = e.get<std::string>();
    if (v != "low" && v != "medium" && v != "high" && v != "xhigh" && v != "max") {
      return Constraint("outputConfig.effort", "'" + v + "'",
                        "Member must satisfy enum value set: [low, medium, high, xhigh, max]");
    }
  }
  if (!cfg.contains("textFormat") || cfg["textFormat"].is_null()) return Status::Ok();
  const Json& tf = cfg["textFormat"];
  if (!tf.is_object()) return TypeError("outputConfig.textFormat", "structure", tf);
  if (!tf.contains("type") || tf["type"].is_null()) {
    return Status::InvalidArgument(
        "1 validation error detected: Value null at 'outputConfig.textFormat.type' failed to "
        "satisfy constraint: Member must not be null");
  }
  if (!tf["type"].is_string())
    return TypeError("outputConfig.textFormat.type", "string", tf["type"]);
  if (tf["type"] != "json_schema") {
    return Constraint("outputConfig.textFormat.type", "'" + tf["type"].get<std::string>() + "'",
                      "Member must satisfy enum value set: [json_schema]");
  }
  if (!tf.contains("structure") || tf["structure"].is_null()) {
    return Status::InvalidArgument(
        "1 validation error detected: Value null at 'outputConfig.textFormat.structure' failed "
        "to satisfy constraint: Member must not be null");
  }
  const Json& st = tf["structure"];
  if (!st.is_object() || st.size() != 1 || !st.contains("jsonSchema")) {
    return Status::InvalidArgument(
        "1 validation error detected: Value at 'outputConfig.textFormat.structure' failed to "
        "satisfy constraint: Member must be a union with exactly one member set");
  }
  const Json& js = st["jsonSchema"];
  const std::string path = "outputConfig.textFormat.structure.jsonSchema";
  if (!js.is_object()) return TypeError(path, "structure", js);
  if (!js.contains("schema") || js["schema"].is_null()) {
    return Status::InvalidArgument("1 validation error detected: Value null at '" + path +
                                   ".schema' failed to satisfy constraint: Member must not be "
                                   "null");
  }
  if (!js["schema"].is_string()) return TypeError(path + ".schema", "string", js["schema"]);
  for (const char* key : {"name", "description"}) {
    if (js.contains(key) && !js[key].is_null() && !js[key].is_string()) {
      return TypeError(path + "." + key, "string", js[key]);
    }
  }
  const std::string& text = js["schema"].get_ref<const std::string&>();
  auto schema = grammar::ParseJsonSchema(text);
  if (!schema.ok()) return schema.status();
  auto gbnf = grammar::CompileJsonSchema(*schema, "js-top");
  if (!gbnf.ok()) return gbnf.status();
  if (!plan->prefill.empty()) {
    return Status::InvalidArgument(
        "Structured output (outputConfig.textFormat) cannot continue a prefilled assistant "
        "message. Remove the trailing assistant message and try again.");
  }
  plan->output_schema = std::make_shared<const grammar::SchemaJson>(std::move(*schema));
  plan->output_grammar = std::move(*gbnf);
  plan->output_schema_text = text;
  if (js.contains("name") && js["name"].is_string()) {
    plan->output_schema_name = js["name"].get<std::string>();
  }
  return Status::Ok();
}

}  // namespace

StatusOr<PromptPlan> ParseConverseBody(const Json& body, int default_max_tokens) {
  PromptPlan plan;
  plan.sampling.max_tokens = default_max_tokens;
  plan.sampling.temperature = 1.0f;
  plan.sampling.top_p = 1.0f;

  if (body.contains("system") && !body["system"].is_null()) {
    const Json& sys = body["system"];
    if (!sys.is_array()) return TypeError("system", "list", sys);
    for (size_t i = 0; i < sys.size(); ++i) {
      const Json& b = sys[i];
      if (!b.is_object())
        return TypeError("system." + std::to_string(i + 1) + ".member", "structure", b);
      if (b.contains("text")) {
        if (!b["text"].is_string()) return TypeError("system.text", "string", b["text"]);
        std::string t = b["text"].get<std::string>();
        if (t.empty()) {
          return Status::InvalidArgument(
              "The text field in the SystemContentBlock object is blank. Add text to the text "
              "field, and try again.");
        }
        if (!plan.system.empty()) plan.system += "\n";
        plan.system += t;
      } else if (b.contains("guardContent")) {
        const Json& g = b["guardContent"];
        if (g.is_object() && g.contains("text") && g["text"].is_object() &&
            g["text"].value("text", Json()).is_string()) {
          if (!plan.system.empty()) plan.system += "\n";
          plan.system += g["text"]["text"].get<std::string>();
        }
      }
    }
  }

  const Json messages = body.value("messages", Json::array());
  if (!messages.is_array()) return TypeError("messages", "list", messages);
  for (size_t i = 0; i < messages.size(); ++i) {
    const Json& m = messages[i];
    std::string path = "messages." + std::to_string(i + 1) + ".member";
    if (!m.is_object()) return TypeError(path, "structure", m);
    if (!m.contains("role") || !m["role"].is_string()) {
      return Status::InvalidArgument("1 validation error detected: Value null at '" + path +
                                     ".role' failed to satisfy constraint: Member must not be "
                                     "null");
    }
    std::string role = m["role"].get<std::string>();
    if (role != "user" && role != "assistant") {
      return Constraint(path + ".role", "'" + role + "'",
                        "Member must satisfy enum value set: [user, assistant]");
    }
    if (!m.contains("content")) {
      return Status::InvalidArgument("1 validation error detected: Value null at '" + path +
                                     ".content' failed to satisfy constraint: Member must not "
                                     "be null");
    }
    std::string text;
    BASALT_ASSIGN_OR_RETURN(text, FlattenContent(m["content"], role, path + ".content"));
    if (plan.messages.empty() && role != "user") {
      return Status::InvalidArgument(
          "A conversation must start with a user message. Try again with a conversation that "
          "starts with a user message.");
    }
    if (!plan.messages.empty() && plan.messages.back().role == role) {
      return Status::InvalidArgument(
          "A conversation must alternate between user and assistant roles. Make sure the "
          "conversation alternates between user and assistant roles and try again.");
    }
    plan.messages.push_back({role, std::move(text)});
  }
  if (plan.messages.empty()) {
    return Status::InvalidArgument(
        "A conversation must start with a user message. Try again with a conversation that "
        "starts with a user message.");
  }
  if (plan.messages.back().role == "assistant") {
    plan.prefill = plan.messages.back().content;
    plan.messages.pop_back();
  }

  if (body.contains("inferenceConfig") && !body["inferenceConfig"].is_null()) {
    const Json& ic = body["inferenceConfig"];
    if (!ic.is_object()) return TypeError("inferenceConfig", "structure", ic);
    if (ic.contains("maxTokens")) {
      const Json& v = ic["maxTokens"];
      if (!v.is_number_integer()) return TypeError("inferenceConfig.maxTokens", "integer", v);
      if (v.get<int64_t>() < 1) {
        return Constraint("inferenceConfig.maxTokens", "'" + v.dump() + "'",
                          "Member must have value greater than or equal to 1");
      }
      plan.sampling.max_tokens = static_cast<int>(std::min<int64_t>(v.get<int64_t>(), 1 << 20));
    }
    for (auto [key, dst] : {std::pair{"temperature", &plan.sampling.temperature},
                            std::pair{"topP", &plan.sampling.top_p}}) {
      if (!ic.contains(key)) continue;
      const Json& v = ic[key];
      if (!v.is_number()) return TypeError(std::string("inferenceConfig.") + key, "float", v);
      double d = v.get<double>();
      if (d < 0 || d > 1) {
        return Constraint(std::string("inferenceConfig.") + key, "'" + v.dump() + "'",
                          d < 0 ? "Member must have value greater than or equal to 0"
                                : "Member must have value less than or equal to 1");
      }
      *dst = static_cast<float>(d);
    }
    if (ic.contains("stopSequences")) {
      const Json& v = ic["stopSequences"];
      if (!v.is_array()) return TypeError("inferenceConfig.stopSequences", "list", v);
      for (const auto& s : v) {
        if (!s.is_string() || s.get<std::string>().empty()) {
          return Status::InvalidArgument(
              "1 validation error detected: Value at 'inferenceConfig.stopSequences' failed to "
              "satisfy constraint: Member must have length greater than or equal to 1");
        }
        plan.sampling.stop.push_back(s.get<std::string>());
      }
    }
  }
  if (body.contains("additionalModelRequestFields") &&
      body["additionalModelRequestFields"].is_object()) {
    const Json& extra = body["additionalModelRequestFields"];
    for (const char* key : {"top_k", "topK"}) {
      if (extra.contains(key) && extra[key].is_number_integer()) {
        plan.sampling.top_k = static_cast<int>(std::max<int64_t>(0, extra[key].get<int64_t>()));
      }
    }
    if (extra.contains("seed") && extra["seed"].is_number_integer()) {
      plan.sampling.seed = static_cast<uint32_t>(extra["seed"].get<int64_t>());
    }
  }
  if (body.contains("toolConfig") && !body["toolConfig"].is_null()) {
    BASALT_RETURN_IF_ERROR(ParseToolConfig(body["toolConfig"], &plan));
  }
  if (body.contains("outputConfig") && !body["outputConfig"].is_null()) {
    BASALT_RETURN_IF_ERROR(ParseOutputConfig(body["outputConfig"], &plan));
  }
  return plan;
}

const char* ConverseStopReason(const GenerationResult& r) {
  if (!r.calls.empty()) return "tool_use";
  if (r.malformed_output) return "malformed_model_output";
  switch (r.reason) {
    case engine::FinishReason::kLength:
      return "max_tokens";
    case engine::FinishReason::kStopSequence:
      return "stop_sequence";
    default:
      return "end_turn";
  }
}

void CheckStructuredOutput(const PromptPlan& plan, const std::string& full_text,
                           GenerationResult* result) {
  if (!plan.output_schema || !result->calls.empty() ||
      result->reason != engine::FinishReason::kEndOfGeneration) {
    return;  // a cut-off answer (max_tokens, stop sequence) is reported as cut off
  }
  result->malformed_output = !StructuredOutputValid(plan, full_text);
}

namespace {
Json Usage(const GenerationResult& r) {
  return {{"inputTokens", r.usage.prompt_tokens},
          {"outputTokens", r.usage.completion_tokens},
          {"totalTokens", r.usage.prompt_tokens + r.usage.completion_tokens}};
}
}  // namespace

Json RenderConverseResponse(const GenerationResult& r) {
  Json content = Json::array();
  if (!r.text.empty() || r.calls.empty()) content.push_back({{"text", r.text}});
  for (const auto& c : r.calls) {
    content.push_back({{"toolUse", {{"toolUseId", c.id}, {"name", c.name}, {"input", c.input}}}});
  }
  return {{"output", {{"message", {{"role", "assistant"}, {"content", content}}}}},
          {"stopReason", ConverseStopReason(r)},
          {"usage", Usage(r)},
          {"metrics", {{"latencyMs", r.latency_ms}}}};
}

std::vector<StreamEvent> ConverseStreamRenderer::Start() {
  return {{"messageStart", {{"role", "assistant"}}}};
}

std::vector<StreamEvent> ConverseStreamRenderer::Delta(const std::string& text) {
  if (text.empty()) return {};
  text_started_ = true;
  return {{"contentBlockDelta", {{"contentBlockIndex", 0}, {"delta", {{"text", text}}}}}};
}

std::vector<StreamEvent> ConverseStreamRenderer::Finish(const GenerationResult& r) {
  std::vector<StreamEvent> out = Delta(r.text);
  int index = 0;
  if (text_started_ || r.calls.empty()) {
    if (!text_started_) {
      out.push_back({"contentBlockDelta", {{"contentBlockIndex", 0}, {"delta", {{"text", ""}}}}});
    }
    out.push_back({"contentBlockStop", {{"contentBlockIndex", 0}}});
    index = 1;
  }
  for (const auto& c : r.calls) {
    out.push_back({"contentBlockStart",
                   {{"contentBlockIndex", index},
                    {"start", {{"toolUse", {{"toolUseId", c.id}, {"name", c.name}}}}}}});
    out.push_back(
        {"contentBlockDelta",
         {{"contentBlockIndex", index},
          {"delta",
           {{"toolUse",
             {{"input", c.input.dump(-1, ' ', false, Json::error_handler_t::replace)}}}}}}});
    out.push_back({"contentBlockStop", {{"contentBlockIndex", index}}});
    ++index;
  }
  out.push_back({"messageStop", {{"stopReason", ConverseStopReason(r)}}});
  out.push_back({"metadata", {{"usage", Usage(r)}, {"metrics", {{"latencyMs", r.latency_ms}}}}});
  return out;
}

}  // namespace basalt::api
