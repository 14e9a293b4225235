#include "core/text.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace ibdriver::text {

std::string_view trim(std::string_view value) {
  constexpr std::string_view blanks = " \t\r\n\v\f";
  auto first = value.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  auto last = value.find_last_not_of(blanks);
  return value.substr(first, last - first + 1);
}

std::vector<std::string_view> split(std::string_view value, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    auto position = value.find(separator);
    parts.push_back(value.substr(0, position));
    if (position == std::string_view::npos) break;
    value.remove_prefix(position + 1);
  }
  return parts;
}

std::string to_lower(std::string_view value) {
  std::string lower(value);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

std::optional<unsigned long> parse_hex(std::string_view value) {
  value = trim(value);
  if (value.size() > 2 && value[0] == '0' && (value[1] == 'x' || value[1] == 'X')) value.remove_prefix(2);
  if (value.empty() || value.size() > 16) return std::nullopt;
  unsigned long number = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number, 16);
  if (error != std::errc() || end != value.data() + value.size()) return std::nullopt;
  return number;
}

std::optional<int> parse_decimal(std::string_view value) {
  value = trim(value);
  if (value.empty() || value.front() < '0' || value.front() > '9') return std::nullopt;
  int number = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (error != std::errc() || end != value.data() + value.size()) return std::nullopt;
  return number;
}

std::string printable(std::string_view value, std::size_t max_length) {
  std::string result;
  for (unsigned char c : value.substr(0, max_length)) {
    if (c >= 0x20 && c < 0x7f) {
      result += static_cast<char>(c);
    } else {
      result += fmt::format("\\x{:02x}", static_cast<unsigned>(c));
    }
  }
  if (value.size() > max_length) result += "...";
  return result;
}

std::string redact_url(std::string_view url) {
  auto cut = url.find_first_of("?#");
  if (cut == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, cut)) + "?…";
}

}  // namespace ibdriver::text
