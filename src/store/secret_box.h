// Private to src/store: randomness, AES-256-GCM sealing of secrets at rest, and hashing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace basalt::store::internal {

inline constexpr size_t kMasterKeySize = 32;
inline constexpr size_t kNonceSize = 12;
inline constexpr size_t kTagSize = 16;

// Bytes from OpenSSL's CSPRNG; kInternal if it cannot be seeded.
StatusOr<std::string> RandomBytes(size_t n);
// `n` characters drawn uniformly (rejection sampling) from `alphabet` (at most 256 symbols).
StatusOr<std::string> RandomString(size_t n, std::string_view alphabet);

// AES-256-GCM under `key` (32 bytes) with a fresh random 12-byte nonce. `aad` binds the
// ciphertext to its row so sealed values cannot be swapped between rows.
// Returns nonce | ciphertext | tag.
StatusOr<std::string> Seal(std::string_view key, std::string_view plaintext,
                           std::string_view aad);
// Inverse of Seal; kInternal when the key is wrong or the data was altered.
StatusOr<std::string> Open(std::string_view key, std::string_view sealed, std::string_view aad);

std::string Sha256(std::string_view data);  // raw 32 bytes
std::string Base64(std::string_view bytes);  // standard alphabet, padded

}  // namespace basalt::store::internal
