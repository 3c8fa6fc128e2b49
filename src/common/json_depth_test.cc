#include "common/json_depth.h"

#include <gtest/gtest.h>

#include <string>

namespace basalt {
namespace {

std::string Nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonDepthTest, CountsArraysAndObjects) {
  EXPECT_TRUE(JsonDepthWithin("{}", 1));
  EXPECT_FALSE(JsonDepthWithin("{\"a\":[]}", 1));
  EXPECT_TRUE(JsonDepthWithin("{\"a\":[]}", 2));
  EXPECT_TRUE(JsonDepthWithin(Nested(kMaxJsonDepth)));
  EXPECT_FALSE(JsonDepthWithin(Nested(kMaxJsonDepth + 1)));
  // Siblings do not add up.
  EXPECT_TRUE(JsonDepthWithin("[[1],[2],[3],{\"x\":[4]}]", 3));
}

TEST(JsonDepthTest, BracketsInStringsDoNotCount) {
  EXPECT_TRUE(JsonDepthWithin("[\"[[[[[[\"]", 1));
  EXPECT_TRUE(JsonDepthWithin("[\"\\\"[[[[\"]", 1));   // an escaped quote does not end it
  EXPECT_FALSE(JsonDepthWithin("[\"\\\\\",[[]]]", 2));  // an escaped backslash does
}

// Issue 7: a 400 KB body nesting 200,000 arrays stopped the server.
TEST(JsonDepthTest, HostileDepthIsCheapToRefuse) {
  EXPECT_FALSE(JsonDepthWithin(Nested(200000)));
  EXPECT_TRUE(JsonDepthWithin(std::string(200000, ']')));  // unbalanced closers are harmless
}

}  // namespace
}  // namespace basalt
