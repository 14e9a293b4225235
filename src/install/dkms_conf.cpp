#include "install/dkms_conf.hpp"

#include <cctype>
#include <map>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/text.hpp"

namespace ibdriver::install {

namespace {

constexpr const char* damaged_hint =
    "the bundle's DKMS package is damaged or not one NVIDIA built: use the vendor's bundle as downloaded";

[[noreturn]] void refuse(const std::string& file, const std::string& what) {
  throw Error(ExitCode::operation_failed, fmt::format("{}: {}", file, what), damaged_hint);
}

struct Assignment {
  std::string key;
  std::optional<std::string> index;  // the text between [ and ], if any
  std::string value;
};

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

// The shell word starting at `pos` (quotes removed, everything else kept as text); nullopt when a
// quote is not closed on the line.
std::optional<std::string> shell_word(std::string_view line, std::size_t pos) {
  std::string word;
  while (pos < line.size()) {
    char c = line[pos];
    if (c == ' ' || c == '\t' || c == ';') break;
    if (c == '\\' && pos + 1 < line.size()) {
      word += line[pos + 1];
      pos += 2;
    } else if (c == '\'') {
      auto end = line.find('\'', pos + 1);
      if (end == std::string_view::npos) return std::nullopt;
      word += line.substr(pos + 1, end - pos - 1);
      pos = end + 1;
    } else if (c == '"') {
      ++pos;
      bool closed = false;
      while (pos < line.size()) {
        if (line[pos] == '\\' && pos + 1 < line.size()) {
          word += line[pos + 1];
          pos += 2;
        } else if (line[pos] == '"') {
          closed = true;
          ++pos;
          break;
        } else {
          word += line[pos++];
        }
      }
      if (!closed) return std::nullopt;
    } else if (c == '`') {
      auto end = line.find('`', pos + 1);
      if (end == std::string_view::npos) return std::nullopt;
      word += line.substr(pos, end - pos + 1);
      pos = end + 1;
    } else {
      word += c;
      ++pos;
    }
  }
  return word;
}

// NAME=value or NAME[index]=value at the start of a line (after blanks); nullopt for anything else.
std::optional<Assignment> assignment(std::string_view line, const std::string& file, std::size_t number) {
  std::size_t pos = 0;
  while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
  std::size_t start = pos;
  while (pos < line.size() && is_name_char(line[pos])) ++pos;
  if (pos == start || std::isdigit(static_cast<unsigned char>(line[start])) != 0) return std::nullopt;
  Assignment result;
  result.key = std::string(line.substr(start, pos - start));
  if (pos < line.size() && line[pos] == '[') {
    auto close = line.find(']', pos);
    if (close == std::string_view::npos) return std::nullopt;
    result.index = std::string(line.substr(pos + 1, close - pos - 1));
    pos = close + 1;
  }
  if (pos >= line.size() || line[pos] != '=') return std::nullopt;
  auto value = shell_word(line, pos + 1);
  if (!value) refuse(file, fmt::format("line {}: a quote is not closed", number));
  result.value = std::move(*value);
  return result;
}

// Values of one key: scalar or array. A literal index is one element (reassigning it replaces it);
// a variable index (`[$i]`, advanced by `let i++` between assignments) is a new element each time.
class Values {
 public:
  void set(const std::optional<std::string>& index, std::string value) {
    std::string key = index.value_or("0");
    bool literal = !key.empty() && key.find_first_not_of("0123456789") == std::string::npos;
    if (!literal) key = fmt::format("~{:08}", variable_++);
    elements_[literal ? fmt::format("{:08}", std::stoul(key.substr(0, 8))) : key] = std::move(value);
  }
  std::vector<std::string> all() const {
    std::vector<std::string> out;
    for (const auto& [index, value] : elements_) out.push_back(value);
    return out;
  }
  std::string scalar() const {
    auto found = elements_.find(fmt::format("{:08}", 0));
    return found == elements_.end() ? std::string() : found->second;
  }

 private:
  std::map<std::string, std::string> elements_;
  unsigned variable_ = 0;
};

}  // namespace

DkmsConf parse_dkms_conf_text(std::string_view text, const std::string& file) {
  std::map<std::string, Values> values;
  std::size_t number = 0;
  for (auto line : text::split(text, '\n')) {
    ++number;
    if (auto found = assignment(line, file, number)) values[found->key].set(found->index, std::move(found->value));
  }
  DkmsConf conf;
  conf.file = file;
  conf.name = std::string(text::trim(values["PACKAGE_NAME"].scalar()));
  conf.version = std::string(text::trim(values["PACKAGE_VERSION"].scalar()));
  for (const auto& module : values["BUILT_MODULE_NAME"].all()) {
    auto trimmed = text::trim(module);
    if (!trimmed.empty()) conf.built_modules.emplace_back(trimmed);
  }
  for (const auto& element : values["BUILD_DEPENDS"].all()) {
    for (auto word : text::split(element, ' ')) {
      auto trimmed = text::trim(word);
      if (!trimmed.empty()) conf.build_depends.emplace_back(trimmed);
    }
  }
  conf.autoinstall = !text::trim(values["AUTOINSTALL"].scalar()).empty();
  conf.post_install = values["POST_INSTALL"].scalar();
  for (const auto& [field, value] : {std::pair{"PACKAGE_NAME", &conf.name}, std::pair{"PACKAGE_VERSION", &conf.version}}) {
    if (value->empty()) refuse(file, fmt::format("{} is missing or empty", field));
  }
  if (conf.built_modules.empty()) refuse(file, fmt::format("module {} names no BUILT_MODULE_NAME", conf.name));
  return conf;
}

}  // namespace ibdriver::install
