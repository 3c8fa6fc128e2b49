// A guard for JSON text from outside: the nesting depth of arrays and objects, measured with
// one linear scan before any parser or tree sees the text. nlohmann-json parses iteratively,
// but copying and dumping a parsed value recurse once per level, so every body a client (or a
// model's output) controls is checked here first.
#pragma once

#include <string_view>

namespace basalt {

// Deepest nesting Basalt accepts in a request body: far beyond any real Bedrock request (a
// tool's input schema of 30 levels nests about 60), far below what a worker's stack holds.
inline constexpr int kMaxJsonDepth = 128;

// True when no array or object in `text` nests deeper than `max_depth` levels. Brackets
// inside strings (escapes included) do not count. Does not validate the JSON otherwise.
bool JsonDepthWithin(std::string_view text, int max_depth = kMaxJsonDepth);

}  // namespace basalt
