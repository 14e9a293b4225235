#pragma once
#include <string_view>

#include "platform/os_release.hpp"

namespace ibdriver::platform {

// Which package manager the OS installs with.
enum class PackageFamily { apt, dnf, yum, zypper, tdnf, unknown };
std::string_view to_string(PackageFamily family);

// ID and ID_LIKE decide: Debian/Ubuntu -> apt; RHEL family 8+ and Fedora -> dnf, 7 -> yum;
// SUSE -> zypper; Azure Linux and CBL-Mariner -> tdnf.
PackageFamily package_family(const OsRelease& os);

}  // namespace ibdriver::platform
