#include "console/password.h"

#include <gtest/gtest.h>

namespace basalt::console {
namespace {

TEST(PasswordTest, HashHasTheEncodedArgon2idForm) {
  StatusOr<std::string> h = HashPassword("correct horse");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << *h;
  EXPECT_EQ(h->find('\0'), std::string::npos);
}

TEST(PasswordTest, VerifyAcceptsTheRightPasswordOnly) {
  StatusOr<std::string> h = HashPassword("correct horse");
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(VerifyPassword(*h, "correct horse"));
  EXPECT_FALSE(VerifyPassword(*h, "correct horsf"));
  EXPECT_FALSE(VerifyPassword(*h, ""));
}

TEST(PasswordTest, SaltsDiffer) {
  StatusOr<std::string> a = HashPassword("same password");
  StatusOr<std::string> b = HashPassword("same password");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(VerifyPassword(*b, "same password"));
}

TEST(PasswordTest, MalformedEncodingsNeverMatch) {
  EXPECT_FALSE(VerifyPassword("", "password"));
  EXPECT_FALSE(VerifyPassword("password", "password"));
  EXPECT_FALSE(VerifyPassword("$argon2id$v=19$m=19456,t=2,p=1$", "password"));
  EXPECT_FALSE(VerifyPassword("$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA", "password"));
  // A tampered row asking for far more memory is refused without hashing.
  EXPECT_FALSE(
      VerifyPassword("$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA", "password"));
  EXPECT_FALSE(VerifyPassword(std::string(10000, '$'), "password"));
}

TEST(PasswordTest, Policy) {
  EXPECT_EQ(CheckPasswordPolicy("1234567").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckPasswordPolicy("1234567").message(),
            "Password should have a minimum length of 8 characters.");
  EXPECT_TRUE(CheckPasswordPolicy("12345678").ok());
  EXPECT_TRUE(CheckPasswordPolicy(std::string(128, 'x')).ok());
  EXPECT_FALSE(CheckPasswordPolicy(std::string(129, 'x')).ok());
  EXPECT_EQ(HashPassword("short").status().code(), StatusCode::kInvalidArgument);
}

TEST(PasswordTest, NulBytesAreSignificant) {
  std::string with_nul("abcd\0efgh", 9);
  StatusOr<std::string> h = HashPassword(with_nul);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(VerifyPassword(*h, with_nul));
  EXPECT_FALSE(VerifyPassword(*h, "abcd"));
}

}  // namespace
}  // namespace basalt::console
