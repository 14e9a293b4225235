#pragma once
#include <chrono>
#include <functional>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/system_root.hpp"
#include "install/journal.hpp"
#include "platform/package_family.hpp"

namespace ibdriver::install {

// A driver bundle's package folder made into a repository the package manager installs from.
struct LocalRepository {
  std::string name;                 // "ibdriver": names the source/repo file
  std::filesystem::path directory;  // system path of the folder holding the packages and their index
};

// Which kind of package file the manager installs (and so which of a bundle's folders it uses).
enum class PackageFormat { deb, rpm };
std::string_view to_string(PackageFormat format);
PackageFormat package_format(platform::PackageFamily family);

// What the package manager would do for an install, asked without changing anything (apt-get -s,
// dnf/yum/tdnf --assumeno, zypper --dry-run).
struct DryRun {
  bool resolved = false;              // every dependency was found: the transaction would run
  std::vector<std::string> installs;  // the packages it would newly install
  std::string problems;               // when not resolved: the tool's own lines ("nothing provides ...")
};

// The narrow interface every distro's package manager is used through (apt; dnf, yum and tdnf; zypper).
// Always non-interactive; a lock held by another process is waited for (with a message) up to
// lock_timeout; failures quote the tool's own error lines.
class PackageManager {
 public:
  virtual ~PackageManager() = default;
  virtual std::string name() const = 0;
  virtual PackageFormat format() const = 0;
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

  // Installs one local package file (a DOCA-host repository package; system path), with what it
  // needs; returns the packages that were not installed before.
  virtual std::vector<std::string> install_file(const std::filesystem::path& package_file) = 0;
  // The name of the package a local package file holds (Error when it is not a readable package).
  virtual std::string package_name_of(const std::filesystem::path& package_file) = 0;
  // Whether a system path is a package source definition this manager reads
  // (/etc/apt/sources.list.d/*.list, /etc/yum.repos.d/*.repo, /etc/zypp/repos.d/*.repo).
  virtual bool is_source_file(const std::string& path) const = 0;
  // Refreshes the repositories one source file defines (one a package installed), and no other.
  virtual void refresh_source(const std::string& source_file) = 0;
  // The packages that installing `packages` would newly install (a dry run): journaled before the
  // real run, so that a run that fails half way (a postinst whose DKMS build fails) is still undone.
  virtual std::vector<std::string> would_install(const std::vector<std::string>& packages) = 0;
  // Whether installing `packages` resolves, and what it would add (nothing changes): the package
  // manager's own answer, e.g. whether prebuilt kmods fit an installed kernel (Requires: kernel(...)).
  virtual DryRun dry_run(const std::vector<std::string>& packages) = 0;
  // The installed packages that installing `packages` would upgrade in place (a dry run: nothing
  // changes), with their current versions.
  virtual std::vector<ReplacedPackage> would_replace(const std::vector<std::string>& packages) = 0;
  // Keeps a copy of each package's current file in `folder` (a system path): from the package cache,
  // else downloaded from the configured repositories; sets kept_file, left empty when neither has it.
  virtual void keep_files(std::vector<ReplacedPackage>& replaced, const std::string& folder) = 0;
  // Keeps the distribution's own repositories from offering the packages the bundle's repositories
  // (`bundle_sources`: their source files, system paths) also carry. On EL9 the distro's RDMA packages
  // in `baseos` conflict with the bundle's (AlmaLinux/Rocky 9.8's libibverbs-61.0-2.el9 against
  // DOCA's: "cannot install both"), so Azure's images exclude them there (azure-images-2026.md;
  // Azure/azhpc-images components/install_doca.sh: the bundle's packages that `dnf repoquery
  // --repo=baseos` finds). Each file is given to `record` before it is edited (uninstall restores it);
  // returns the names excluded.
  virtual std::vector<std::string> exclude_from_distribution(const std::vector<std::string>& bundle_sources,
                                                             const std::function<void(const ConfigChange&)>& record) = 0;
  // Puts the recorded versions back (the kept files, else the repositories); returns the names of the
  // packages it could not restore.
  virtual std::vector<std::string> restore(const std::vector<ReplacedPackage>& replaced) = 0;
};

struct PackageManagerSettings {
  std::chrono::seconds lock_timeout{600};  // unattended-upgrades and cloud-init hold the lock at boot
  std::chrono::seconds command_timeout{3600};
};

// The implementation for this OS family (install/make_package_manager.cpp); Error (os_not_supported)
// for an unknown family.
std::unique_ptr<PackageManager> make_package_manager(platform::PackageFamily family, const SystemRoot& root,
                                                     const PackageManagerSettings& settings);

}  // namespace ibdriver::install
