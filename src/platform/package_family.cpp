#include "platform/package_family.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.hpp"

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

namespace ibdriver::platform {

PackageFamily package_family_of(const SystemRoot& root) {
  try {
    return package_family(read_os_release(root));
  } catch (const Error&) {
    return PackageFamily::unknown;
  }
}

std::string kernel_headers_package(PackageFamily family, std::string_view kernel_release) {
  std::string release(kernel_release);
  switch (family) {
    case PackageFamily::apt: return "linux-headers-" + release;
    case PackageFamily::dnf:
    case PackageFamily::yum:
    case PackageFamily::tdnf: return "kernel-devel-" + release;
    case PackageFamily::zypper: {
      auto dash = release.rfind('-');
      if (dash == std::string::npos || dash + 1 == release.size()) return "kernel-default-devel-" + release;
      return fmt::format("kernel-{}-devel-{}", release.substr(dash + 1), release.substr(0, dash));
    }
    case PackageFamily::unknown: return {};
  }
  return {};
}

std::vector<MissingHeaders> kernels_missing_headers(const KernelInventory& kernels, PackageFamily family) {
  std::vector<MissingHeaders> missing;
  for (const auto& kernel : kernels.installed) {
    if (kernel.has_headers) continue;
    if (!kernels.running.empty() && !kernel_release_less(kernels.running, kernel.release)) continue;
    missing.push_back({kernel.release, kernel_headers_package(family, kernel.release)});
  }
  return missing;
}

}  // namespace ibdriver::platform
