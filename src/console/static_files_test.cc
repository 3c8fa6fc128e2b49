#include "console/static_files.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "console/embedded.h"

namespace basalt::console {
namespace {

namespace fs = std::filesystem;

std::string Header(const StaticReply& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

std::string Gzip(const std::string& s) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, s.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
  zs.avail_in = static_cast<uInt>(s.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

TEST(StaticFilesTest, PagePaths) {
  for (const char* p : {"/signin", "/catalog", "/catalog/meta.llama3-8b-instruct-v1:0", "/access",
                        "/playground/chat", "/playground/text", "/playground/image", "/usage",
                        "/keys", "/users", "/models", "/settings", "/usage/", "/catalog/"}) {
    EXPECT_TRUE(IsConsolePagePath(p)) << p;
  }
  for (const char* p : {"/", "/catalog/a/b", "/foundation-models", "/playground", "/basalt/usage",
                        "/model/x/invoke", "/signinx", "", "/catalog//"}) {
    EXPECT_FALSE(IsConsolePagePath(p)) << p;
  }
}

TEST(StaticFilesTest, AcceptEncoding) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("gzip, deflate, br"));
  EXPECT_TRUE(AcceptsGzip("br;q=1.0, gzip;q=0.8"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip; q=0.000"));
  EXPECT_FALSE(AcceptsGzip("gzipx"));
}

TEST(StaticFilesTest, GunzipRoundTripAndCorruption) {
  std::string text(100000, 'a');
  EXPECT_EQ(Gunzip(Gzip(text)), text);
  EXPECT_EQ(Gunzip(Gzip("")), "");
  std::string bad = Gzip(text);
  bad.resize(bad.size() / 2);
  EXPECT_FALSE(Gunzip(bad).has_value());
  EXPECT_FALSE(Gunzip("not gzip").has_value());
}

TEST(StaticFilesTest, ContentTypes) {
  EXPECT_EQ(ContentTypeFor("/index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("/assets/index-abc.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("/assets/index-abc.CSS"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("/favicon.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("/assets/font.woff2"), "font/woff2");
  EXPECT_EQ(ContentTypeFor("/assets/noext"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor("/assets.d/noext"), "application/octet-stream");
}

class DirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "basalt_static_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dist_ = root_ / "dist";
    fs::create_directories(dist_ / "assets");
    std::ofstream(dist_ / "index.html") << "<!doctype html><p>app</p>";
    std::ofstream(dist_ / "assets" / "app-1.js") << "console.log(1)";
    std::ofstream(dist_ / "favicon.svg") << "<svg/>";
    std::ofstream(root_ / "secret.txt") << "secret";
    fs::create_symlink(root_ / "secret.txt", dist_ / "assets" / "link.txt");
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_, dist_;
};

TEST_F(DirTest, ServesIndexForRootAndPages) {
  StaticFiles files(dist_.string());
  EXPECT_TRUE(files.built());
  for (const char* p : {"/", "/index.html", "/signin", "/catalog/x"}) {
    auto r = files.Serve({p, "gzip", ""});
    ASSERT_TRUE(r.has_value()) << p;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "<!doctype html><p>app</p>");
    EXPECT_EQ(Header(*r, "Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(Header(*r, "Cache-Control"), "no-cache");
    EXPECT_NE(Header(*r, "Content-Security-Policy").find("frame-ancestors 'none'"),
              std::string::npos);
    EXPECT_EQ(Header(*r, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(Header(*r, "Referrer-Policy"), "same-origin");
  }
  EXPECT_FALSE(files.Serve({"/foundation-models", "", ""}).has_value());
  EXPECT_FALSE(files.Serve({"/model/x/invoke", "", ""}).has_value());
}

TEST_F(DirTest, AssetsEtagAnd304) {
  StaticFiles files(dist_.string());
  auto r = files.Serve({"/assets/app-1.js", "", ""});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "console.log(1)");
  EXPECT_EQ(Header(*r, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(Header(*r, "Content-Security-Policy"), "");
  std::string etag = Header(*r, "ETag");
  ASSERT_FALSE(etag.empty());
  auto again = files.Serve({"/assets/app-1.js", "", etag});
  EXPECT_EQ(again->status, 304);
  EXPECT_EQ(again->body, "");
  EXPECT_EQ(files.Serve({"/assets/app-1.js", "", "\"other\", W/" + etag})->status, 304);
  EXPECT_EQ(files.Serve({"/assets/app-1.js", "", "\"other\""})->status, 200);
  EXPECT_EQ(files.Serve({"/favicon.svg", "", ""})->body, "<svg/>");
}

TEST_F(DirTest, NoTraversal) {
  StaticFiles files(dist_.string());
  for (const char* p :
       {"/assets/../../secret.txt", "/assets/..%2f..%2fsecret.txt", "/assets/%2e%2e/secret.txt",
        "/assets/link.txt", "/assets/missing.js", "/assets/", "/assets//app-1.js",
        "/assets/./app-1.js", "/assets\\..\\secret.txt"}) {
    auto r = files.Serve({p, "", ""});
    if (!r.has_value()) continue;  // not a console path at all
    EXPECT_EQ(r->status, 404) << p;
    EXPECT_EQ(r->body.find("secret"), std::string::npos) << p;
  }
}

TEST_F(DirTest, NotBuiltPage) {
  StaticFiles files((root_ / "empty").string());
  EXPECT_FALSE(files.built());
  auto r = files.Serve({"/", "", ""});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("npm run build"), std::string::npos);
  EXPECT_EQ(files.Serve({"/assets/app-1.js", "", ""})->status, 404);
}

TEST(EmbeddedTest, EveryEmbeddedFileDecodes) {
  // Meaningful when the build embedded a front end; trivially true otherwise.
  StaticFiles files("");
  for (const EmbeddedFile& f : EmbeddedFiles()) {
    std::string path = f.path;
    if (path == "/index.html") path = "/";
    if (path != "/" && path != "/favicon.svg" && path.rfind("/assets/", 0) != 0) continue;
    auto plain = files.Serve({path, "", ""});
    ASSERT_TRUE(plain.has_value()) << path;
    EXPECT_EQ(plain->status, 200);
    EXPECT_EQ(plain->body.size(), f.raw_size) << path;
    auto gz = files.Serve({path, "gzip", ""});
    if (f.gzip) {
      EXPECT_EQ(Header(*gz, "Content-Encoding"), "gzip");
      EXPECT_EQ(Gunzip(gz->body), plain->body);
    }
  }
}

}  // namespace
}  // namespace basalt::console
