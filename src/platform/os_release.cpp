#include "platform/os_release.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <regex>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/text.hpp"

namespace ibdriver::platform {
namespace {

constexpr std::size_t max_os_release_bytes = 64 * 1024;
constexpr std::size_t max_value_length = 4096;

bool valid_key(std::string_view key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key.front())) != 0) return false;
  return std::all_of(key.begin(), key.end(), [](unsigned char c) { return std::isalnum(c) != 0 || c == '_'; });
}

// Undoes shell-style quoting as os-release(5) allows it: "..." with \" \\ \$ \` escapes, '...' literal,
// or an unquoted word with backslash escapes. nullopt for an unterminated quote.
std::optional<std::string> unquote(std::string_view raw) {
  std::string value;
  char quote = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (quote == 0 && (c == '"' || c == '\'')) {
      quote = c;
    } else if (quote != 0 && c == quote) {
      quote = 0;
    } else if (c == '\\' && quote != '\'' && i + 1 < raw.size()) {
      char next = raw[i + 1];
      if (quote == 0 || next == '"' || next == '\\' || next == '$' || next == '`') {
        value += next;
        ++i;
      } else {
        value += c;
      }
    } else if (quote == 0 && std::isspace(static_cast<unsigned char>(c)) != 0) {
      break;  // an unquoted value ends at whitespace (a trailing comment, say)
    } else {
      value += c;
    }
  }
  if (quote != 0) return std::nullopt;
  return value;
}

bool looks_binary(std::string_view content) {
  return std::any_of(content.begin(), content.end(), [](unsigned char c) {
    return c == 0 || (c < 0x20 && c != '\n' && c != '\r' && c != '\t');
  });
}

int parse_component(std::string_view version, std::size_t index) {
  auto parts = text::split(version, '.');
  if (index >= parts.size()) return index == 0 ? -1 : 0;
  int number = -1;
  auto part = parts[index];
  auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), number);
  if (error != std::errc() || end != part.data() + part.size()) return -1;
  return number;
}

}  // namespace

int OsRelease::major() const { return version().empty() ? -1 : parse_component(version(), 0); }
int OsRelease::minor() const { return version().empty() ? -1 : parse_component(version(), 1); }

namespace {
// "CentOS Linux release 7.9.2009 (Core)" -> "7.9", when its major agrees with VERSION_ID.
std::string minor_from_release_file(const SystemRoot& root, const OsRelease& os) {
  if (os.version_id.empty() || os.version_id.find('.') != std::string::npos) return {};
  try {
    for (const char* name : {"/etc/redhat-release", "/etc/centos-release", "/etc/system-release"}) {
      auto content = read_file_if_exists(root.path(name), 4096);
      if (!content) continue;
      static const std::regex release(R"(release\s+([0-9]+)\.([0-9]+))");
      std::smatch match;
      std::string text_copy(*content);
      if (std::regex_search(text_copy, match, release) && match[1] == os.version_id) {
        return fmt::format("{}.{}", match[1].str(), match[2].str());
      }
    }
  } catch (const std::exception&) {
    // The minor version is a refinement; without it the major from os-release stands.
  }
  return {};
}
}  // namespace

OsRelease parse_os_release(std::string_view content, std::string_view source_name) {
  if (looks_binary(content)) {
    throw Error(ExitCode::os_not_supported,
                fmt::format("{} holds binary data, not os-release text (starts with \"{}\")", source_name,
                            text::printable(content.substr(0, 40))),
                "restore the file from the OS package (base-files, *-release) or fix it by hand");
  }
  OsRelease os;
  os.source_file = std::string(source_name);
  for (auto line : text::split(content, '\n')) {
    line = text::trim(line);
    if (line.empty() || line.front() == '#') continue;
    auto equals = line.find('=');
    if (equals == std::string_view::npos) continue;
    auto key = line.substr(0, equals);
    if (!valid_key(key)) continue;
    auto raw = line.substr(equals + 1);
    if (raw.size() > max_value_length) continue;  // not a value any OS writes; ignore like garbage
    auto value = unquote(raw);
    if (!value) continue;
    os.fields[std::string(key)] = std::move(*value);
  }
  auto field = [&](const char* key) {
    auto found = os.fields.find(key);
    return found == os.fields.end() ? std::string() : found->second;
  };
  os.id = text::to_lower(field("ID"));
  os.version_id = field("VERSION_ID");
  os.pretty_name = field("PRETTY_NAME");
  os.version_codename = field("VERSION_CODENAME");
  const std::string id_like = field("ID_LIKE");
  for (auto like : text::split(id_like, ' ')) {
    if (!like.empty()) os.id_like.push_back(text::to_lower(like));
  }
  if (os.id.empty()) {
    std::string seen = os.fields.empty() ? std::string("no KEY=VALUE lines at all")
                                         : fmt::format("keys {}", [&] {
                                             std::string keys;
                                             for (const auto& [key, value] : os.fields) {
                                               keys += keys.empty() ? key : ", " + key;
                                             }
                                             return text::printable(keys);
                                           }());
    throw Error(ExitCode::os_not_supported,
                fmt::format("{} does not name the OS: no ID= line ({})", source_name, seen),
                "an image that cannot be identified is not supported; check /etc/os-release, or skip the OS check and choose the "
                "driver yourself (a bundle URL with its SHA-256)",
                {{Knob::skip_os_check, {}}, {Knob::driver_url, {}}});
  }
  return os;
}

OsRelease read_os_release(const SystemRoot& root) {
  std::vector<std::string> tried;
  for (const char* candidate : {"/etc/os-release", "/usr/lib/os-release"}) {
    auto file = root.path(candidate);
    std::optional<std::string> content;
    try {
      content = read_file_if_exists(file, max_os_release_bytes);
    } catch (const Error& error) {
      throw Error(ExitCode::os_not_supported, fmt::format("cannot read the OS identity: {}", error.what()),
                  "check that the file is a normal os-release file");
    }
    if (!content) {
      tried.push_back(file.string());
      continue;
    }
    auto os = parse_os_release(*content, file.string());
    os.release_file_version = minor_from_release_file(root, os);
    return os;
  }
  throw Error(ExitCode::os_not_supported,
              fmt::format("the OS cannot be identified: neither {} exists", fmt::join(tried, " nor ")),
              "every supported OS ships /etc/os-release; is the system root the right folder?");
}

}  // namespace ibdriver::platform
