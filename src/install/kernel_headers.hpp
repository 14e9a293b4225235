#pragma once
#include <string>
#include <vector>

#include "core/system_root.hpp"
#include "install/journal.hpp"
#include "install/package_manager.hpp"
#include "platform/package_family.hpp"

namespace ibdriver::install {

// Installs the headers packages of installed kernels that have none (platform::kernels_missing_headers:
// linux-headers-<kver> with apt, kernel-devel-<version> in the RPM family) from the distribution's
// configured repositories, so DKMS can build the drivers for every kernel the machine may boot. What
// the package manager will add is journaled before it runs (Journal::add_headers_packages), then what
// it added: uninstall removes exactly those, and a run killed half way converges on the next one.
// Returns the kernels that now have headers (/lib/modules/<kver>/build resolves inside the root).
// Error 14 naming the kernel and package when the manager cannot install it or the kernel still has
// no headers after; Error 14 for a kernel whose family names no headers package.
std::vector<std::string> install_kernel_headers(PackageManager& packages, const SystemRoot& root,
                                                const std::vector<platform::MissingHeaders>& missing, Journal& journal);

}  // namespace ibdriver::install
