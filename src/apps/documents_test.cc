#include "apps/documents.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

namespace basalt::apps {
namespace {

namespace fs = std::filesystem;

// A one-page PDF 1.4 with the lines in a Helvetica text object, written by hand: the xref
// table's offsets are computed here, so pdftotext reads it without repairing anything.
std::string MakePdf(std::initializer_list<const char*> lines) {
  std::string content = "BT /F1 18 Tf 72 720 Td 22 TL";
  for (const char* line : lines) content += std::string(" (") + line + ") '";
  content += " ET";
  const std::vector<std::string> objects = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
      "/Resources << /Font << /F1 5 0 R >> >> >>",
      "<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "\nendstream",
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  };
  std::string pdf = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t off : offsets) {
    char entry[32];
    std::snprintf(entry, sizeof(entry), "%010zu 00000 n \n", off);
    pdf += entry;  // each entry is exactly 20 bytes
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) +
         " /Root 1 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

class DocumentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("basalt_documents_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "tmp");
    options_.temp_dir = (dir_ / "tmp").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // An executable shell script standing in for pdftotext.
  std::string Script(const std::string& name, const std::string& body) {
    fs::path p = dir_ / name;
    std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(p, fs::perms::owner_all);
    return p.string();
  }
  // The private temporary directories are all gone.
  void ExpectTempDirEmpty() {
    EXPECT_TRUE(fs::is_empty(dir_ / "tmp")) << "a temporary file was left behind";
  }

  fs::path dir_;
  DocumentOptions options_;
};

TEST_F(DocumentsTest, PlainTextAndMarkdown) {
  auto text = ExtractDocumentText("text/plain", "Jeju is an island.\n제주도\n", options_);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "Jeju is an island.\n제주도\n");
  auto md = ExtractDocument("Text/Markdown; charset=UTF-8", "# Title\n\n*bold*", options_);
  ASSERT_TRUE(md.ok());
  EXPECT_EQ(md->text, "# Title\n\n*bold*");
  EXPECT_EQ(md->chars, 15);
  EXPECT_FALSE(md->truncated);
  // A byte order mark is dropped.
  auto bom = ExtractDocumentText("text/plain", "\xEF\xBB\xBFhello", options_);
  ASSERT_TRUE(bom.ok());
  EXPECT_EQ(*bom, "hello");
  EXPECT_EQ(CanonicalMediaType(" APPLICATION/PDF ;x=y"), "application/pdf");
}

TEST_F(DocumentsTest, InvalidTextRefused) {
  for (std::string bad : {std::string("caf\xE9"), std::string("a\xC0\xAF"),  // Latin-1, overlong
                          std::string("\xED\xA0\x80"),                       // a surrogate
                          std::string("\xF4\x90\x80\x80"),                   // above U+10FFFF
                          std::string("cut \xE2\x82")}) {                    // truncated
    auto r = ExtractDocumentText("text/plain", bad, options_);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("not UTF-8"), std::string::npos) << r.status().message();
  }
  auto nul = ExtractDocumentText("text/markdown", std::string("a\0b", 3), options_);
  EXPECT_EQ(nul.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(nul.status().message().find("NUL"), std::string::npos);
  auto type = ExtractDocumentText("image/png", "\x89PNG", options_);
  EXPECT_EQ(type.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(type.status().message().find("image/png"), std::string::npos);
}

TEST_F(DocumentsTest, OversizedInputNamesTheLimit) {
  options_.max_input_bytes = 1 << 10;
  EXPECT_TRUE(ExtractDocumentText("text/plain", std::string(1024, 'a'), options_).ok());
  auto r = ExtractDocumentText("text/plain", std::string(1025, 'a'), options_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("1 KiB"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("1025"), std::string::npos);
  // PDFs too, before any child process runs.
  options_.pdftotext = Script("never", "exit 99");
  auto pdf = ExtractDocumentText("application/pdf", "%PDF-" + std::string(2000, 'x'), options_);
  EXPECT_EQ(pdf.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(pdf.status().message().find("limit"), std::string::npos);
}

TEST_F(DocumentsTest, OutputTruncatedAndSaidSo) {
  options_.max_output_chars = 5;
  auto r = ExtractDocument("text/plain", "가나다라마바사", options_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->text, "가나다라마");  // code points, not bytes
  EXPECT_EQ(r->chars, 5);
  EXPECT_TRUE(r->truncated);
  auto text = ExtractDocumentText("text/plain", "abcdefgh", options_);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->substr(0, 5), "abcde");
  EXPECT_NE(text->find("first 5 characters"), std::string::npos) << *text;
  EXPECT_EQ(*ExtractDocumentText("text/plain", "abcde", options_), "abcde");
}

TEST_F(DocumentsTest, PdfTextExtracted) {
  const std::string pdf = MakePdf({"Hello from Basalt", "Second line"});
  auto r = ExtractDocument("application/pdf", pdf, options_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "Hello from Basalt\nSecond line");
  EXPECT_FALSE(r->truncated);
  ExpectTempDirEmpty();

  options_.max_output_chars = 8;
  auto cut = ExtractDocumentText("application/pdf", pdf, options_);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->substr(0, 8), "Hello fr");
  EXPECT_NE(cut->find("first 8 characters"), std::string::npos);
  ExpectTempDirEmpty();
}

TEST_F(DocumentsTest, DamagedPdfsRefused) {
  const std::string pdf = MakePdf({"Hello from Basalt"});
  std::string garbage = "%PDF-1.7\n";
  for (int i = 0; i < 5000; ++i) garbage.push_back(static_cast<char>((i * 7919) % 251));
  for (const std::string& bad : {pdf.substr(0, pdf.size() / 2), garbage}) {
    auto r = ExtractDocumentText("application/pdf", bad, options_);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), "The PDF could not be read: it may be damaged or encrypted.");
  }
  auto not_pdf = ExtractDocumentText("application/pdf", "hello, I am text", options_);
  EXPECT_EQ(not_pdf.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(not_pdf.status().message().find("%PDF-"), std::string::npos);
  ExpectTempDirEmpty();
}

TEST_F(DocumentsTest, MissingPdftotextIsUnavailable) {
  const std::string pdf = MakePdf({"Hello"});
  options_.pdftotext = (dir_ / "no" / "pdftotext").string();
  auto r = ExtractDocumentText("application/pdf", pdf, options_);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("poppler-utils"), std::string::npos) << r.status().message();
  options_.pdftotext = "basalt-no-such-pdftotext";
  r = ExtractDocumentText("application/pdf", pdf, options_);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("basalt-no-such-pdftotext"), std::string::npos);
  // Text needs no pdftotext.
  EXPECT_TRUE(ExtractDocumentText("text/plain", "fine", options_).ok());
}

TEST_F(DocumentsTest, ChildKilledAtTheDeadline) {
  // A parser that hangs: killed at the deadline, reported as an unreadable PDF.
  options_.pdftotext = Script("hang", "exec sleep 30");
  options_.timeout_ms = 300;
  auto start = std::chrono::steady_clock::now();
  auto r = ExtractDocumentText("application/pdf", MakePdf({"x"}), options_);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("could not be read"), std::string::npos);
  EXPECT_LT(took, std::chrono::seconds(20));  // not the child's 30 s (a bound, not a timing)
  ExpectTempDirEmpty();
}

TEST_F(DocumentsTest, ChildCrashOrLimitsAreContained) {
  // A parser that crashes: the server only sees a failed child.
  options_.pdftotext = Script("crash", "kill -SEGV $$");
  auto crashed = ExtractDocumentText("application/pdf", MakePdf({"x"}), options_);
  EXPECT_EQ(crashed.status().code(), StatusCode::kInvalidArgument);
  // The child runs under the address-space and CPU limits.
  options_.pdftotext = Script("limits", "ulimit -v; ulimit -t");
  options_.memory_limit_bytes = int64_t{256} << 20;
  options_.cpu_limit_seconds = 7;
  auto limits = ExtractDocument("application/pdf", MakePdf({"x"}), options_);
  ASSERT_TRUE(limits.ok()) << limits.status().ToString();
  EXPECT_EQ(limits->text, "262144\n7");
  // A parser that writes without end: stdout is capped, the child stopped, the text cut.
  options_.pdftotext = Script("flood", "exec yes 'lots of text'");
  options_.max_output_chars = 100;
  auto flood = ExtractDocument("application/pdf", MakePdf({"x"}), options_);
  ASSERT_TRUE(flood.ok()) << flood.status().ToString();
  EXPECT_TRUE(flood->truncated);
  EXPECT_EQ(flood->chars, 100);
  // The child sees the PDF in its private directory, and nothing of the server's.
  options_.max_output_chars = 1000;
  options_.pdftotext = Script("probe", "stat -c %a \"$(dirname \"$4\")\"; stat -c %a \"$4\"");
  auto probe = ExtractDocument("application/pdf", MakePdf({"x"}), options_);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  EXPECT_EQ(probe->text, "700\n600");
  ExpectTempDirEmpty();
}

}  // namespace
}  // namespace basalt::apps
