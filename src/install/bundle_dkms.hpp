#pragma once
#include <array>
#include <filesystem>
#include <string>
#include <string_view>
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

// Where the OFED core's post-build step (K ofed_scripts/dkms_ofed_post_build.sh) copies each kernel's
// Module.symvers and configure.mk.kernel, outside any package: /usr/src/ofa_kernel/<arch>/<kernel>
// (<= 25.07) or /usr/src/ofa_kernel-dkms/<arch>/<kernel> behind a link there (25.10). The core's prerm
// removes only the alternatives' entries; only K's newest postrm removes /usr/src/ofa_kernel-dkms. A
// tree left behind misleads the next install: the ULPs' makefiles take its folders for a core build.
inline constexpr std::array<std::string_view, 2> ofed_build_trees{"/usr/src/ofa_kernel-dkms", "/usr/src/ofa_kernel"};

}  // namespace ibdriver::install
