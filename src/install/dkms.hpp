#pragma once
#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/system_root.hpp"

namespace ibdriver::install {

// A DKMS module as its dkms.conf describes it.
struct DkmsModule {
  std::string name;     // PACKAGE_NAME ("mlnx-ofed-kernel"; "mlnx-ofa_kernel" in the RPM flavour)
  std::string version;  // PACKAGE_VERSION
  std::vector<std::string> build_depends;  // BUILD_DEPENDS: modules to build first
  std::filesystem::path conf;
};

// Reads PACKAGE_NAME, PACKAGE_VERSION and BUILD_DEPENDS from a dkms.conf (shell assignments).
DkmsModule parse_dkms_conf(const std::string& text, const std::filesystem::path& file);

// Orders modules so that every BUILD_DEPENDS comes first (dependencies outside the set are ignored:
// DKMS checks them itself). Error (operation_failed) on a cycle.
std::vector<DkmsModule> build_order(std::vector<DkmsModule> modules);

// Which kernels DKMS has the module installed for, read from DKMS's own tree the way `dkms status`
// decides it (the kernel-<release>-<arch> link to <version>/<release>/<arch>), without running the
// script: a re-run on a provisioned machine must be fast.
std::set<std::string> dkms_installed_kernels(const SystemRoot& root, const std::string& name, const std::string& version);

// The DKMS builds that finished at or after `since_epoch` (seconds since 1970: a packages stage's
// start, whose postinsts built them), per kernel in the order they finished: the seconds of all the
// kernel's module builds. A build's seconds run from its make.log's start line to the file's last
// write; dkms's actual_build() writes "DKMS make.log for M-V for kernel K (ARCH)" then `date` (C
// locale: apt and dnf run with LC_ALL=C) before make, and moves the log to
// /var/lib/dkms/M/V/K/ARCH/log/make.log when it succeeds (dkms 2.8 and 3.x alike). One-second
// resolution; a log that does not parse, or a zone other than UTC or the local one, is left out.
std::vector<std::pair<std::string, double>> dkms_builds_since(const SystemRoot& root, double since_epoch);

// The start time (seconds since 1970) in a make.log's `date` line ("Wed Dec  2 03:50:01 UTC 2026"),
// or nothing. UTC/GMT are read as such, this machine's own zone by its names (tzname), any other
// zone is nothing (its offset is unknown here). Exposed for tests and fuzzing.
std::optional<double> make_log_start(std::string_view date_line);

// The module files DKMS built for the kernel (<dkms>/<name>/<version>/<kernel>/<arch>/module/*) that
// are not in place: not listed in /lib/modules/<kernel>/modules.dep, or listed but gone. DKMS's tree
// can say "installed" while someone deleted the files; this is what the kernel would find.
std::vector<std::string> dkms_missing_module_files(const SystemRoot& root, const std::string& name,
                                                   const std::string& version, const std::string& kernel);

// Where the module files of a DKMS module are installed for a kernel (system paths), from modules.dep.
std::vector<std::string> dkms_installed_module_files(const SystemRoot& root, const std::string& name,
                                                     const std::string& version, const std::string& kernel);

struct DkmsSettings {
  int jobs = 0;  // parallel make jobs; 0: the number of processors
  std::chrono::seconds build_timeout{3600};
};

// The real `dkms` command.
class Dkms {
 public:
  explicit Dkms(DkmsSettings settings) : settings_(settings) {}
  // Whether `dkms status` shows the module installed for the kernel.
  bool installed(const DkmsModule& module, const std::string& kernel) const;
  // Builds and installs for one kernel; Error naming the module, the kernel, the make.log and its tail.
  void install(const DkmsModule& module, const std::string& kernel) const;
  // Uninstalls and unbuilds the module for one kernel only (it stays registered for the others).
  void unbuild(const DkmsModule& module, const std::string& kernel) const;
  // Removes the module from every kernel and from the DKMS tree.
  void remove(const std::string& name, const std::string& version) const;

 private:
  DkmsSettings settings_;
};

}  // namespace ibdriver::install
