#pragma once
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/system_root.hpp"
#include "platform/package_family.hpp"

namespace ibdriver::install {

// A driver bundle's package folder made into a repository the package manager installs from.
struct LocalRepository {
  std::string name;                 // "ibdriver": names the source/repo file
  std::filesystem::path directory;  // system path of the folder holding the packages and their index
};

// The narrow interface every distro's package manager is used through (apt here; dnf/yum, zypper and
// tdnf follow the same shape). Always non-interactive; a lock held by another process is waited for
// (with a message) up to lock_timeout; failures quote the tool's own error lines.
class PackageManager {
 public:
  virtual ~PackageManager() = default;
  virtual std::string name() const = 0;
  // Registers the repository in the manager's own way; returns the files it wrote (for uninstall).
  virtual std::vector<std::string> add_repository(const LocalRepository& repository) = 0;
  virtual void remove_repository(const std::vector<std::string>& files) = 0;
  // Installs the packages; returns those that were not installed before (what uninstall removes).
  virtual std::vector<std::string> install(const std::vector<std::string>& packages) = 0;
  virtual void remove(const std::vector<std::string>& packages) = 0;
  // Those of the packages that are not installed (one query for all).
  virtual std::vector<std::string> not_installed(const std::vector<std::string>& packages) = 0;
  // The files a package installed (to find its dkms.conf).
  virtual std::vector<std::string> files_of(const std::string& package) = 0;
};

struct PackageManagerSettings {
  std::chrono::seconds lock_timeout{600};  // unattended-upgrades and cloud-init hold the lock at boot
  std::chrono::seconds command_timeout{3600};
};

// The implementation for this OS family; Error (os_not_supported) for families without one yet.
std::unique_ptr<PackageManager> make_package_manager(platform::PackageFamily family, const SystemRoot& root,
                                                     const PackageManagerSettings& settings);

}  // namespace ibdriver::install
