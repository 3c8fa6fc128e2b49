// Process-wide llama.cpp/ggml setup, done once before the first model loads.
#pragma once

namespace basalt::engine::llm {

// Routes llama.cpp and ggml logs to spdlog (debug level), loads the ggml backends (the CPU
// backend is a runtime-selected plugin in the packaged build) and initialises llama.cpp.
// Thread-safe; later calls do nothing.
void InitLlamaRuntime();

}  // namespace basalt::engine::llm
