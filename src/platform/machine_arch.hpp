#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "core/system_root.hpp"

namespace ibdriver::platform {

// The machine architecture in the catalog's spelling ("x86_64", "aarch64"): uname(2)'s machine field
// on the host root; under a fake root its proc/sys/kernel/arch (the kernel's `kernel.arch` sysctl,
// which holds what uname -m prints), else the host's. Debian's and RPM's names for the same machines
// (amd64, arm64) are read as these; any other value is returned as read (a catalog has no row for it).
std::string detect_machine_arch(const SystemRoot& root);

// "amd64" -> "x86_64", "arm64" -> "aarch64" (Debian's dpkg architectures, the names in NVIDIA's .deb
// bundles); x86_64 and aarch64 as they are; nullopt for anything else.
std::optional<std::string> canonical_arch(std::string_view name);

// The architecture a driver bundle's file name says it is for, nullopt when it says none:
// MLNX_OFED_LINUX-<ver>-<os>-x86_64.tgz / -aarch64.tgz, doca-host_..._amd64.deb / _arm64.deb,
// doca-host-....x86_64.rpm / .aarch64.rpm (real-bundles.md, "File names").
std::optional<std::string> bundle_arch_from_name(std::string_view file_name);

}  // namespace ibdriver::platform
