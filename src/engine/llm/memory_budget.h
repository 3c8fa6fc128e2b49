// Memory checks before a model loads: what a GGUF model will take (weights, KV cache, compute
// buffers) and what the machine can still give, so a model that does not fit is refused with
// a clear error instead of the kernel's out-of-memory kill.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "engine/engine.h"

namespace basalt::engine::llm {

struct MemoryEstimate {
  int64_t weights = 0;   // tensor data (the file's size past its header)
  int64_t kv_cache = 0;  // n_ctx * n_layer * (n_embd_k_gqa + n_embd_v_gqa) * 2 bytes (F16)
  int64_t compute = 0;   // compute buffers and logits, with a fixed margin
  int64_t total() const { return weights + kv_cache + compute; }
};

// Reads the GGUF header of `config.path` (metadata and tensor table only, no weights) and
// estimates what loading it with `config` takes. Also checks the file is whole: every
// tensor's data lies inside it. Returns kInvalidArgument for a file that is not a GGUF model
// or is cut short, kNotFound when it is missing.
StatusOr<MemoryEstimate> EstimateModelMemory(const ModelConfig& config);

// Bytes the system can still give: /proc/meminfo's MemAvailable, lowered to the cgroup's
// memory.max minus memory.current when a limit is set. -1 when neither can be read.
int64_t SystemAvailableMemory();

// "1.5 GiB", "320.0 MiB": for messages.
std::string FormatBytes(int64_t bytes);

}  // namespace basalt::engine::llm
