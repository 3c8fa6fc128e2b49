#include "image/tokenizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace basalt::image {
namespace {

namespace fs = std::filesystem;

std::string TkTempDir() {
  static int n = 0;
  fs::path dir = fs::path(testing::TempDir()) /
                 ("tok_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
  fs::create_directories(dir);
  return dir.string();
}

void TkWrite(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string TkSourceDir() {
  const char* root = std::getenv("BASALT_SOURCE_DIR");
  return root ? root : ".";
}

std::vector<std::string> TkTexts() {
  std::vector<std::string> t = {
      "a photo of an astronaut riding a horse on the moon",
      "A Photo Of An ASTRONAUT",
      "  leading and   trailing\t\nspaces  ",
      "",
      "Hello, World!! What's up? I'm fine; you'll see... they've we're he'd it's don't",
      "numbers 12345 and 3.14 and 1,000,000 and ²³ ½",
      "punctuation: (parens) [brackets] {braces} <angle> \"quotes\" 'single' #hash @at $5 %",
      "한국어 프롬프트: 달 위에서 말을 타는 우주비행사",
      "日本語のプロンプト、東京タワー",
      "中文提示词：一只猫",
      "Русский текст: кошка на Луне",
      "Ελληνικά ΚΕΙΜΕΝΟ",
      "emoji 🐱🚀✨ café naïve Ångström façade",
      "e\xcc\x81 combining accent and Hangul jamo \xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab",
      "<|startoftext|>special<|endoftext|> tokens in text",
      "tabs\tand\r\nnewlines\u2003em space\u3000ideographic space",
      "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ １２３",
      "mixed123abc456 x2 4k 8k ultra-detailed, trending on artstation",
      "''s 's 'S ' s don''t",
  };
  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += "beautiful detailed landscape painting, ";
  t.push_back(long_prompt);
  return t;
}

bool TkPythonHasTransformers() {
  static const bool has =
      std::system("python3 -c 'import transformers, tokenizers' >/dev/null 2>&1") == 0;
  return has;
}

// One Python run (importing transformers takes most of the time) for both pad tokens: SD 1.x's
// <|endoftext|> and SD 2.x's "!" (a special token, so "!" in a prompt is the pad id).
class ClipTokenizerVsTransformers : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!TkPythonHasTransformers()) return;
    const std::string dir = TkTempDir();
    TkWrite(dir + "/texts.json", nlohmann::json(TkTexts()).dump());
    const std::string cmd = "python3 " + TkSourceDir() + "/tests/image/tokenizer_ref.py " + dir +
                            " " + dir + "/texts.json " + dir + "/out.json '<|endoftext|>' '!'";
    if (std::system(cmd.c_str()) != 0) return;
    std::ifstream in(dir + "/out.json");
    *results_ = nlohmann::json::parse(in, nullptr, false);
  }
  void SetUp() override {
    if (!TkPythonHasTransformers()) GTEST_SKIP() << "python3-transformers not importable";
    ASSERT_TRUE(results_->is_array() && results_->size() == 2) << "tokenizer_ref.py failed";
  }
  void Compare(size_t which) {
    const nlohmann::json& expected = (*results_)[which];
    auto tok = ClipTokenizer::LoadDir(expected["dir"].get<std::string>());
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    EXPECT_EQ(tok->pad_id(), expected["pad_id"].get<int>());
    const std::vector<std::string> texts = TkTexts();
    ASSERT_EQ(expected["ids"].size(), texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
      int used = 0;
      std::vector<int> ids = tok->Encode(texts[i], 77, &used);
      EXPECT_EQ(ids, expected["ids"][i].get<std::vector<int>>()) << "text: " << texts[i];
      EXPECT_LE(used, 77);
    }
  }
  static inline nlohmann::json* results_ = new nlohmann::json();
};

TEST_F(ClipTokenizerVsTransformers, EndoftextPad) { Compare(0); }
TEST_F(ClipTokenizerVsTransformers, BangPad) { Compare(1); }

TEST(ClipTokenizerTest, HandWrittenVocab) {
  const std::string dir = TkTempDir();
  TkWrite(dir + "/vocab.json",
          R"({"!":0,"a":1,"b":2,"c":3,"a</w>":4,"b</w>":5,"c</w>":6,"ab":7,"abc</w>":8,)"
          R"("<|startoftext|>":9,"<|endoftext|>":10})");
  TkWrite(dir + "/merges.txt", "#version: 0.2\na b\nab c</w>\n");
  auto tok = ClipTokenizer::Load(dir + "/vocab.json", dir + "/merges.txt");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ(tok->Tokenize("ABC ab a"), (std::vector<int>{8, 1, 5, 4}));
  EXPECT_EQ(tok->bos_id(), 9);
  EXPECT_EQ(tok->eos_id(), 10);
  EXPECT_EQ(tok->pad_id(), 10);
  int used = 0;
  std::vector<int> ids = tok->Encode("abc abc abc", 4, &used);
  EXPECT_EQ(ids, (std::vector<int>{9, 8, 8, 10}));  // truncated to context - 2
  EXPECT_EQ(used, 4);
  ids = tok->Encode("abc", 6, &used);
  EXPECT_EQ(ids, (std::vector<int>{9, 8, 10, 10, 10, 10}));
  EXPECT_EQ(used, 3);
  // A character outside the vocabulary is the unknown token (<|endoftext|>).
  EXPECT_EQ(tok->Tokenize("z"), (std::vector<int>{10}));
  auto bang = ClipTokenizer::Load(dir + "/vocab.json", dir + "/merges.txt", "!");
  ASSERT_TRUE(bang.ok());
  EXPECT_EQ(bang->pad_id(), 0);
}

TEST(ClipTokenizerTest, BadFilesAreErrors) {
  const std::string dir = TkTempDir();
  TkWrite(dir + "/vocab.json", R"({"<|startoftext|>":0,"<|endoftext|>":1})");
  TkWrite(dir + "/merges.txt", "#version: 0.2\na b\n");
  EXPECT_TRUE(ClipTokenizer::Load(dir + "/vocab.json", dir + "/merges.txt").ok());
  auto missing = ClipTokenizer::LoadDir(dir + "/nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("vocab.json"), std::string::npos);
  TkWrite(dir + "/bad.json", "{\"a\": ");
  auto bad = ClipTokenizer::Load(dir + "/bad.json", dir + "/merges.txt");
  EXPECT_EQ(bad.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(bad.status().message().find("bad.json"), std::string::npos);
  TkWrite(dir + "/bad_merges.txt", "#version: 0.2\na b c\n");
  auto bm = ClipTokenizer::Load(dir + "/vocab.json", dir + "/bad_merges.txt");
  EXPECT_EQ(bm.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(bm.status().message().find("line 2"), std::string::npos);
  TkWrite(dir + "/nospecial.json", R"({"a":0})");
  auto ns = ClipTokenizer::Load(dir + "/nospecial.json", dir + "/merges.txt");
  EXPECT_EQ(ns.status().code(), StatusCode::kFailedPrecondition);
  auto badpad = ClipTokenizer::Load(dir + "/vocab.json", dir + "/merges.txt", "<pad>");
  EXPECT_EQ(badpad.status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace basalt::image
