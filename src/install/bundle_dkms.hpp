#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "install/dkms_order.hpp"

namespace ibdriver::install {

// A package file of the bundle and its package name (as the package manager names it:
// PackageManager::package_name_of).
struct PackageFile {
  std::filesystem::path file;
  std::string name;
};

// The DKMS modules the package files carry, read before the package manager runs, so that the
// install can be ordered: each payload (a .deb's data.tar.*, an .rpm's cpio) is listed with libarchive
// and, when it holds /usr/src/<dir>/dkms.conf, unpacked safely into a folder below `scratch` (removed
// afterwards) and read with parse_dkms_conf_text. links_core is set when a build file of that source
// tree (makefile, Makefile, Kbuild, *.mk, *.sh) names /usr/src/ofa_kernel, where the core's post-build
// step leaves its Module.symvers (K drivers/infiniband/ulp/iser/_makefile_). Errors name the package
// file and the dkms.conf (operation_failed); an unreadable or hostile package is refused as unpack does.
std::vector<BundleDkmsModule> bundle_dkms_modules(const std::vector<PackageFile>& packages, const std::filesystem::path& scratch);

}  // namespace ibdriver::install
