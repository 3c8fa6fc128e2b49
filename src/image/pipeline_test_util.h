// Helpers for image_pipeline_test (sampler, pipeline and engine tests): run a Python reference
// (tests/image/ref/run.py), move tensors through safetensors files, make tiny random models with
// basalt-image-tool.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "image/safetensors.h"

namespace basalt::image::testing {

inline std::string SourceDir() {
  if (const char* d = std::getenv("BASALT_SOURCE_DIR")) return d;
  std::filesystem::path p = std::filesystem::current_path();
  while (!p.empty() && p != p.root_path()) {
    if (std::filesystem::exists(p / "tests/image/ref/run.py")) return p.string();
    p = p.parent_path();
  }
  return ".";
}

inline std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a command, returning its exit status and appending its output to *output.
inline int RunCommand(const std::string& cmd, std::string* output) {
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (!f) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) output->append(buf, n);
  return pclose(f);
}

inline bool PythonHasTorch() {
  static const bool ok = [] {
    std::string out;
    return RunCommand("python3 -c 'import torch, safetensors, numpy'", &out) == 0;
  }();
  return ok;
}

// python3 tests/image/ref/run.py <args>; fails the test with the script's output otherwise.
inline bool RunRef(const std::string& args) {
  std::string out;
  const int rc = RunCommand(
      "cd " + ShellQuote(SourceDir()) + " && python3 tests/image/ref/run.py " + args, &out);
  EXPECT_EQ(rc, 0) << "run.py " << args << "\n" << out;
  return rc == 0;
}

inline std::map<std::string, at::Tensor> ReadTensors(const std::string& path) {
  std::map<std::string, at::Tensor> out;
  auto file = SafetensorsFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  if (!file.ok()) return out;
  for (const TensorView& v : (*file)->tensors()) {
    at::ScalarType type = at::kFloat;
    switch (v.dtype) {
      case DType::kF64:
        type = at::kDouble;
        break;
      case DType::kF32:
        type = at::kFloat;
        break;
      case DType::kI64:
        type = at::kLong;
        break;
      case DType::kU8:
        type = at::kByte;
        break;
      default:
        ADD_FAILURE() << "unexpected dtype of " << v.name;
        continue;
    }
    at::Tensor t = at::empty(v.shape, at::TensorOptions(type));
    std::memcpy(t.data_ptr(), v.data, v.size_bytes);
    out[v.name] = t;
  }
  return out;
}

inline void WriteTensors(const std::string& path, const std::map<std::string, at::Tensor>& m) {
  std::vector<TensorToWrite> list;
  for (const auto& [name, tensor] : m) {
    at::Tensor t = tensor.contiguous();
    TensorToWrite w;
    w.name = name;
    switch (t.scalar_type()) {
      case at::kDouble:
        w.dtype = DType::kF64;
        break;
      case at::kLong:
        w.dtype = DType::kI64;
        break;
      default:
        t = t.to(at::kFloat);
        w.dtype = DType::kF32;
    }
    w.shape = t.sizes().vec();
    w.data.assign(static_cast<const char*>(t.data_ptr()), t.nbytes());
    list.push_back(std::move(w));
  }
  const Status st = WriteSafetensors(path, list);
  ASSERT_TRUE(st.ok()) << st.ToString();
}

inline std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::filesystem::path p = std::filesystem::path(base ? base : "/tmp") /
                            ("basalt_image_" + name + "_" + std::to_string(getpid()));
  std::filesystem::create_directories(p);
  return p.string();
}

// Relative L2 error |a - b| / |b|.
inline double RelL2(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor ad = a.to(at::kDouble), bd = b.to(at::kDouble);
  return (ad - bd).norm().item<double>() / std::max(bd.norm().item<double>(), 1e-30);
}

// basalt-image-tool make-random ...; returns the output path ("" on failure, test failed).
inline std::string MakeRandomModel(const std::string& variant, const std::string& layout,
                                   const std::string& out, int seed = 1) {
  const char* tool = std::getenv("BASALT_IMAGE_TOOL");
  if (!tool) {
    ADD_FAILURE() << "BASALT_IMAGE_TOOL is not set";
    return "";
  }
  std::string log;
  const int rc = RunCommand(ShellQuote(tool) + " make-random --variant " + variant +
                                " --shape tiny --layout " + layout + " --dtype f32 --seed " +
                                std::to_string(seed) + " --out " + ShellQuote(out),
                            &log);
  EXPECT_EQ(rc, 0) << log;
  return rc == 0 ? out : "";
}

}  // namespace basalt::image::testing
