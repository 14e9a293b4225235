#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "platform/kernels.hpp"
#include "platform/os_release.hpp"

namespace ibdriver::platform {

// Which package manager the OS installs with.
enum class PackageFamily { apt, dnf, yum, zypper, tdnf, unknown };
std::string_view to_string(PackageFamily family);

// ID and ID_LIKE decide: Debian/Ubuntu -> apt; RHEL family 8+ and Fedora -> dnf, 7 -> yum;
// SUSE -> zypper; Azure Linux and CBL-Mariner -> tdnf.
PackageFamily package_family(const OsRelease& os);
// The family of the root's OS; unknown when its os-release cannot be read (read_os_release's Error).
PackageFamily package_family_of(const SystemRoot& root);

// The package that brings the headers DKMS builds a kernel's modules against, by the distributions'
// naming: apt "linux-headers-<release>" (Debian, Ubuntu); dnf, yum and tdnf "kernel-devel-<release>"
// (uname -r is the package's version-release.arch on RHEL, version-release on Azure Linux); zypper
// "kernel-<flavor>-devel-<version>" ("5.14.21-150500.55.39-default" -> kernel-default-devel-5.14.21-150500.55.39).
// Empty for an unknown family.
std::string kernel_headers_package(PackageFamily family, std::string_view kernel_release);

struct MissingHeaders {
  std::string kernel;   // "6.8.0-1021-azure"
  std::string package;  // "linux-headers-6.8.0-1021-azure"
};

// The installed kernels newer than the running one (what the next boot runs, e.g. after an unattended
// upgrade) that have no headers, so DKMS cannot build the drivers for them; every kernel without
// headers when the running one is unknown. Older kernels are left out: they are not booted by default.
std::vector<MissingHeaders> kernels_missing_headers(const KernelInventory& kernels, PackageFamily family);

}  // namespace ibdriver::platform
