// Internal to src/grammar: GBNF building blocks shared by the schema compiler.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace basalt::grammar::internal {

// A GBNF string literal matching `s` exactly ("..." with escapes).
std::string GbnfLiteral(std::string_view s);

// Translates a regular expression (a subset of ECMAScript: literals, escapes \d \w \s \D \W \S,
// classes [...] and [^...], '.', groups (...) and (?:...), '|', quantifiers * + ? {n} {n,}
// {n,m}, a leading ^ and trailing $) into a GBNF expression for the JSON-encoded text of the
// strings it matches, without the surrounding quotes. The whole string must match (a pattern
// without anchors is generated as if anchored: its output still matches). Characters that JSON
// must escape are generated escaped; control characters a class or '.' would allow are left
// out. kInvalidArgument naming the construct for anything else (back references, lookaround,
// \b, lazy or possessive forms are refused except lazy, which does not change the language).
StatusOr<std::string> PatternToGbnf(std::string_view pattern, int max_repeat);

}  // namespace basalt::grammar::internal
