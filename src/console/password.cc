#include "console/password.h"

#include <argon2.h>
#include <openssl/rand.h>

#include <cstdint>
#include <string>

namespace basalt::console {
namespace {

constexpr uint32_t kMemoryKib = 19456;
constexpr uint32_t kIterations = 2;
constexpr uint32_t kParallelism = 1;
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr size_t kMinLength = 8;
constexpr size_t kMaxLength = 128;
// Refuse to feed libargon2 an encoded string of absurd size or cost (a tampered store row
// must not make verification take minutes or gigabytes).
constexpr size_t kMaxEncodedLength = 256;

}  // namespace

Status CheckPasswordPolicy(std::string_view password) {
  if (password.size() < kMinLength) {
    return Status::InvalidArgument("Password should have a minimum length of 8 characters.");
  }
  if (password.size() > kMaxLength) {
    return Status::InvalidArgument("Password should have a maximum length of 128 characters.");
  }
  return Status::Ok();
}

StatusOr<std::string> HashPassword(std::string_view password) {
  BASALT_RETURN_IF_ERROR(CheckPasswordPolicy(password));
  unsigned char salt[kSaltBytes];
  if (RAND_bytes(salt, sizeof(salt)) != 1) {
    return Status::Internal("cannot draw a password salt from the CSPRNG");
  }
  size_t encoded_len =
      argon2_encodedlen(kIterations, kMemoryKib, kParallelism, kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(encoded_len, '\0');
  int rc =
      argon2id_hash_encoded(kIterations, kMemoryKib, kParallelism, password.data(), password.size(),
                            salt, sizeof(salt), kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    return Status::Internal(std::string("argon2id hashing failed: ") + argon2_error_message(rc));
  }
  encoded.resize(encoded.find('\0'));  // encoded_len counts the terminator
  return encoded;
}

bool VerifyPassword(std::string_view encoded, std::string_view password) {
  if (encoded.empty() || encoded.size() > kMaxEncodedLength) return false;
  if (encoded.substr(0, 10) != "$argon2id$") return false;
  // Only this build's own cost parameters are accepted, so a row cannot ask for more work.
  if (encoded.find("$m=19456,t=2,p=1$") == std::string_view::npos) return false;
  std::string z(encoded);  // argon2id_verify wants a NUL-terminated string
  return argon2id_verify(z.c_str(), password.data(), password.size()) == ARGON2_OK;
}

}  // namespace basalt::console
