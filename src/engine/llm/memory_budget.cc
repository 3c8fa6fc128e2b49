#include "engine/llm/memory_budget.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "gguf.h"

namespace basalt::engine::llm {
namespace {

constexpr int kMaxDefaultContext = 4096;  // as ModelRunner: per slot when the config leaves it
constexpr int64_t kMaxUbatch = 512;
constexpr int64_t kComputeMargin = 32ll << 20;  // graph metadata, scratch, allocator slack

struct GgufDeleter {
  void operator()(gguf_context* ctx) const { gguf_free(ctx); }
};

// An integer metadata value of any integer type; `fallback` when absent or not an integer.
int64_t GetInt(const gguf_context* ctx, const std::string& key, int64_t fallback) {
  const int64_t id = gguf_find_key(ctx, key.c_str());
  if (id < 0) return fallback;
  switch (gguf_get_kv_type(ctx, id)) {
    case GGUF_TYPE_UINT8:
      return gguf_get_val_u8(ctx, id);
    case GGUF_TYPE_INT8:
      return gguf_get_val_i8(ctx, id);
    case GGUF_TYPE_UINT16:
      return gguf_get_val_u16(ctx, id);
    case GGUF_TYPE_INT16:
      return gguf_get_val_i16(ctx, id);
    case GGUF_TYPE_UINT32:
      return gguf_get_val_u32(ctx, id);
    case GGUF_TYPE_INT32:
      return gguf_get_val_i32(ctx, id);
    case GGUF_TYPE_UINT64:
      return static_cast<int64_t>(gguf_get_val_u64(ctx, id));
    case GGUF_TYPE_INT64:
      return gguf_get_val_i64(ctx, id);
    case GGUF_TYPE_ARRAY:  // per-layer values (e.g. head_count_kv): take the largest
      if (gguf_get_arr_type(ctx, id) == GGUF_TYPE_INT32 ||
          gguf_get_arr_type(ctx, id) == GGUF_TYPE_UINT32) {
        const size_t n = gguf_get_arr_n(ctx, id);
        const auto* data = static_cast<const int32_t*>(gguf_get_arr_data(ctx, id));
        int64_t best = fallback;
        for (size_t i = 0; i < n; ++i) best = std::max<int64_t>(best, data[i]);
        return best;
      }
      return fallback;
    default:
      return fallback;
  }
}

int64_t ReadMeminfoKb(const std::string& field) {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream fields(line.substr(field.size() + 1));
    int64_t kb = -1;
    fields >> kb;
    return kb;
  }
  return -1;
}

int64_t ReadNumber(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return -1;
  try {
    return std::stoll(text);
  } catch (...) {
    return -1;
  }
}

}  // namespace

StatusOr<MemoryEstimate> EstimateModelMemory(const ModelConfig& config) {
  struct stat st{};
  if (::stat(config.path.c_str(), &st) != 0) {
    return Status::NotFound("Model '" + config.name + "': file '" + config.path +
                            "' does not exist.");
  }
  gguf_init_params params{};
  params.no_alloc = true;
  params.ctx = nullptr;
  std::unique_ptr<gguf_context, GgufDeleter> ctx(gguf_init_from_file(config.path.c_str(), params));
  const std::string bad = "Model '" + config.name + "': '" + config.path + "' ";
  if (ctx == nullptr) return Status::InvalidArgument(bad + "is not a readable GGUF file.");
  const int64_t file_size = static_cast<int64_t>(st.st_size);
  const int64_t data_offset = static_cast<int64_t>(gguf_get_data_offset(ctx.get()));
  int64_t data_end = data_offset;
  for (int64_t i = 0; i < gguf_get_n_tensors(ctx.get()); ++i) {
    data_end = std::max<int64_t>(
        data_end, data_offset + static_cast<int64_t>(gguf_get_tensor_offset(ctx.get(), i)) +
                      static_cast<int64_t>(gguf_get_tensor_size(ctx.get(), i)));
  }
  if (data_end > file_size) {
    return Status::InvalidArgument(bad + "is cut short: its tensors need " +
                                   std::to_string(data_end) + " bytes, the file has " +
                                   std::to_string(file_size) + ".");
  }
  const int64_t arch_id = gguf_find_key(ctx.get(), "general.architecture");
  if (arch_id < 0 || gguf_get_kv_type(ctx.get(), arch_id) != GGUF_TYPE_STRING) {
    return Status::InvalidArgument(bad + "names no model architecture.");
  }
  const std::string arch = gguf_get_val_str(ctx.get(), arch_id);
  const int64_t n_layer = GetInt(ctx.get(), arch + ".block_count", 0);
  const int64_t n_embd = GetInt(ctx.get(), arch + ".embedding_length", 0);
  const int64_t n_head = std::max<int64_t>(1, GetInt(ctx.get(), arch + ".attention.head_count", 1));
  const int64_t n_head_kv = GetInt(ctx.get(), arch + ".attention.head_count_kv", n_head);
  const int64_t k_len = GetInt(ctx.get(), arch + ".attention.key_length", n_embd / n_head);
  const int64_t v_len = GetInt(ctx.get(), arch + ".attention.value_length", n_embd / n_head);
  const int64_t n_ctx_train = GetInt(ctx.get(), arch + ".context_length", 0);
  int64_t n_vocab = GetInt(ctx.get(), arch + ".vocab_size", 0);
  if (n_vocab == 0) {
    const int64_t tokens = gguf_find_key(ctx.get(), "tokenizer.ggml.tokens");
    if (tokens >= 0) n_vocab = static_cast<int64_t>(gguf_get_arr_n(ctx.get(), tokens));
  }

  const int64_t parallel = std::max(1, config.parallel);
  const int64_t per_slot =
      n_ctx_train > 0 ? std::min<int64_t>(n_ctx_train, kMaxDefaultContext) : kMaxDefaultContext;
  const int64_t n_ctx = config.context_length > 0 ? config.context_length : parallel * per_slot;
  const int64_t n_batch = std::max<int64_t>(std::max(1, config.batch_size), parallel);
  const int64_t n_ubatch = std::min(n_batch, kMaxUbatch);

  MemoryEstimate est;
  est.weights = file_size - data_offset;
  est.kv_cache = n_ctx * n_layer * n_head_kv * (k_len + v_len) * 2;
  // Activations of one micro-batch (a few rows of the embedding width per token), the logits
  // of the outputs of one batch, and a fixed margin.
  est.compute = n_ubatch * (8 * n_embd + n_vocab) * 4 + parallel * n_vocab * 4 + kComputeMargin;
  return est;
}

int64_t SystemAvailableMemory() {
  int64_t available = -1;
  if (int64_t kb = ReadMeminfoKb("MemAvailable"); kb >= 0) available = kb * 1024;
  const int64_t limit = ReadNumber("/sys/fs/cgroup/memory.max");
  const int64_t used = ReadNumber("/sys/fs/cgroup/memory.current");
  if (limit > 0 && used >= 0) {
    const int64_t room = std::max<int64_t>(0, limit - used);
    available = available < 0 ? room : std::min(available, room);
  }
  return available;
}

std::string FormatBytes(int64_t bytes) {
  char out[32];
  const double b = static_cast<double>(bytes);
  if (bytes >= (1ll << 30)) {
    std::snprintf(out, sizeof(out), "%.1f GiB", b / double(1ll << 30));
  } else {
    std::snprintf(out, sizeof(out), "%.1f MiB", b / double(1ll << 20));
  }
  return out;
}

}  // namespace basalt::engine::llm
