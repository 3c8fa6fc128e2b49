// TextStream turns the byte pieces of generated tokens into text that is safe to emit:
// whole, valid UTF-8 characters only, nothing that could still grow into a stop sequence,
// and never a stop sequence itself. Free of llama.cpp types so it can be tested alone.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace basalt::engine::llm {

class TextStream {
 public:
  TextStream() = default;

  // Starts a new output with these stop sequences (empty ones are ignored).
  void Reset(const std::vector<std::string>& stops);

  // Adds the bytes of one token. Appends the text now safe to emit to `out`. Returns true
  // when a stop sequence matched: `out` then holds the text before it and nothing more may
  // be appended.
  bool Append(std::string_view bytes, std::string* out);

  // Ends the output: appends the text still held back (an unfinished UTF-8 character is
  // dropped).
  void Flush(std::string* out);

  // The stop sequence that matched (empty when none did).
  const std::string& matched_stop() const { return matched_stop_; }

 private:
  void AppendByte(unsigned char byte);
  bool FindStop(size_t search_from, std::string* out);

  std::vector<std::string> stops_;
  size_t max_stop_size_ = 0;
  std::string partial_;   // bytes of an unfinished UTF-8 character (at most 3)
  int partial_need_ = 0;  // total bytes of that character
  std::string held_;      // valid UTF-8 not yet emitted
  std::string matched_stop_;
};

}  // namespace basalt::engine::llm
