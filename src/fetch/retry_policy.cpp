#include "fetch/retry_policy.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <string>

#include "core/text.hpp"
#include "net/small_get.hpp"

namespace ibdriver::fetch {

AttemptVerdict classify_attempt(CURLcode code, long http_status, bool stalled) {
  if (stalled) return AttemptVerdict::retry;
  if (code == CURLE_OK && (http_status == 200 || http_status == 206)) return AttemptVerdict::done;
  if (http_status >= 400 || (code == CURLE_OK && http_status != 0)) {
    return net::is_retryable_status(http_status) ? AttemptVerdict::retry : AttemptVerdict::next_source;
  }
  return net::is_retryable(code) ? AttemptVerdict::retry : AttemptVerdict::next_source;
}

bool is_busy_answer(long http_status, bool has_retry_after) {
  return http_status == 429 || (http_status == 503 && has_retry_after);
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value) {
  value = text::trim(value);
  if (value.empty()) return std::nullopt;
  long seconds = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (error == std::errc() && end == value.data() + value.size()) {
    return seconds < 0 ? std::nullopt : std::optional(std::chrono::seconds(seconds));
  }
  std::string date(value);
  time_t when = curl_getdate(date.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  return std::chrono::seconds(std::max<long>(0, static_cast<long>(when - std::time(nullptr))));
}

Backoff::Backoff(std::chrono::milliseconds first, std::chrono::milliseconds cap)
    : first_(first), cap_(cap), random_(std::random_device{}()) {}

std::chrono::milliseconds Backoff::next(std::optional<std::chrono::seconds> retry_after) {
  if (retry_after) return with_jitter(std::min<std::chrono::milliseconds>(*retry_after, cap_));
  ++attempt_;
  auto base = first_ * (1LL << std::min(attempt_ - 1, 20));
  return with_jitter(std::min<std::chrono::milliseconds>(base, cap_));
}

std::chrono::milliseconds Backoff::with_jitter(std::chrono::milliseconds base) {
  auto jitter = std::chrono::milliseconds(static_cast<long long>(random_() % static_cast<unsigned long>(base.count() / 2 + 1)));
  return std::min<std::chrono::milliseconds>(base + jitter, cap_);
}

}  // namespace ibdriver::fetch
