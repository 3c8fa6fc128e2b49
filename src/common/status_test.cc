#include "common/status.h"

#include <gtest/gtest.h>

#include <string>

namespace basalt {
namespace {

TEST(StatusOrTest, HoldsValueOrError) {
  StatusOr<std::string> good(std::string("v"));
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, "v");
  EXPECT_EQ(good->size(), 1u);
  StatusOr<std::string> bad(Status::InvalidArgument("nope"));
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "nope");
}

TEST(StatusOrTest, OkStatusWithoutValueIsAnError) {
  StatusOr<int> odd{Status::Ok()};
  EXPECT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().code(), StatusCode::kInternal);
}

// Issue 7: QueryParam called PercentDecode("%zz").value() and read an empty optional.
TEST(StatusOrDeathTest, ValueOfAnErrorAbortsWithTheStatus) {
  StatusOr<std::string> bad(Status::InvalidArgument("malformed percent-encoding"));
  EXPECT_DEATH({ (void)bad.value(); }, "StatusOr::value\\(\\) on an error: .*malformed");
  EXPECT_DEATH({ (void)*bad; }, "on an error");
  EXPECT_DEATH({ (void)bad->size(); }, "on an error");
}

}  // namespace
}  // namespace basalt
