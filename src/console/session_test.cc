#include "console/session.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace basalt::console {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

class SessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "basalt_sessions_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto opened = store::Store::OpenSqlite((dir_ / "basalt.db").string(), std::string(32, 'k'));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
    auto account = store_->CreateAccount("acme");
    ASSERT_TRUE(account.ok());
    user_ = *store_->CreateUser(account->id, "alice", "user");
    now_ = std::chrono::system_clock::time_point(seconds(1'800'000'000));
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  Sessions MakeSessions(seconds ttl) {
    return Sessions(store_.get(), ttl, [this] { return now_; });
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  store::User user_;
  std::chrono::system_clock::time_point now_;
};

TEST_F(SessionsTest, CreateFindEnd) {
  Sessions sessions = MakeSessions(seconds(100));
  auto s = sessions.Create(user_);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->token.size(), 43u);  // 256 bits, base64url
  EXPECT_EQ(s->row.expires_at, s->row.created_at + 100);
  EXPECT_FALSE(s->row.csrf_token.empty());
  auto found = sessions.Find(s->token);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->user_id, user_.id);
  EXPECT_EQ(found->csrf_token, s->row.csrf_token);
  // Only the hash is stored.
  EXPECT_FALSE(store_->GetConsoleSession(s->token).ok());

  auto other = sessions.Create(user_);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->token, s->token);
  EXPECT_NE(other->row.csrf_token, s->row.csrf_token);

  ASSERT_TRUE(sessions.End(s->token).ok());
  auto gone = sessions.Find(s->token);
  EXPECT_EQ(gone.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(gone.status().reason(), kConsoleAuthReason);
  EXPECT_TRUE(sessions.Find(other->token).ok());
}

TEST_F(SessionsTest, ExpiresAfterTtl) {
  Sessions sessions = MakeSessions(seconds(10));
  auto s = sessions.Create(user_);
  ASSERT_TRUE(s.ok());
  now_ += seconds(9);
  EXPECT_TRUE(sessions.Find(s->token).ok());
  now_ += seconds(1);
  EXPECT_EQ(sessions.Find(s->token).status().code(), StatusCode::kUnauthenticated);
  // The expired row was deleted.
  EXPECT_FALSE(store_->GetConsoleSession(SessionTokenHash(s->token)).ok());
}

TEST_F(SessionsTest, SignInSweepsExpiredSessions) {
  Sessions sessions = MakeSessions(seconds(10));
  auto old = sessions.Create(user_);
  ASSERT_TRUE(old.ok());
  now_ += seconds(60);
  ASSERT_TRUE(sessions.Create(user_).ok());
  EXPECT_FALSE(store_->GetConsoleSession(SessionTokenHash(old->token)).ok());
}

TEST_F(SessionsTest, LastSeenIsTouchedAtMostOncePerMinute) {
  Sessions sessions = MakeSessions(seconds(1000));
  auto s = sessions.Create(user_);
  ASSERT_TRUE(s.ok());
  now_ += seconds(30);
  EXPECT_EQ(sessions.Find(s->token)->last_seen_at, s->row.created_at);
  now_ += seconds(30);
  EXPECT_EQ(sessions.Find(s->token)->last_seen_at, s->row.created_at + 60);
  EXPECT_EQ(store_->GetConsoleSession(SessionTokenHash(s->token))->last_seen_at,
            s->row.created_at + 60);
}

TEST_F(SessionsTest, GarbageTokensAreUnauthenticated) {
  Sessions sessions = MakeSessions(seconds(100));
  for (std::string token :
       {std::string(), std::string("x"), std::string(10000, 'a'), std::string("\0\1\2", 3)}) {
    EXPECT_EQ(sessions.Find(token).status().code(), StatusCode::kUnauthenticated);
  }
  EXPECT_TRUE(sessions.End("").ok());
  EXPECT_TRUE(sessions.End("unknown").ok());
}

TEST(CookieTest, ValueAndAttributes) {
  EXPECT_EQ(CookieValue("basalt_session=abc", "basalt_session"), "abc");
  EXPECT_EQ(CookieValue("a=1; basalt_session=abc; b=2", "basalt_session"), "abc");
  EXPECT_EQ(CookieValue("a=1;basalt_session=\"abc\"", "basalt_session"), "abc");
  EXPECT_EQ(CookieValue("xbasalt_session=abc", "basalt_session"), "");
  EXPECT_EQ(CookieValue("", "basalt_session"), "");
  EXPECT_EQ(CookieValue("basalt_session", "basalt_session"), "");
  EXPECT_EQ(SessionCookie("t", seconds(60), false),
            "basalt_session=t; Path=/; HttpOnly; SameSite=Strict; Max-Age=60");
  EXPECT_EQ(SessionCookie("t", seconds(60), true),
            "basalt_session=t; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure");
  EXPECT_EQ(ClearedSessionCookie(false),
            "basalt_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
}

TEST(CsrfTest, SecureEqualsAndOrigin) {
  EXPECT_TRUE(SecureEquals("abc", "abc"));
  EXPECT_FALSE(SecureEquals("abc", "abd"));
  EXPECT_FALSE(SecureEquals("abc", "ab"));
  EXPECT_FALSE(SecureEquals("", ""));
  EXPECT_TRUE(OriginMatchesHost("http://127.0.0.1:8080", "127.0.0.1:8080"));
  EXPECT_TRUE(OriginMatchesHost("https://Basalt.example", "basalt.example"));
  EXPECT_FALSE(OriginMatchesHost("http://evil.example", "basalt.example"));
  EXPECT_FALSE(OriginMatchesHost("http://127.0.0.1:8081", "127.0.0.1:8080"));
  EXPECT_FALSE(OriginMatchesHost("null", "127.0.0.1:8080"));
  EXPECT_FALSE(OriginMatchesHost("ftp://127.0.0.1:8080", "127.0.0.1:8080"));
  EXPECT_FALSE(OriginMatchesHost("http://", ""));
}

TEST(RandomTokenTest, Base64Url) {
  auto t = RandomToken(32);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->size(), 43u);
  EXPECT_EQ(
      t->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
}

}  // namespace
}  // namespace basalt::console
