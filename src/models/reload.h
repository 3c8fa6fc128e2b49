// Model changes on a running server: re-reads the catalog file and the models folders and
// applies the difference to the engine and the served catalog (docs/catalog.md, "Changing
// models without a restart").
//
// A reload runs on SIGHUP, on POST /basalt/models/reload, after a weight pull, and, with the
// watch on, when the catalog file or a GGUF in a models folder changes (inotify, debounced).
// For each engine model of the new catalog:
//   - a name not served yet is added (it loads on first use);
//   - a served name whose settings, path or file identity (device, inode, size, mtime)
//     changed is replaced: the new file loads beside the old one, then new requests go to
//     it while the old one drains and unloads;
//   - a served name no longer in the catalog is removed after the catalog stops listing it:
//     its in-flight requests finish, then it unloads.
// A model whose new file cannot be used (still being copied, cut short, not a GGUF model, not
// enough memory) is reported with its error; a replaced one keeps serving its old file, a new
// one stays out of the served catalog until a later reload succeeds.
//
// Thread-safety: Reload() may be called from any thread; reloads run one at a time.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "engine/engine.h"

namespace basalt::models {

struct ModelReloadError {
  std::string model;  // engine model name (the catalog's primary model id)
  std::string message;
};

struct ModelReloadReport {
  std::vector<std::string> added, replaced, removed, unchanged;
  std::vector<ModelReloadError> errors;
  int64_t sequence = 0;  // 1 for the first reload of this server, then counting up
};

struct ReloadOptions {
  std::string catalog_path;
  catalog::LoadOptions load;
  // The engine models a catalog asks for (one per primary model, with the server's defaults).
  std::function<std::vector<engine::ModelConfig>(const catalog::Catalog&)> engine_models;
};

class ModelReloader {
 public:
  // `engine` and `catalog` must outlive the reloader. The engine's current models are taken
  // as the starting point (their files' identities are read now).
  ModelReloader(ReloadOptions options, engine::Engine* engine, catalog::LiveCatalog* catalog);
  ~ModelReloader();

  // Applies the catalog file and the models folders as they are now. Returns
  // kInvalidArgument when the catalog file does not parse (nothing changes then); errors of
  // single models are in the report.
  StatusOr<ModelReloadReport> Reload();

  // Watches the catalog file and the models folders and reloads once they have been quiet
  // for `debounce`. kInternal when inotify is unavailable.
  Status StartWatch(std::chrono::milliseconds debounce);
  void StopWatch();

 private:
  struct FileId {
    uint64_t dev = 0, ino = 0;
    int64_t size = -1, mtime_ns = 0;
    bool operator==(const FileId&) const = default;
  };
  static FileId Identify(const std::string& path);
  void Watch(std::chrono::milliseconds debounce);

  const ReloadOptions options_;
  engine::Engine* const engine_;
  catalog::LiveCatalog* const catalog_;
  std::mutex mu_;                        // one reload at a time
  std::map<std::string, FileId> files_;  // engine model -> identity of the file it serves
  int64_t sequence_ = 0;

  int inotify_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::thread watcher_;
};

}  // namespace basalt::models
