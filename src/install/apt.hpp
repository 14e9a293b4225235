#pragma once
#include "core/process.hpp"
#include "install/package_manager.hpp"

namespace ibdriver::install {

// apt/dpkg: the bundle's flat repository becomes a `deb [trusted=yes] file:` source (trusted because
// the bundle's SHA-256 was verified), refreshed alone so an offline machine never asks the network.
class AptPackageManager : public PackageManager {
 public:
  AptPackageManager(const SystemRoot& root, const PackageManagerSettings& settings);
  std::string name() const override { return "apt"; }
  PackageFormat format() const override { return PackageFormat::deb; }
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
  // Nothing to exclude: the bundle's versions sort above the distribution's (2410mlnx54 > 44.0), and
  // apt keeps the highest.
  std::vector<std::string> exclude_from_distribution(const std::vector<std::string>& /*bundle_sources*/,
                                                     const std::function<void(const ConfigChange&)>& /*record*/) override {
    return {};
  }
  std::vector<ReplacedPackage> would_replace(const std::vector<std::string>& packages) override;
  void keep_files(std::vector<ReplacedPackage>& replaced, const std::string& folder) override;
  std::vector<std::string> restore(const std::vector<ReplacedPackage>& replaced) override;

 private:
  // Runs an apt-get or dpkg command once every dpkg lock is free, and again while the tool fails only
  // because another process took a lock first, until the lock wait runs out.
  ProcessResult run_locked(const std::vector<std::string>& argv) const;
  void finish_interrupted_dpkg() const;
  // apt-get's simulation of installing the packages (its "Inst ..." lines).
  std::string simulate(const std::vector<std::string>& packages) const;
  // `apt-get install` of names or ./files; returns the packages newly installed.
  std::vector<std::string> install_arguments(const std::vector<std::string>& arguments);
  SystemRoot root_;
  PackageManagerSettings settings_;
};

}  // namespace ibdriver::install
