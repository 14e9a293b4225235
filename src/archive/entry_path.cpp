#include "archive/entry_path.hpp"

#include <vector>

#include <fmt/format.h>

#include "core/text.hpp"

namespace ibdriver::archive {

PathVerdict normalize_entry_path(std::string_view raw, std::size_t max_length) {
  if (raw.find('\0') != std::string_view::npos) return {std::nullopt, "the path holds a NUL byte"};
  if (raw.size() > max_length) return {std::nullopt, fmt::format("the path is longer than {} bytes", max_length)};
  if (!raw.empty() && raw.front() == '/') return {std::nullopt, "the path is absolute"};
  std::vector<std::string_view> parts;
  for (auto part : text::split(raw, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") return {std::nullopt, "the path climbs out with \"..\""};
    if (part.size() > 255) return {std::nullopt, "a path component is longer than 255 bytes"};
    parts.push_back(part);
  }
  if (parts.empty()) return {std::string("."), {}};  // the archive's root ("./")
  std::string path;
  for (auto part : parts) {
    if (!path.empty()) path += '/';
    path += part;
  }
  return {path, {}};
}

bool symlink_stays_inside(std::string_view link_path, std::string_view target) {
  if (target.empty() || target.front() == '/') return false;
  // Start from the folder holding the link; every ".." must stay at depth >= 0.
  int depth = 0;
  auto link_parts = text::split(link_path, '/');
  for (std::size_t i = 0; i + 1 < link_parts.size(); ++i) {
    if (!link_parts[i].empty() && link_parts[i] != ".") ++depth;
  }
  for (auto part : text::split(target, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (--depth < 0) return false;
    } else {
      ++depth;
    }
  }
  return true;
}

}  // namespace ibdriver::archive
