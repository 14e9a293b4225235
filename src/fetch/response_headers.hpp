#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ibdriver::fetch {

// The headers of one HTTP response that a resumable download cares about.
struct ResponseHeaders {
  long status = 0;
  std::optional<std::uint64_t> range_start;  // Content-Range: bytes <start>-<end>/<total>
  std::optional<std::uint64_t> range_total;
  std::optional<std::uint64_t> content_length;
  std::optional<std::chrono::seconds> retry_after;
};

// Feeds one raw header line (as libcurl's header callback gets it). A status line ("HTTP/1.1 206 ...")
// starts a new response: redirects and interim responses each have their own headers. Malformed values
// are ignored, never trusted.
void parse_header_line(std::string_view line, ResponseHeaders& headers);

}  // namespace ibdriver::fetch
