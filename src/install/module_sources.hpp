#pragma once
#include <string>
#include <vector>

#include "core/system_root.hpp"
#include "install/dkms.hpp"
#include "install/package_manager.hpp"

namespace ibdriver::install {

// The core OFED module is "mlnx-ofed-kernel" in the .deb flavour and "mlnx-ofa_kernel" in the .rpm
// flavour; a BUILD_DEPENDS naming one means the other when only the other is in the set.
bool same_core_module(const std::string& a, const std::string& b);

// The DKMS modules the installed packages carry (their /usr/src/<name>-<version>/dkms.conf, read
// inside the root), in build order: BUILD_DEPENDS first, either flavour of the core module's name.
std::vector<DkmsModule> dkms_modules_of(PackageManager& packages, const SystemRoot& root,
                                        const std::vector<std::string>& package_names);

// The order to build a bundle's modules in (install/dkms_order.hpp's rule: declared BUILD_DEPENDS,
// then the OFED core before every module known to link against it, then by name), with the core added
// to the BUILD_DEPENDS of each such module so that rebuilding the core rebuilds them too. Error 14 for
// a cycle, or a dependency neither the set nor DKMS on this root has.
std::vector<DkmsModule> ofed_build_order(const SystemRoot& root, std::vector<DkmsModule> modules);

// Rewrites BUILD_DEPENDS on the core module to the name the set actually has (see same_core_module).
std::vector<DkmsModule> with_core_module_names(std::vector<DkmsModule> modules);

}  // namespace ibdriver::install
