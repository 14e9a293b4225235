#pragma once
#include <chrono>
#include <optional>
#include <random>
#include <string_view>

#include <curl/curl.h>

namespace ibdriver::fetch {

// How one attempt ended, as far as retrying is concerned.
enum class AttemptVerdict {
  done,          // the body arrived whole
  retry,         // worth another try at the same source (reset, timeout, stall, 5xx, 429, 408)
  next_source,   // this source cannot serve it (404, 403, TLS verification, redirect to http, ...)
};

AttemptVerdict classify_attempt(CURLcode code, long http_status, bool stalled);

// A server that is up and asks to be asked again later: 429, or 503 with Retry-After. Such an answer is
// the mirror's schedule (a scale set enabling at once), not a failure of the transfer.
bool is_busy_answer(long http_status, bool has_retry_after);

// Parses Retry-After: delta-seconds or an HTTP date (relative to now). nullopt when unusable.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value);

// Exponential backoff with up to 50 % jitter, capped. Retry-After (when given) wins: never earlier than
// asked, plus up to 50 % of it as jitter (clients told the same delay at the same moment must not all
// come back in the same instant), capped too; it does not advance the exponential.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds first, std::chrono::milliseconds cap);
  std::chrono::milliseconds next(std::optional<std::chrono::seconds> retry_after);
  void reset() { attempt_ = 0; }

 private:
  std::chrono::milliseconds with_jitter(std::chrono::milliseconds base);

  std::chrono::milliseconds first_;
  std::chrono::milliseconds cap_;
  int attempt_ = 0;
  std::minstd_rand random_;
};

}  // namespace ibdriver::fetch
