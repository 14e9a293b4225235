#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace ibdriver::archive {

// An archive entry's path made safe to join to the target folder: "./a//b/./c" -> "a/b/c". nullopt
// with the reason when it is absolute, climbs with "..", is empty, holds a NUL, or is longer than
// max_length bytes (or has a component longer than 255).
struct PathVerdict {
  std::optional<std::string> path;
  std::string reason;
};
PathVerdict normalize_entry_path(std::string_view raw, std::size_t max_length);

// Whether a symlink at `link_path` (normalized, relative to the target) pointing at `target` stays
// inside the target folder when resolved lexically (absolute targets never do).
bool symlink_stays_inside(std::string_view link_path, std::string_view target);

}  // namespace ibdriver::archive
