#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/system_root.hpp"
#include "install/package_manager.hpp"

namespace ibdriver::install {

// The packages of a bundle's RPMS/ that carry kernel modules prebuilt for one kernel: MLNX_OFED's RPM
// bundles and DOCA up to 3.1 on RPM ship kmod-mlnx-ofa_kernel, kmod-iser... with no DKMS package, the
// modules under /lib/modules/<kernel>/extra/ (real-bundles.md, "RHEL RPMS/"; K mlnx-ofa_kernel.spec).
struct PrebuiltModules {
  std::vector<std::string> packages;  // package names ("kmod-mlnx-ofa_kernel"), sorted
  std::vector<std::string> kernels;   // the kernel releases their modules are built for ("5.14.0-427.13.1.el9_4.x86_64")
  bool empty() const { return packages.empty(); }
};

// Reads every .rpm of `folder` (a system path) with `rpm -qpl`; a package with a *.ko* file under
// /lib/modules/<kernel>/ (or /usr/lib/modules/) counts. Empty when none has (a DKMS bundle).
// Error (operation_failed) when rpm cannot read a package, naming the file.
PrebuiltModules find_prebuilt_modules(const std::filesystem::path& folder);

// Refuses, before anything is installed, prebuilt modules that fit no installed kernel. Fitting is the
// package manager's answer: a kmod's `Requires: kernel(<symbol>) = <crc>` are provided by the kernel
// package it was built for, so the dry run of installing `names` either does not resolve ("nothing
// provides kernel(...)") or resolves only by installing that kernel's package as well (dnf pulls
// kernel-core-<version> in when a repository has it). Error (operation_failed) naming the kernel the
// modules were built for, the installed ones and the manager's own lines, with both remedies: boot the
// kernel they were built for, or rebuild the bundle for this kernel with its mlnx_add_kernel_support.sh
// (`bundle_top`: the MLNX_OFED_LINUX-... folder, a host path shown in the command line).
void require_prebuilt_fit(PackageManager& packages, const std::vector<std::string>& names, const PrebuiltModules& prebuilt,
                          const std::vector<std::string>& installed_kernels, const std::filesystem::path& bundle_top);

// The module files (system paths) the installed `packages` hold, per kernel release: those under
// /lib/modules/<kernel>/, and the weak-updates links RHEL's weak-modules makes for kABI-compatible
// kernels (/lib/modules/<other>/weak-updates/... pointing at one of them).
std::map<std::string, std::vector<std::string>> prebuilt_module_files(PackageManager& packages, const SystemRoot& root,
                                                                      const std::vector<std::string>& names);

}  // namespace ibdriver::install
