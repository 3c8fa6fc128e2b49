#include "console/throttle.h"

#include <gtest/gtest.h>

namespace basalt::console {
namespace {

using std::chrono::seconds;

class ThrottleTest : public ::testing::Test {
 protected:
  SigninThrottle::TimePoint t0 = SigninThrottle::TimePoint() + std::chrono::hours(1);
};

TEST_F(ThrottleTest, LocksAfterMaxFailuresAndDoubles) {
  SigninThrottle t({.max_failures = 3, .lockout = seconds(10)});
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(t.RetryAfter("acct/alice", "1.2.3.4", t0), seconds(0));
    t.RecordFailure("acct/alice", "1.2.3.4", t0);
  }
  EXPECT_EQ(t.RetryAfter("acct/alice", "1.2.3.4", t0), seconds(0));
  t.RecordFailure("acct/alice", "1.2.3.4", t0);  // third: locked for 10 s
  EXPECT_EQ(t.RetryAfter("acct/alice", "1.2.3.4", t0), seconds(10));
  EXPECT_EQ(t.RetryAfter("acct/alice", "5.6.7.8", t0 + seconds(4)), seconds(6));
  EXPECT_EQ(t.RetryAfter("acct/alice", "1.2.3.4", t0 + seconds(10)), seconds(0));
  // Another name from the same address is not locked (the address allows 4x).
  EXPECT_EQ(t.RetryAfter("acct/bob", "1.2.3.4", t0), seconds(0));

  t.RecordFailure("acct/alice", "1.2.3.4", t0 + seconds(10));  // fourth: 20 s
  EXPECT_EQ(t.RetryAfter("acct/alice", "1.2.3.4", t0 + seconds(10)), seconds(20));
  t.RecordFailure("acct/alice", "1.2.3.4", t0 + seconds(30));  // fifth: 40 s
  EXPECT_EQ(t.RetryAfter("acct/alice", "1.2.3.4", t0 + seconds(30)), seconds(40));
}

TEST_F(ThrottleTest, LockoutIsCappedAtMax) {
  SigninThrottle t({.max_failures = 1, .lockout = seconds(30), .max_lockout = seconds(900)});
  auto now = t0;
  for (int i = 0; i < 100; ++i) t.RecordFailure("n", "a", now);
  EXPECT_EQ(t.RetryAfter("n", "a", now), seconds(900));
}

TEST_F(ThrottleTest, SuccessResets) {
  SigninThrottle t({.max_failures = 2, .lockout = seconds(10)});
  t.RecordFailure("n", "a", t0);
  t.RecordSuccess("n", "a");
  t.RecordFailure("n", "a", t0);
  EXPECT_EQ(t.RetryAfter("n", "a", t0), seconds(0));
  t.RecordFailure("n", "a", t0);
  EXPECT_EQ(t.RetryAfter("n", "a", t0), seconds(10));
}

TEST_F(ThrottleTest, AddressLocksAfterFourTimesTheFailures) {
  SigninThrottle t({.max_failures = 2, .lockout = seconds(10)});
  // A spray of different names from one address: each name stays under its limit.
  for (int i = 0; i < 7; ++i) {
    t.RecordFailure("name" + std::to_string(i), "9.9.9.9", t0);
    EXPECT_EQ(t.RetryAfter("fresh", "9.9.9.9", t0), seconds(0)) << i;
  }
  t.RecordFailure("name7", "9.9.9.9", t0);
  EXPECT_EQ(t.RetryAfter("fresh", "9.9.9.9", t0), seconds(10));
  EXPECT_EQ(t.RetryAfter("fresh", "8.8.8.8", t0), seconds(0));
}

TEST_F(ThrottleTest, RetryAfterRoundsUp) {
  SigninThrottle t({.max_failures = 1, .lockout = seconds(2)});
  t.RecordFailure("n", "a", t0);
  EXPECT_EQ(t.RetryAfter("n", "a", t0 + std::chrono::milliseconds(1500)), seconds(1));
  EXPECT_EQ(t.RetryAfter("n", "a", t0 + std::chrono::milliseconds(100)), seconds(2));
}

TEST_F(ThrottleTest, MemoryIsBounded) {
  SigninThrottle t({.max_failures = 5, .lockout = seconds(10), .max_entries = 100});
  for (int i = 0; i < 1000; ++i) {
    t.RecordFailure("n" + std::to_string(i), "a" + std::to_string(i), t0 + seconds(i));
  }
  EXPECT_LE(t.EntriesForTest(), 200u);
}

}  // namespace
}  // namespace basalt::console
