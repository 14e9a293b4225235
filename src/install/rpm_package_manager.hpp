#pragma once
#include <set>

#include "core/process.hpp"
#include "install/package_manager.hpp"
#include "install/rpm_commands.hpp"
#include "install/rpm_lock.hpp"

namespace ibdriver::install {

// dnf (RHEL 8+, AlmaLinux, Rocky), yum (EL7), tdnf (Azure Linux, CBL-Mariner) and zypper (SLES), with
// rpm for queries. The bundle's RPMS/ becomes the repository "ibdriver" (a .repo file in
// /etc/yum.repos.d, or /etc/zypp/repos.d for zypper), indexed with createrepo_c when it has no
// repodata/, refreshed on its own. A root other than "/" is passed as --installroot (dnf, yum,
// tdnf) or --root (zypper, rpm), with --releasever and the root's own repo folder.
class RpmPackageManager : public PackageManager {
 public:
  // releasever: for a root other than "/" (empty: VERSION_ID from the root's os-release).
  RpmPackageManager(RpmFrontEnd tool, const SystemRoot& root, const PackageManagerSettings& settings,
                    std::string releasever = {});
  std::string name() const override { return std::string(to_string(context_.tool)); }
  PackageFormat format() const override { return PackageFormat::rpm; }
  std::vector<std::string> add_repository(const LocalRepository& repository) override;
  void remove_repository(const std::vector<std::string>& files) override;
  std::vector<std::string> install(const std::vector<std::string>& packages) override;
  void remove(const std::vector<std::string>& packages) override;
  std::vector<std::string> not_installed(const std::vector<std::string>& packages) override;
  std::vector<std::string> files_of(const std::string& package) override;
  std::vector<std::string> install_file(const std::filesystem::path& package_file) override;
  std::string package_name_of(const std::filesystem::path& package_file) override;
  bool is_source_file(const std::string& path) const override;
  void refresh_source(const std::string& source_file) override;
  std::vector<std::string> would_install(const std::vector<std::string>& packages) override;
  DryRun dry_run(const std::vector<std::string>& packages) override;
  // dnf only (it has repoquery): excludepkgs= in the `baseos` repositories' sections (RHEL's
  // *-baseos-rpms too). yum, tdnf and zypper: nothing (their distributions ship no conflicting set).
  std::vector<std::string> exclude_from_distribution(const std::vector<std::string>& bundle_sources,
                                                     const std::function<void(const ConfigChange&)>& record) override;
  std::vector<ReplacedPackage> would_replace(const std::vector<std::string>& packages) override;
  void keep_files(std::vector<ReplacedPackage>& replaced, const std::string& folder) override;
  std::vector<std::string> restore(const std::vector<ReplacedPackage>& replaced) override;

  const RpmCommandContext& context() const { return context_; }
  // The system folder this front end reads .repo files from.
  std::string repository_folder() const;

 private:
  std::set<std::string> installed_names();
  ProcessResult run_tool(const std::vector<std::string>& argv);
  std::vector<std::string> run_install(const std::vector<std::string>& arguments, const std::vector<std::string>& expected);
  SystemRoot root_;
  PackageManagerSettings settings_;
  RpmCommandContext context_;
  RpmLocks locks_;
};

}  // namespace ibdriver::install
