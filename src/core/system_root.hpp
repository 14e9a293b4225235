#pragma once
#include <filesystem>
#include <optional>
#include <string_view>

namespace ibdriver {

// The system ibdriver reads and changes: "/" on a real machine, a fake tree in tests and in the
// simulated VM. sysfs may live elsewhere (--sysfs-root), so a real VM can be given a fake platform.
class SystemRoot {
 public:
  explicit SystemRoot(std::filesystem::path root = "/", std::optional<std::filesystem::path> sysfs = {});

  const std::filesystem::path& root() const noexcept { return root_; }
  const std::filesystem::path& sysfs() const noexcept { return sysfs_; }
  bool is_host_root() const noexcept { return root_ == "/"; }

  // A system path ("/etc/os-release" or "etc/os-release") as seen from here.
  std::filesystem::path path(std::string_view system_path) const;
  // A path below the sysfs root ("bus/pci/devices").
  std::filesystem::path sysfs_path(std::string_view relative) const;
  // Follows symlinks the way the system itself would: absolute targets stay inside the root.
  // Returns nullopt when the path (or a link on the way) does not exist or loops.
  std::optional<std::filesystem::path> resolve(std::string_view system_path) const;

 private:
  std::filesystem::path root_;
  std::filesystem::path sysfs_;
};

}  // namespace ibdriver
