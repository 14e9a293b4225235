#include "fetch/response_headers.hpp"

#include <charconv>

#include "core/text.hpp"
#include "fetch/retry_policy.hpp"

namespace ibdriver::fetch {

namespace {
std::optional<std::uint64_t> parse_number(std::string_view text) {
  text = text::trim(text);
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}
}  // namespace

void parse_header_line(std::string_view line, ResponseHeaders& headers) {
  if (line.substr(0, 5) == "HTTP/") {
    headers = {};
    auto parts = text::split(text::trim(line), ' ');
    if (parts.size() >= 2) {
      auto status = parse_number(parts[1]);
      headers.status = status && *status < 1000 ? static_cast<long>(*status) : 0;
    }
    return;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return;
  auto name = text::to_lower(text::trim(line.substr(0, colon)));
  auto value = text::trim(line.substr(colon + 1));
  if (name == "content-length") {
    headers.content_length = parse_number(value);
  } else if (name == "retry-after") {
    headers.retry_after = parse_retry_after(value);
  } else if (name == "content-range" && value.substr(0, 6) == "bytes ") {
    auto range = value.substr(6);
    auto dash = range.find('-');
    auto slash = range.find('/');
    headers.range_start = dash == std::string_view::npos ? std::nullopt : parse_number(range.substr(0, dash));
    headers.range_total = slash == std::string_view::npos ? std::nullopt : parse_number(range.substr(slash + 1));
  }
}

}  // namespace ibdriver::fetch
