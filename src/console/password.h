// Console passwords: Argon2id (libargon2) in its encoded form
// ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"), with a 16-byte salt from OpenSSL's CSPRNG.
// The parameters follow OWASP's minimum for Argon2id; hashing takes tens of milliseconds, so
// callers on an event loop should hash on a worker thread.
//
// Thread-safety: all functions may be called concurrently.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace basalt::console {

// The encoded Argon2id hash of `password`. kInvalidArgument when the password fails
// CheckPasswordPolicy; kInternal when randomness or hashing fails.
StatusOr<std::string> HashPassword(std::string_view password);

// True when `password` matches `encoded` (a HashPassword result), compared in constant time.
// False for a malformed or empty `encoded`.
bool VerifyPassword(std::string_view encoded, std::string_view password);

// 8 to 128 characters (bytes of UTF-8). kInvalidArgument with the message the console shows.
Status CheckPasswordPolicy(std::string_view password);

}  // namespace basalt::console
