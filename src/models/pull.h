// Downloads GGUF weights from a Hugging Face-style server:
//   GET {base_url}/{repo}/resolve/{revision}/{file}
// with resume (HTTP Range onto a ".part" file), a progress bar, and SHA-256 verification
// (the expected digest comes from --sha256, or from the server's X-Linked-ETag / ETag when it
// is a 64-hex SHA-256, as Hugging Face sends for LFS files).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"

namespace basalt::models {

struct PullOptions {
  std::string base_url = "https://huggingface.co";  // http:// or https://
  std::string repo;                                 // e.g. "Qwen/Qwen2.5-0.5B-Instruct-GGUF"
  std::string file;                                 // e.g. "qwen2.5-0.5b-instruct-q4_k_m.gguf"
  std::string revision = "main";
  std::string dest_dir;         // final file: dest_dir/file
  std::string expected_sha256;  // optional, lower-case hex
  std::string token;            // optional bearer token (HF_TOKEN)
  bool progress = true;         // progress bar on stderr
  int max_redirects = 5;
  // Called from the pulling thread with the bytes on disk and the total (0 while unknown),
  // at most every 100 ms and once when the body is complete (the console's progress bar).
  std::function<void(uint64_t done, uint64_t total)> on_progress;
  // Checked between chunks: when it reads true the pull stops with kCancelled and keeps the
  // .part file, so the next pull resumes.
  const std::atomic<bool>* cancel = nullptr;
};

struct PullResult {
  std::string path;
  uint64_t bytes = 0;
  std::string sha256;
  bool resumed = false;
};

// Returns kInvalidArgument for a bad URL, kNotFound for 404, kUnavailable for network
// failures (the .part file is kept for resume), kFailedPrecondition for a checksum mismatch
// (the .part file is removed).
StatusOr<PullResult> PullModel(const PullOptions& options);

}  // namespace basalt::models
