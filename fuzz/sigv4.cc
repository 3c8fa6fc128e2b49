// Fuzz target: SigV4 Authorization parsing and verification, presigned (query) short-term
// bearer tokens, and the encoding building blocks of src/auth/sigv4.h.
//
// Input: byte 0 picks the mode, the rest is its text.
//   0  an Authorization header value: parsed, then verified against a fixed request
//   1  a request: "METHOD TARGET\nauthority\nname:value\n...\n\nbody". Verified as given
//      (fixed secret, fixed clock), then re-signed with SignRequest and verified again,
//      which must succeed: anything a client signs, the server accepts
//   2  a short-term token "bedrock-api-key-...": parsed and verified; and a token minted
//      by MakeShortTermToken from the input bytes must verify
//   3  building blocks: CanonicalUri, CanonicalQuery, Base64 round trips
#include <algorithm>
#include <chrono>
#include <ctime>
#include <string>

#include "auth/sigv4.h"
#include "fuzz_util.h"

namespace basalt::fuzz {
namespace {

constexpr char kAccessKey[] = "AKIAIOSFODNN7EXAMPLE";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";  // tests/fixtures/sigv4
constexpr char kAmzDate[] = "20250130T203827Z";

std::chrono::system_clock::time_point Now() {
  std::tm tm{};
  tm.tm_year = 2025 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 30;
  tm.tm_hour = 20;
  tm.tm_min = 40;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string_view NextLine(std::string_view& text) {
  size_t nl = text.find('\n');
  std::string_view line = text.substr(0, nl);
  text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  return line;
}

bool IsTokenName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

void ParseAndVerifyHeader(std::string_view header) {
  auto auth = auth::ParseAuthorization(header);
  if (!auth.ok()) return;
  auth::SignedRequest request;
  request.method = "POST";
  request.raw_target = "/model/anthropic.claude-v2/invoke";
  request.authority = "127.0.0.1:8080";
  request.headers = {{"host", "127.0.0.1:8080"}, {"x-amz-date", kAmzDate}};
  request.body = "{}";
  (void)auth::VerifySigV4(request, *auth, kSecret, Now());
}

void Request(std::string_view text) {
  auth::SignedRequest request;
  std::string_view first = NextLine(text);
  size_t sp = first.find(' ');
  request.method = std::string(first.substr(0, sp));
  if (sp != std::string_view::npos) request.raw_target = std::string(first.substr(sp + 1));
  request.authority = std::string(NextLine(text));
  std::string authorization;
  while (!text.empty()) {
    std::string_view line = NextLine(text);
    if (line.empty()) break;
    size_t colon = line.find(':');
    std::string name(line.substr(0, colon));
    std::string value(colon == std::string_view::npos ? "" : line.substr(colon + 1));
    if (name == "authorization") authorization = value;
    request.headers.emplace_back(std::move(name), std::move(value));
  }
  request.body = text;
  (void)auth::CanonicalRequest(request, {"host", "x-amz-date"}, auth::Sha256Hex(request.body));

  // As received.
  if (auto auth = auth::ParseAuthorization(authorization); auth.ok()) {
    (void)auth::VerifySigV4(request, *auth, kSecret, Now());
  }

  // Re-signed by the client side: must verify. Only headers a client would sign.
  auth::SignedRequest resigned = request;
  resigned.headers.clear();
  std::vector<std::string> signed_headers = {"host", "x-amz-date"};
  for (const auto& [name, value] : request.headers) {
    if (!IsTokenName(name) || name == "authorization" || name == "x-amz-date" ||
        name == "x-amz-content-sha256" || name == "host") {
      continue;
    }
    resigned.headers.emplace_back(name, value);
    signed_headers.push_back(name);
  }
  if (resigned.authority.empty()) resigned.authority = "localhost";
  resigned.headers.emplace_back("host", resigned.authority);
  resigned.headers.emplace_back("x-amz-date", kAmzDate);
  std::string header =
      auth::SignRequest(resigned, kAccessKey, kSecret, "us-west-2", kAmzDate, signed_headers);
  resigned.headers.emplace_back("authorization", header);
  auto parsed = auth::ParseAuthorization(header);
  FUZZ_CHECK(parsed.ok());
  Status st = auth::VerifySigV4(resigned, *parsed, kSecret, Now());
  if (!st.ok()) std::fprintf(stderr, "re-signed request refused: %s\n", st.ToString().c_str());
  FUZZ_CHECK(st.ok());
}

void ShortTermToken(std::string_view text) {
  if (auto token = auth::ParseShortTermToken(text); token.ok()) {
    (void)auth::VerifyShortTermToken(*token, kSecret, Now());
  }
  // Mint one from the input: access key id and region from its letters and digits.
  std::string key, region;
  for (char c : text.substr(0, 20)) {
    if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) key.push_back(c);
  }
  for (char c : text.substr(std::min<size_t>(20, text.size()), 16)) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') region.push_back(c);
  }
  if (key.empty()) key = kAccessKey;
  if (region.empty()) region = "us-east-1";
  int expires = 1 + static_cast<int>(text.size() % 43200);
  std::string minted = auth::MakeShortTermToken(key, kSecret, region, Now(), expires);
  auto token = auth::ParseShortTermToken(minted);
  if (!token.ok()) std::fprintf(stderr, "minted token refused: %s\n", token.status().ToString().c_str());
  FUZZ_CHECK(token.ok());
  FUZZ_CHECK(token->access_key_id == key);
  FUZZ_CHECK(token->region == region);
  Status st = auth::VerifyShortTermToken(*token, kSecret, Now());
  if (!st.ok()) std::fprintf(stderr, "minted token does not verify: %s\n", st.ToString().c_str());
  FUZZ_CHECK(st.ok());
}

void BuildingBlocks(std::string_view text) {
  (void)auth::CanonicalUri(text);
  (void)auth::CanonicalQuery(text);
  auto decoded = auth::Base64Decode(text);
  if (decoded.ok()) (void)auth::Base64Encode(*decoded);
  auto back = auth::Base64Decode(auth::Base64Encode(text));
  FUZZ_CHECK(back.ok() && *back == text);
  FUZZ_CHECK(auth::ConstantTimeEquals(text, std::string(text)));
}

}  // namespace
}  // namespace basalt::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace basalt::fuzz;
  if (size == 0) return 0;
  std::string_view text = AsView(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0: ParseAndVerifyHeader(text); break;
    case 1: Request(text); break;
    case 2: ShortTermToken(text); break;
    case 3: BuildingBlocks(text); break;
  }
  return 0;
}
