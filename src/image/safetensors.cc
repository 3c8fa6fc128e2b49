#include "image/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

namespace basalt::image {

namespace {

// The Python library refuses headers over 100 MB; a real checkpoint's header is well under 1 MB.
constexpr uint64_t kMaxSafetensorsHeader = 100ull << 20;

Status SafetensorsError(const std::string& path, const std::string& what) {
  return Status::FailedPrecondition("safetensors file '" + path + "': " + what);
}

struct SafetensorsFd {
  int fd = -1;
  ~SafetensorsFd() {
    if (fd >= 0) ::close(fd);
  }
};

bool WriteAllToFd(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

StatusOr<DType> ParseDType(const std::string& name) {
  static const std::pair<const char*, DType> kNames[] = {
      {"F64", DType::kF64}, {"F32", DType::kF32},  {"F16", DType::kF16}, {"BF16", DType::kBF16},
      {"I64", DType::kI64}, {"I32", DType::kI32},  {"I16", DType::kI16}, {"I8", DType::kI8},
      {"U8", DType::kU8},   {"BOOL", DType::kBool}};
  for (const auto& [n, d] : kNames) {
    if (name == n) return d;
  }
  return Status::InvalidArgument("unknown safetensors dtype '" + name + "'");
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF64:
      return "F64";
    case DType::kF32:
      return "F32";
    case DType::kF16:
      return "F16";
    case DType::kBF16:
      return "BF16";
    case DType::kI64:
      return "I64";
    case DType::kI32:
      return "I32";
    case DType::kI16:
      return "I16";
    case DType::kI8:
      return "I8";
    case DType::kU8:
      return "U8";
    case DType::kBool:
      return "BOOL";
  }
  return "?";
}

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF64:
    case DType::kI64:
      return 8;
    case DType::kF32:
    case DType::kI32:
      return 4;
    case DType::kF16:
    case DType::kBF16:
    case DType::kI16:
      return 2;
    case DType::kI8:
    case DType::kU8:
    case DType::kBool:
      return 1;
  }
  return 0;
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  SafetensorsFd fd;
  fd.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd.fd < 0) {
    if (errno == ENOENT) return Status::NotFound("safetensors file '" + path + "' not found");
    return SafetensorsError(path, std::string("cannot open: ") + std::strerror(errno));
  }
  struct stat st{};
  if (::fstat(fd.fd, &st) != 0) return SafetensorsError(path, "cannot stat");
  if (!S_ISREG(st.st_mode)) return SafetensorsError(path, "not a regular file");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) return SafetensorsError(path, "truncated: shorter than the 8-byte header");

  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  // Copy-on-write: a stray in-place write to a weight changes a private page, never the file.
  void* map = ::mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.fd, 0);
  if (map == MAP_FAILED) return SafetensorsError(path, std::string("mmap: ") + strerror(errno));
  file->map_ = map;
  file->map_size_ = file_size;
  const auto* bytes = static_cast<const uint8_t*>(map);

  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > kMaxSafetensorsHeader) {
    return SafetensorsError(
        path, "header length " + std::to_string(header_len) + " is not sane (over 100 MB)");
  }
  if (header_len > file_size - 8) {
    return SafetensorsError(path, "truncated: header length " + std::to_string(header_len) +
                                      " runs past the end of the " + std::to_string(file_size) +
                                      "-byte file");
  }
  const std::string_view header(reinterpret_cast<const char*>(bytes + 8), header_len);
  nlohmann::json j = nlohmann::json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return SafetensorsError(path, "the header is not a JSON object");
  }
  const uint8_t* data = bytes + 8 + header_len;
  const uint64_t data_size = file_size - 8 - header_len;

  struct Range {
    uint64_t begin, end;
    size_t index;
  };
  std::vector<Range> ranges;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) return SafetensorsError(path, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) {
          return SafetensorsError(path, "__metadata__ value '" + m.key() + "' is not a string");
        }
        file->metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    if (!v.is_object()) return SafetensorsError(path, where + " is not a JSON object");
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) return SafetensorsError(path, where + ": no dtype");
    if (sh == v.end() || !sh->is_array()) return SafetensorsError(path, where + ": no shape");
    if (off == v.end() || !off->is_array() || off->size() != 2) {
      return SafetensorsError(path, where + ": data_offsets is not [begin, end]");
    }
    TensorView t;
    t.name = name;
    auto dtype = ParseDType(dt->get<std::string>());
    if (!dtype.ok()) return SafetensorsError(path, where + ": " + dtype.status().message());
    t.dtype = *dtype;
    uint64_t numel = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned()) {
        return SafetensorsError(path, where + ": shape has a negative or non-integer dimension");
      }
      const uint64_t dim = d.get<uint64_t>();
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (dim != 0 && numel > file_size / dim)) {
        return SafetensorsError(path, where + ": shape is larger than the file");
      }
      numel *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    if (!(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned()) {
      return SafetensorsError(path, where + ": data_offsets are not non-negative integers");
    }
    const uint64_t begin = (*off)[0].get<uint64_t>();
    const uint64_t end = (*off)[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      return SafetensorsError(path, where + ": byte range [" + std::to_string(begin) + ", " +
                                        std::to_string(end) + ") is outside the " +
                                        std::to_string(data_size) + "-byte data section" +
                                        (end > data_size ? " (truncated file?)" : ""));
    }
    const uint64_t expected = numel * DTypeSize(t.dtype);
    if (end - begin != expected) {
      return SafetensorsError(path, where + ": " + std::to_string(end - begin) +
                                        " bytes for a shape that needs " +
                                        std::to_string(expected));
    }
    t.data = data + begin;
    t.size_bytes = end - begin;
    ranges.push_back({begin, end, file->tensors_.size()});
    file->tensors_.push_back(std::move(t));
  }
  // As the format requires (and the reference library checks): the tensors tile the data
  // section exactly, with no overlap and no hole.
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t pos = 0;
  for (const Range& r : ranges) {
    const std::string& name = file->tensors_[r.index].name;
    if (r.begin < pos) {
      return SafetensorsError(path, "tensor '" + name + "' overlaps the tensor before it");
    }
    if (r.begin > pos) {
      return SafetensorsError(path, "tensor '" + name + "' leaves a gap in the data section");
    }
    pos = r.end;
  }
  if (pos != data_size) {
    return SafetensorsError(
        path, std::to_string(data_size - pos) + " bytes after the last tensor are not indexed");
  }
  for (size_t i = 0; i < file->tensors_.size(); ++i) file->by_name_[file->tensors_[i].name] = i;
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

const TensorView* SafetensorsFile::Find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorToWrite*> order;
  for (const auto& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const TensorToWrite* a, const TensorToWrite* b) { return a->name < b->name; });
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    const TensorToWrite& t = *order[i];
    if (t.name.empty() || t.name == "__metadata__") {
      return Status::InvalidArgument("safetensors: invalid tensor name '" + t.name + "'");
    }
    if (i > 0 && order[i - 1]->name == t.name) {
      return Status::InvalidArgument("safetensors: duplicate tensor name '" + t.name + "'");
    }
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) return Status::InvalidArgument("safetensors: negative dimension in " + t.name);
      numel *= static_cast<uint64_t>(d);
    }
    if (numel * DTypeSize(t.dtype) != t.data.size()) {
      return Status::InvalidArgument("safetensors: tensor '" + t.name + "' has " +
                                     std::to_string(t.data.size()) + " bytes, its shape needs " +
                                     std::to_string(numel * DTypeSize(t.dtype)));
    }
    header[t.name] = {{"dtype", DTypeName(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string h = header.dump();
  // The data section starts 8-byte aligned (the format pads the header with spaces).
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');
  char len[8];
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);

  static std::atomic<uint64_t> counter{0};
  const std::string tmp =
      path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  SafetensorsFd fd;
  fd.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd.fd < 0) {
    return Status::FailedPrecondition("cannot create '" + tmp + "': " + std::strerror(errno));
  }
  bool ok = WriteAllToFd(fd.fd, len, 8) && WriteAllToFd(fd.fd, h.data(), h.size());
  for (const TensorToWrite* t : order) {
    if (ok) ok = WriteAllToFd(fd.fd, t->data.data(), t->data.size());
  }
  if (ok) ok = ::fsync(fd.fd) == 0;
  const int err = errno;
  ::close(fd.fd);
  fd.fd = -1;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = ok ? errno : err;
    ::unlink(tmp.c_str());
    return Status::FailedPrecondition("cannot write '" + path + "': " + std::strerror(e));
  }
  return Status::Ok();
}

}  // namespace basalt::image
