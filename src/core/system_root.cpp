#include "core/system_root.hpp"

#include <algorithm>
#include <system_error>
#include <vector>

namespace ibdriver {

namespace fs = std::filesystem;

namespace {
fs::path relative_part(std::string_view system_path) {
  while (!system_path.empty() && system_path.front() == '/') system_path.remove_prefix(1);
  return fs::path(system_path);
}
}  // namespace

SystemRoot::SystemRoot(fs::path root, std::optional<fs::path> sysfs)
    : root_(root.empty() ? fs::path("/") : std::move(root)),
      sysfs_(sysfs ? std::move(*sysfs) : root_ / "sys") {}

fs::path SystemRoot::path(std::string_view system_path) const { return root_ / relative_part(system_path); }

fs::path SystemRoot::sysfs_path(std::string_view relative) const { return sysfs_ / relative_part(relative); }

std::optional<fs::path> SystemRoot::resolve(std::string_view system_path) const {
  // Walk component by component inside the root, as a chroot'ed kernel would.
  std::vector<fs::path> pending;
  for (const auto& part : relative_part(system_path)) pending.push_back(part);
  std::reverse(pending.begin(), pending.end());
  fs::path current;  // relative to root_
  int links_followed = 0;
  while (!pending.empty()) {
    fs::path part = pending.back();
    pending.pop_back();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      current = current.has_parent_path() ? current.parent_path() : fs::path();
      continue;
    }
    fs::path candidate = current / part;
    std::error_code error;
    auto status = fs::symlink_status(root_ / candidate, error);
    if (error || !fs::exists(status)) return std::nullopt;
    if (!fs::is_symlink(status)) {
      current = candidate;
      continue;
    }
    if (++links_followed > 40) return std::nullopt;  // ELOOP, as the kernel counts
    fs::path target = fs::read_symlink(root_ / candidate, error);
    if (error) return std::nullopt;
    if (target.is_absolute()) {
      current.clear();
      target = target.relative_path();
    }
    std::vector<fs::path> parts(target.begin(), target.end());
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) pending.push_back(*it);
  }
  return root_ / current;
}

}  // namespace ibdriver
