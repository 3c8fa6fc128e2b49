#include "engine/llm/llama_runtime.h"

#include <spdlog/spdlog.h>

#include <mutex>
#include <string_view>

#include "llama.h"

namespace basalt::engine::llm {
namespace {

void LogToSpdlog(enum ggml_log_level level, const char* text, void* /*user_data*/) {
  if (text == nullptr || !spdlog::should_log(spdlog::level::debug)) return;
  std::string_view line(text);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.empty()) return;
  spdlog::debug("llama[{}]: {}", static_cast<int>(level), line);
}

}  // namespace

void InitLlamaRuntime() {
  static std::once_flag once;
  std::call_once(once, [] {
    llama_log_set(LogToSpdlog, nullptr);  // also sets ggml's logger
    if (ggml_backend_dev_count() == 0) ggml_backend_load_all();
    // ggml's BLAS backend (Debian's libggml0-backend-blas, if installed) would take the large
    // matrix products only: batched steps then round differently from single-token ones, and a
    // speculative run would no longer give the same text as a plain one (and OpenBLAS's own
    // threads would compete with ggml's). The CPU backend does all the work here.
    if (ggml_backend_reg_t blas = ggml_backend_reg_by_name("BLAS")) ggml_backend_unload(blas);
    llama_backend_init();
    spdlog::debug("llama.cpp {} with {} backend device(s)", llama_version(),
                  ggml_backend_dev_count());
  });
}

}  // namespace basalt::engine::llm
