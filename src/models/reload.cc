#include "models/reload.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>

namespace basalt::models {
namespace {

namespace fs = std::filesystem;

bool SameSettings(const engine::ModelConfig& a, const engine::ModelConfig& b) {
  return a.path == b.path && a.context_length == b.context_length && a.parallel == b.parallel &&
         a.threads == b.threads && a.batch_size == b.batch_size && a.max_queue == b.max_queue &&
         a.use_mmap == b.use_mmap;
}

}  // namespace

ModelReloader::ModelReloader(ReloadOptions options, engine::Engine* engine,
                             catalog::LiveCatalog* catalog)
    : options_(std::move(options)), engine_(engine), catalog_(catalog) {
  for (const auto& mc : engine_->Models()) files_[mc.name] = Identify(mc.path);
}

ModelReloader::~ModelReloader() { StopWatch(); }

ModelReloader::FileId ModelReloader::Identify(const std::string& path) {
  FileId id;
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return id;
  id.dev = st.st_dev;
  id.ino = st.st_ino;
  id.size = st.st_size;
  id.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return id;
}

StatusOr<ModelReloadReport> ModelReloader::Reload() {
  std::lock_guard<std::mutex> lock(mu_);
  auto next = catalog::Catalog::LoadOrCreate(options_.catalog_path, options_.load);
  if (!next.ok()) {
    spdlog::error("model reload: {}; still serving the previous catalog", next.status().message());
    return next.status();
  }
  ModelReloadReport report;
  report.sequence = ++sequence_;
  std::map<std::string, engine::ModelConfig> current;
  for (auto& mc : engine_->Models()) current[mc.name] = mc;
  std::set<std::string> wanted, failed;
  for (const engine::ModelConfig& mc : options_.engine_models(**next)) {
    wanted.insert(mc.name);
    const FileId id = Identify(mc.path);
    auto it = current.find(mc.name);
    Status st;
    if (it == current.end()) {
      st = engine_->AddModel(mc);
      if (st.ok()) report.added.push_back(mc.name);
    } else if (!SameSettings(it->second, mc) || files_[mc.name] != id) {
      st = engine_->ReplaceModel(mc);
      if (st.ok()) report.replaced.push_back(mc.name);
    } else {
      report.unchanged.push_back(mc.name);
      continue;
    }
    if (st.ok()) {
      files_[mc.name] = id;
      spdlog::info("model reload: {} {} from {}", it == current.end() ? "serving" : "replaced",
                   mc.name, mc.path);
    } else {
      spdlog::error("model reload: {}: {}{}", mc.name, st.message(),
                    it == current.end() ? "" : "; the previous file keeps serving");
      report.errors.push_back({mc.name, st.message()});
      if (it == current.end()) failed.insert(mc.name);
    }
  }
  // New requests stop finding removed models before they drain.
  catalog_->Replace(failed.empty() ? *next : (*next)->Without(failed));
  for (const auto& [name, mc] : current) {
    if (wanted.count(name) != 0) continue;
    Status st = engine_->RemoveModel(name);
    if (st.ok()) {
      report.removed.push_back(name);
      files_.erase(name);
      spdlog::info("model reload: {} removed from the catalog; it drains, then unloads", name);
    } else {
      report.errors.push_back({name, st.message()});
    }
  }
  return report;
}

Status ModelReloader::StartWatch(std::chrono::milliseconds debounce) {
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) return Status::Internal("inotify is unavailable; no model watch");
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) return Status::Internal("cannot make a pipe");
  const uint32_t mask =
      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_MODIFY | IN_ATTRIB;
  std::set<std::string> dirs;
  dirs.insert(fs::absolute(options_.catalog_path).parent_path().string());
  for (const auto& d : options_.load.models_dirs) dirs.insert(fs::absolute(d).string());
  for (const auto& d : dirs) {
    if (::inotify_add_watch(inotify_fd_, d.c_str(), mask) < 0) {
      spdlog::warn("model watch: cannot watch {}", d);
    }
  }
  watcher_ = std::thread([this, debounce] { Watch(debounce); });
  spdlog::info("watching {} and the models folders for model changes", options_.catalog_path);
  return Status::Ok();
}

void ModelReloader::StopWatch() {
  if (watcher_.joinable()) {
    const char c = 0;
    (void)!::write(stop_pipe_[1], &c, 1);
    watcher_.join();
  }
  for (int* fd : {&inotify_fd_, &stop_pipe_[0], &stop_pipe_[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

// Events for the catalog file (by name: editors write a new file and rename it over) and for
// *.gguf files mark the folders dirty; a reload runs once nothing changed for `debounce`, so
// a file being copied is picked up when its writes stop.
void ModelReloader::Watch(std::chrono::milliseconds debounce) {
  using Clock = std::chrono::steady_clock;
  const std::string catalog_name = fs::path(options_.catalog_path).filename().string();
  bool dirty = false;
  Clock::time_point last_change;  // of a relevant file; other files (logs, databases) do not
                                  // delay the reload
  alignas(inotify_event) char buf[16 * 1024];
  while (true) {
    int timeout_ms = -1;
    if (dirty) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          last_change + debounce - Clock::now());
      timeout_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    const int n = timeout_ms == 0 ? 0 : ::poll(fds, 2, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (fds[1].revents & POLLIN) != 0) return;
    if (n == 0) {  // the relevant files were quiet for `debounce`
      dirty = false;
      auto report = Reload();
      if (report.ok() && (!report->added.empty() || !report->replaced.empty() ||
                          !report->removed.empty() || !report->errors.empty())) {
        spdlog::info("model watch: reload {}: {} added, {} replaced, {} removed, {} errors",
                     report->sequence, report->added.size(), report->replaced.size(),
                     report->removed.size(), report->errors.size());
      }
      continue;
    }
    const ssize_t len = ::read(inotify_fd_, buf, sizeof(buf));
    for (ssize_t off = 0; len > 0 && off < len;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if (ev->len == 0) continue;
      const std::string name = ev->name;
      if (name == catalog_name || name.ends_with(".gguf")) {
        dirty = true;
        last_change = Clock::now();
      }
    }
  }
}

}  // namespace basalt::models
