#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ibdriver::text {

std::string_view trim(std::string_view value);
std::vector<std::string_view> split(std::string_view value, char separator);
std::string to_lower(std::string_view value);
bool iequals(std::string_view a, std::string_view b);
// Parses a hexadecimal number such as sysfs prints ("0x15b3\n"); nullopt for anything else.
std::optional<unsigned long> parse_hex(std::string_view value);
// Parses a non-negative decimal int ("12\n", as a sequence number or PID file holds); nullopt for
// anything else, signs and overflow included.
std::optional<int> parse_decimal(std::string_view value);
// Replaces control and non-ASCII bytes so untrusted input can be quoted in a message safely.
std::string printable(std::string_view value, std::size_t max_length = 200);
// A URL without its query string or fragment: mirror URLs may carry secrets (SAS tokens).
std::string redact_url(std::string_view url);

}  // namespace ibdriver::text
