#include <catch2/catch.hpp>

#include "fetch/downloader.hpp"
#include "fetch/response_headers.hpp"
#include "fetch/retry_policy.hpp"

using namespace ibdriver::fetch;
using namespace std::chrono_literals;

TEST_CASE("which failures are worth another try", "[retry]") {
  CHECK(classify_attempt(CURLE_OK, 200, false) == AttemptVerdict::done);
  CHECK(classify_attempt(CURLE_OK, 206, false) == AttemptVerdict::done);
  CHECK(classify_attempt(CURLE_OK, 503, false) == AttemptVerdict::retry);
  CHECK(classify_attempt(CURLE_OK, 429, false) == AttemptVerdict::retry);
  CHECK(classify_attempt(CURLE_OK, 500, false) == AttemptVerdict::retry);
  CHECK(classify_attempt(CURLE_OK, 404, false) == AttemptVerdict::next_source);
  CHECK(classify_attempt(CURLE_OK, 403, false) == AttemptVerdict::next_source);
  CHECK(classify_attempt(CURLE_RECV_ERROR, 200, false) == AttemptVerdict::retry);
  CHECK(classify_attempt(CURLE_PARTIAL_FILE, 200, false) == AttemptVerdict::retry);
  CHECK(classify_attempt(CURLE_OPERATION_TIMEDOUT, 0, false) == AttemptVerdict::retry);
  CHECK(classify_attempt(CURLE_COULDNT_CONNECT, 0, false) == AttemptVerdict::retry);
  CHECK(classify_attempt(CURLE_ABORTED_BY_CALLBACK, 200, true) == AttemptVerdict::retry);
  CHECK(classify_attempt(CURLE_PEER_FAILED_VERIFICATION, 0, false) == AttemptVerdict::next_source);
  CHECK(classify_attempt(CURLE_UNSUPPORTED_PROTOCOL, 302, false) == AttemptVerdict::next_source);
  CHECK(classify_attempt(CURLE_TOO_MANY_REDIRECTS, 302, false) == AttemptVerdict::next_source);
}

TEST_CASE("Retry-After is read as seconds or an HTTP date", "[retry]") {
  CHECK(parse_retry_after("120") == 120s);
  CHECK(parse_retry_after(" 0 ") == 0s);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0s);  // in the past: now
  CHECK_FALSE(parse_retry_after("soon").has_value());
  CHECK_FALSE(parse_retry_after("-5").has_value());
}

TEST_CASE("backoff grows exponentially with jitter, capped, and Retry-After wins", "[retry]") {
  Backoff backoff(100ms, 1000ms);
  auto first = backoff.next(std::nullopt);
  CHECK(first >= 100ms);
  CHECK(first <= 150ms);
  auto second = backoff.next(std::nullopt);
  CHECK(second >= 200ms);
  CHECK(second <= 300ms);
  for (int i = 0; i < 10; ++i) CHECK(backoff.next(std::nullopt) <= 1000ms);
  CHECK(backoff.next(3s) == 1000ms);  // capped
  CHECK(backoff.next(0s) == 0ms);
}

TEST_CASE("a mirror URL puts the file name before the query", "[mirror]") {
  CHECK(mirror_url("https://acct.blob.core.windows.net/drivers?sv=2022&sig=abc", "MLNX.tgz") ==
        "https://acct.blob.core.windows.net/drivers/MLNX.tgz?sv=2022&sig=abc");
  CHECK(mirror_url("https://mirror.example/ofed/", "MLNX.tgz") == "https://mirror.example/ofed/MLNX.tgz");
  CHECK(mirror_url("https://mirror.example", "a.deb") == "https://mirror.example/a.deb");
}

TEST_CASE("response headers: each status line starts a new response; bad values are ignored", "[headers]") {
  ResponseHeaders headers;
  parse_header_line("HTTP/1.1 302 Found\r\n", headers);
  parse_header_line("Content-Length: 0\r\n", headers);
  parse_header_line("HTTP/1.1 206 Partial Content\r\n", headers);
  parse_header_line("content-range: bytes 100-999/1000\r\n", headers);
  parse_header_line("Content-Length: 900\r\n", headers);
  CHECK(headers.status == 206);
  CHECK(headers.range_start == 100u);
  CHECK(headers.range_total == 1000u);
  CHECK(headers.content_length == 900u);
  parse_header_line("HTTP/1.1 200 OK\r\n", headers);
  CHECK_FALSE(headers.range_start.has_value());
  parse_header_line("Content-Range: bytes */1000\r\n", headers);
  CHECK_FALSE(headers.range_start.has_value());
  CHECK(headers.range_total == 1000u);
  parse_header_line("Content-Length: -5\r\n", headers);
  CHECK_FALSE(headers.content_length.has_value());
  parse_header_line("Content-Length: 99999999999999999999999\r\n", headers);
  CHECK_FALSE(headers.content_length.has_value());
  parse_header_line("HTTP/1.1 99999999999 Huge\r\n", headers);
  CHECK(headers.status == 0);
}
