// Any bytes as an archive entry path and a symlink target: the checks never crash, and what they
// accept never climbs out of the target.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "archive/entry_path.hpp"
#include "core/text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto split = text.find('\n');
  auto path = text.substr(0, split);
  auto target = split == std::string_view::npos ? std::string_view() : text.substr(split + 1);
  auto verdict = ibdriver::archive::normalize_entry_path(path, 4096);
  if (verdict.path) {
    const auto& normalized = *verdict.path;
    if (normalized.empty() || normalized.front() == '/') std::abort();  // accepted paths are relative
    for (auto component : ibdriver::text::split(normalized, '/')) {
      if (component == ".." || component.empty()) std::abort();  // and never climb
    }
    (void)ibdriver::archive::symlink_stays_inside(normalized, target);
  }
  return 0;
}
