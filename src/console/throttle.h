// Sign-in throttling for the web console (docs/console.md, "Sign-in throttling").
//
// Failures are counted per (account, user name) and per client address. After
// `max_failures` failures of a name (4x that for an address), every attempt is refused for a
// lockout that starts at `lockout` and doubles with each further failure, up to
// `max_lockout`. A success resets the name's count and the address's. An entry is forgotten
// once it has been idle for `max_lockout` past the end of its lockout, and at most
// `max_entries` are kept (the stalest go first), so memory stays bounded under a spray of
// names or addresses.
//
// Time is passed in, so tests need no clock. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>

namespace basalt::console {

struct ThrottleOptions {
  int max_failures = 5;
  std::chrono::seconds lockout{30};
  std::chrono::seconds max_lockout{15 * 60};
  size_t max_entries = 100'000;  // per kind (names, addresses)
};

class SigninThrottle {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit SigninThrottle(ThrottleOptions options);

  // Zero when an attempt for `name` from `address` may go ahead; otherwise how long until
  // it may (rounded up to whole seconds, at least 1).
  std::chrono::seconds RetryAfter(const std::string& name, const std::string& address,
                                  TimePoint now);
  void RecordFailure(const std::string& name, const std::string& address, TimePoint now);
  void RecordSuccess(const std::string& name, const std::string& address);

  size_t EntriesForTest();

 private:
  struct Entry {
    int failures = 0;
    TimePoint last_failure{};
    TimePoint locked_until{};
  };
  using Table = std::map<std::string, Entry>;

  std::chrono::seconds Remaining(Table& table, const std::string& key, TimePoint now);
  void Fail(Table& table, const std::string& key, int threshold, TimePoint now);
  void Prune(Table& table, TimePoint now);

  const ThrottleOptions options_;  // max_failures at least 1
  std::mutex mu_;
  Table names_;      // guarded by mu_
  Table addresses_;  // guarded by mu_
};

}  // namespace basalt::console
