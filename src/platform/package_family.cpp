#include "platform/package_family.hpp"

#include <algorithm>

namespace ibdriver::platform {

std::string_view to_string(PackageFamily family) {
  switch (family) {
    case PackageFamily::apt: return "apt";
    case PackageFamily::dnf: return "dnf";
    case PackageFamily::yum: return "yum";
    case PackageFamily::zypper: return "zypper";
    case PackageFamily::tdnf: return "tdnf";
    case PackageFamily::unknown: return "unknown";
  }
  return "unknown";
}

PackageFamily package_family(const OsRelease& os) {
  auto is = [&](std::string_view name) {
    return os.id == name || std::find(os.id_like.begin(), os.id_like.end(), name) != os.id_like.end();
  };
  if (is("azurelinux") || is("mariner")) return PackageFamily::tdnf;
  if (is("debian") || is("ubuntu")) return PackageFamily::apt;
  if (is("suse") || is("sles") || is("opensuse")) return PackageFamily::zypper;
  if (is("rhel") || is("centos") || is("fedora")) {
    return os.id != "fedora" && os.major() >= 0 && os.major() < 8 ? PackageFamily::yum : PackageFamily::dnf;
  }
  return PackageFamily::unknown;
}

}  // namespace ibdriver::platform
