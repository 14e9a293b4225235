#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/system_root.hpp"
#include "install/journal.hpp"

namespace ibdriver::install {

// ibdriver's kernel hook: builds the bundle's DKMS modules in ibdriver's build order (dkms_order.hpp)
// for a kernel installed later, before DKMS's own hook runs.
//
// Why: DKMS's autoinstall orders by name and declared BUILD_DEPENDS only, so on a new kernel it builds
// NVIDIA's .deb ULPs (iser, isert, srp: no BUILD_DEPENDS) before mlnx-ofed-kernel and they fail
// (dkms exits 11, run-parts fails, the kernel package's configure fails: real-bundles.md, Azure's
// images). An /etc/dkms/<module>.conf override does not help with Debian 12's dkms 3.0.10: autoinstall()
// reads each dkms.conf through read_conf with $module unset, so the /etc/dkms/$module.conf it sources
// there is "/etc/dkms/.conf" (dkms 3.0.10 read_conf and autoinstall).
// Debian 11's dkms 2.8.4 ignores it the same way (and its hook then exits 0 with the ULP unbuilt);
// Debian 13's dkms 3.2.2 does read it (all three tested by hand and in ci/dkms-hook-test), so an override
// file alone would fix only 13. Editing the registered dkms.conf changes a file the package owns and is
// lost on upgrade. This hook
// is ibdriver's own file, names modules, not versions (it builds the newest version DKMS has registered,
// as autoinstall does), so a driver upgrade keeps it right; `repair` re-applies it.
//
// Where (system paths), each written when its folder exists:
//   /etc/kernel/postinst.d/01-ibdriver-dkms          run-parts by the kernel image's postinst (Debian,
//                                                    Ubuntu; DKMS's own hook there is `dkms`, after ours)
//   /etc/kernel/header_postinst.d/01-ibdriver-dkms   run-parts by linux-headers' postinst (Debian, Ubuntu)
//   /etc/kernel/install.d/39-ibdriver-dkms.install   kernel-install plugin (RHEL family: DKMS's is
//                                                    40-dkms.install) -- written, not tested here
// The script exits 0 even when a build fails: DKMS's own hook then runs and reports the failure as it
// always would; the hook only removes the ordering failure.

// The hook's text for DKMS module names in build order ("mlnx-ofed-kernel", "iser", ...). Error
// (operation_failed) for a name that is not [A-Za-z0-9._+-]+ (it goes into a shell script).
std::string kernel_hook_script(const std::vector<std::string>& modules_in_order);

// The hook's files (system paths) on this root, by which folders exist.
std::vector<std::string> kernel_hook_files(const SystemRoot& root);

// Writes the hook. Each change is handed to `record` (a ConfigChange: "created", or "edited" with the
// content it replaces) before the file is written, as configure_node does, so uninstall can undo it
// with restore_configuration; a file that already holds the same script is left alone.
void install_kernel_hook(const SystemRoot& root, const std::vector<std::string>& modules_in_order,
                         const std::function<void(const ConfigChange&)>& record);

// Whether every hook file holds the script for these modules (status, repair).
bool kernel_hook_installed(const SystemRoot& root, const std::vector<std::string>& modules_in_order);

}  // namespace ibdriver::install
