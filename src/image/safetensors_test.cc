#include "image/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace basalt::image {
namespace {

namespace fs = std::filesystem;

std::string StTempDir() {
  static int n = 0;
  fs::path dir = fs::path(testing::TempDir()) /
                 ("st_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
  fs::create_directories(dir);
  return dir.string();
}

std::string StReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void StWriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::string F32Bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// A file from a raw header (no validation on the writing side) and a data section.
std::string RawFile(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

void ExpectCorrupt(const std::string& bytes, const std::string& fragment) {
  const std::string path = StTempDir() + "/bad.safetensors";
  StWriteAll(path, bytes);
  auto f = SafetensorsFile::Open(path);
  ASSERT_FALSE(f.ok()) << fragment;
  EXPECT_EQ(f.status().code(), StatusCode::kFailedPrecondition) << f.status().ToString();
  EXPECT_NE(f.status().message().find(path), std::string::npos) << f.status().message();
  EXPECT_NE(f.status().message().find(fragment), std::string::npos) << f.status().message();
}

TEST(SafetensorsTest, RoundTrip) {
  const std::string path = StTempDir() + "/a.safetensors";
  std::vector<TensorToWrite> ts;
  ts.push_back({"b.weight", DType::kF32, {2, 3}, F32Bytes({1, 2, 3, 4, 5, 6})});
  ts.push_back({"a.bias", DType::kF16, {3}, std::string("\x00\x3c\x00\x40\x00\xc0", 6)});
  ts.push_back({"c.scalar", DType::kI64, {}, std::string("\x07\0\0\0\0\0\0\0", 8)});
  ts.push_back({"d.empty", DType::kBF16, {0, 4}, ""});
  ASSERT_TRUE(WriteSafetensors(path, ts, {{"format", "pt"}}).ok());
  // The data section starts 8-byte aligned.
  const std::string raw = StReadAll(path);
  uint64_t hl = 0;
  for (int i = 7; i >= 0; --i) hl = (hl << 8) | static_cast<uint8_t>(raw[i]);
  EXPECT_EQ((8 + hl) % 8, 0u);

  auto f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ((*f)->tensors().size(), 4u);
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  const TensorView* b = (*f)->Find("b.weight");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::kF32);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(b->numel(), 6);
  ASSERT_EQ(b->size_bytes, 24u);
  float v[6];
  std::memcpy(v, b->data, 24);
  EXPECT_EQ(v[0], 1.f);
  EXPECT_EQ(v[5], 6.f);
  const TensorView* a = (*f)->Find("a.bias");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(a->data), 6),
            std::string("\x00\x3c\x00\x40\x00\xc0", 6));
  EXPECT_EQ((*f)->Find("c.scalar")->numel(), 1);
  EXPECT_EQ((*f)->Find("d.empty")->numel(), 0);
  EXPECT_EQ((*f)->Find("nope"), nullptr);
  // No temporary file is left behind.
  int files = 0;
  for (const auto& e : fs::directory_iterator(fs::path(path).parent_path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(SafetensorsTest, WriterRefusesBadInput) {
  const std::string dir = StTempDir();
  EXPECT_EQ(WriteSafetensors(dir + "/x", {{"t", DType::kF32, {2}, "abc"}}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteSafetensors(dir + "/x",
                             {{"t", DType::kF32, {1}, "abcd"}, {"t", DType::kF32, {1}, "abcd"}})
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteSafetensors(dir + "/no/such/dir/x", {}).code(), StatusCode::kFailedPrecondition);
}

TEST(SafetensorsTest, MissingFileIsNotFound) {
  auto f = SafetensorsFile::Open(StTempDir() + "/missing.safetensors");
  EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
}

TEST(SafetensorsTest, EveryCorruptionIsAnError) {
  const std::string good_header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  const std::string data(12, '\x01');
  // Sanity: the well-formed raw file opens.
  {
    const std::string path = StTempDir() + "/ok.safetensors";
    StWriteAll(path, RawFile(good_header, data));
    ASSERT_TRUE(SafetensorsFile::Open(path).ok());
  }
  ExpectCorrupt("", "shorter than the 8-byte header");
  ExpectCorrupt("\x10\0\0", "shorter than the 8-byte header");
  // Truncated: the data section is shorter than the offsets say.
  ExpectCorrupt(RawFile(good_header, data.substr(0, 10)), "outside");
  // Truncated inside the header.
  ExpectCorrupt(RawFile(good_header, data).substr(0, 40), "past the end");
  std::string huge = RawFile(good_header, data);
  huge[6] = '\x01';
  ExpectCorrupt(huge, "not sane");
  ExpectCorrupt(RawFile("{\"a\": [", data), "not a JSON object");
  ExpectCorrupt(RawFile("[1,2]", data), "not a JSON object");
  ExpectCorrupt(RawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                        std::string(8, '\0')),
                "overlaps");
  ExpectCorrupt(RawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})",
                        std::string(16, '\0')),
                "gap");
  ExpectCorrupt(RawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data),
                "not indexed");
  ExpectCorrupt(
      RawFile(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')),
      "needs 12");
  ExpectCorrupt(
      RawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", std::string(8, '\0')),
      "outside");
  ExpectCorrupt(
      RawFile(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')),
      "unknown safetensors dtype 'Q4'");
  ExpectCorrupt(
      RawFile(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", std::string(8, '\0')),
      "negative");
  ExpectCorrupt(
      RawFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-1,8]}})", std::string(8, '\0')),
      "non-negative");
  ExpectCorrupt(RawFile(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],)"
                        R"("data_offsets":[0,8]}})",
                        std::string(8, '\0')),
                "larger than the file");
  ExpectCorrupt(RawFile(R"({"a":{"dtype":"F32","shape":[2]}})", std::string(8, '\0')),
                "data_offsets");
  ExpectCorrupt(RawFile(R"({"__metadata__":{"k":1}})", ""), "__metadata__");
  ExpectCorrupt(RawFile(R"({"a":5})", ""), "not a JSON object");
}

// Every prefix of a valid file is refused cleanly (never a crash or a wild read).
TEST(SafetensorsTest, EveryTruncationIsAnError) {
  const std::string dir = StTempDir();
  const std::string path = dir + "/full.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, {{"w", DType::kF32, {3, 2}, F32Bytes({1, 2, 3, 4, 5, 6})},
                                      {"x", DType::kF16, {1}, "ab"}})
                  .ok());
  const std::string raw = StReadAll(path);
  for (size_t n = 0; n < raw.size(); ++n) {
    StWriteAll(dir + "/cut.safetensors", raw.substr(0, n));
    auto f = SafetensorsFile::Open(dir + "/cut.safetensors");
    ASSERT_FALSE(f.ok()) << n;
    EXPECT_EQ(f.status().code(), StatusCode::kFailedPrecondition) << n;
  }
}

TEST(SafetensorsTest, ReadsRealTaef2Decoder) {
  const std::string path = "/work/shared/models/taef2_decoder.safetensors";
  if (!fs::exists(path)) GTEST_SKIP() << path << " not present";
  auto f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->tensors().size(), 79u);
  for (const auto& t : (*f)->tensors()) EXPECT_EQ(t.dtype, DType::kF16) << t.name;
  const TensorView* w = (*f)->Find("1.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{64, 32, 3, 3}));
}

bool PythonHasSafetensors() {
  return std::system("python3 -c 'import safetensors.numpy, numpy' >/dev/null 2>&1") == 0;
}

// The reference Python library reads what we write and we read what it writes.
TEST(SafetensorsTest, AgreesWithPythonSafetensors) {
  if (!PythonHasSafetensors()) GTEST_SKIP() << "python3-safetensors not importable";
  const std::string dir = StTempDir();
  const std::string ours = dir + "/ours.safetensors";
  const std::string theirs = dir + "/theirs.safetensors";
  ASSERT_TRUE(WriteSafetensors(ours,
                               {{"w", DType::kF32, {2, 2}, F32Bytes({1.5f, -2, 3, 4})},
                                {"h", DType::kF16, {3}, std::string("\x00\x3c\x00\x40\x00\xc0", 6)},
                                {"i", DType::kI32, {1}, std::string("\x2a\0\0\0", 4)}},
                               {{"format", "pt"}})
                  .ok());
  const std::string script = dir + "/check.py";
  StWriteAll(script, R"PY(
import sys, numpy as np
from safetensors.numpy import load_file, save_file
from safetensors import safe_open
ours, theirs = sys.argv[1], sys.argv[2]
d = load_file(ours)
assert sorted(d) == ['h', 'i', 'w'], sorted(d)
assert d['w'].dtype == np.float32 and d['w'].tolist() == [[1.5, -2.0], [3.0, 4.0]], d['w']
assert d['h'].dtype == np.float16 and d['h'].tolist() == [1.0, 2.0, -2.0], d['h']
assert d['i'].dtype == np.int32 and d['i'].tolist() == [42]
with safe_open(ours, 'np') as f:
    assert f.metadata() == {'format': 'pt'}, f.metadata()
save_file({'z.weight': np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5,
           'a.half': np.array([0.25, -8], dtype=np.float16),
           'm.u8': np.array([[7]], dtype=np.uint8),
           'm.f64': np.array([3.25], dtype=np.float64)}, theirs, metadata={'who': 'python'})
)PY");
  ASSERT_EQ(std::system(("python3 " + script + " " + ours + " " + theirs).c_str()), 0);
  auto f = SafetensorsFile::Open(theirs);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->metadata().at("who"), "python");
  const TensorView* z = (*f)->Find("z.weight");
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(z->dtype, DType::kF32);
  EXPECT_EQ(z->shape, (std::vector<int64_t>{2, 3}));
  float zv[6];
  std::memcpy(zv, z->data, sizeof(zv));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(zv[i], 0.5f * i);
  const TensorView* a = (*f)->Find("a.half");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, DType::kF16);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(a->data), 4),
            std::string("\x00\x34\x00\xc8", 4));
  EXPECT_EQ((*f)->Find("m.u8")->dtype, DType::kU8);
  EXPECT_EQ((*f)->Find("m.u8")->shape, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ((*f)->Find("m.u8")->data[0], 7);
  double dv;
  std::memcpy(&dv, (*f)->Find("m.f64")->data, 8);
  EXPECT_EQ(dv, 3.25);
}

}  // namespace
}  // namespace basalt::image
