// A fake engine for the fuzz targets that reach prompt formatting (request_body, api).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace basalt::fuzz {

// An engine with no model: counts a token per 4 bytes, joins chat messages, and refuses to
// generate (kUnavailable), so the API's request paths run up to generation.
class FakeEngine : public engine::Engine {
 public:
  StatusOr<engine::JobId> Submit(engine::GenerateRequest, std::shared_ptr<engine::Sink>,
                                 int*) override {
    return Status::Unavailable("fuzz engine does not generate");
  }
  void Cancel(engine::JobId) override {}
  StatusOr<int> CountTokens(const std::string&, const std::string& text, bool) override {
    return static_cast<int>(text.size() / 4 + 1);
  }
  StatusOr<std::string> FormatChat(const std::string&, const std::vector<engine::ChatMessage>& m,
                                   bool add_generation_prompt) override {
    std::string out;
    for (const auto& msg : m) out += "<" + msg.role + ">" + msg.content + "\n";
    if (add_generation_prompt) out += "<assistant>";
    return out;
  }
  Status AddModel(const engine::ModelConfig&) override { return Status::Ok(); }
  StatusOr<engine::ModelInfo> GetModelInfo(const std::string& model) override {
    engine::ModelInfo info;
    info.name = model;
    info.context_length = 4096;
    info.train_context_length = 4096;
    info.has_chat_template = true;
    return info;
  }
  engine::EngineStats Stats(const std::string&) override { return {}; }
};

}  // namespace basalt::fuzz
