#include "console/throttle.h"

#include <algorithm>

namespace basalt::console {

namespace {

ThrottleOptions Sane(ThrottleOptions o) {
  o.max_failures = std::max(o.max_failures, 1);
  o.max_entries = std::max<size_t>(o.max_entries, 1);
  return o;
}

}  // namespace

SigninThrottle::SigninThrottle(ThrottleOptions options) : options_(Sane(options)) {}

std::chrono::seconds SigninThrottle::RetryAfter(const std::string& name, const std::string& address,
                                                TimePoint now) {
  std::lock_guard lock(mu_);
  return std::max(Remaining(names_, name, now), Remaining(addresses_, address, now));
}

void SigninThrottle::RecordFailure(const std::string& name, const std::string& address,
                                   TimePoint now) {
  std::lock_guard lock(mu_);
  Fail(names_, name, options_.max_failures, now);
  Fail(addresses_, address, options_.max_failures * 4, now);
}

void SigninThrottle::RecordSuccess(const std::string& name, const std::string& address) {
  std::lock_guard lock(mu_);
  names_.erase(name);
  addresses_.erase(address);
}

size_t SigninThrottle::EntriesForTest() {
  std::lock_guard lock(mu_);
  return names_.size() + addresses_.size();
}

std::chrono::seconds SigninThrottle::Remaining(Table& table, const std::string& key,
                                               TimePoint now) {
  auto it = table.find(key);
  if (it == table.end() || it->second.locked_until <= now) return std::chrono::seconds(0);
  auto left = it->second.locked_until - now;
  auto secs = std::chrono::ceil<std::chrono::seconds>(left);
  return std::max(secs, std::chrono::seconds(1));
}

void SigninThrottle::Fail(Table& table, const std::string& key, int threshold, TimePoint now) {
  if (table.size() >= options_.max_entries && table.find(key) == table.end()) Prune(table, now);
  Entry& e = table[key];
  e.failures++;
  e.last_failure = now;
  if (e.failures < threshold) return;
  // The lockout doubles per failure past the threshold; the shift is capped before it could
  // overflow, and the result capped at max_lockout.
  int doublings = std::min(e.failures - threshold, 20);
  auto lockout = options_.lockout * (int64_t{1} << doublings);
  e.locked_until = now + std::min<std::chrono::seconds>(lockout, options_.max_lockout);
}

void SigninThrottle::Prune(Table& table, TimePoint now) {
  for (auto it = table.begin(); it != table.end();) {
    TimePoint end = std::max(it->second.locked_until, it->second.last_failure);
    if (end + options_.max_lockout <= now) {
      it = table.erase(it);
    } else {
      ++it;
    }
  }
  // Still full: drop the entry whose last failure is oldest, until there is room. Eviction
  // only ever weakens throttling for the stalest attacker, never blocks a legitimate user.
  while (table.size() >= options_.max_entries && !table.empty()) {
    auto oldest = std::min_element(table.begin(), table.end(), [](const auto& a, const auto& b) {
      return a.second.last_failure < b.second.last_failure;
    });
    table.erase(oldest);
  }
}

}  // namespace basalt::console
