#pragma once
#include <set>
#include <string>
#include <vector>

#include "install/dkms_conf.hpp"

namespace ibdriver::install {

// A DKMS module of a bundle and the package that carries it.
struct BundleDkmsModule {
  DkmsConf conf;
  std::string package;      // the package name ("iser-dkms", "mlnx-ofa_kernel-dkms")
  bool links_core = false;  // its build files name the core's /usr/src/ofa_kernel tree (see bundle_dkms.hpp)
};

// Whether a DKMS module name is the OFED core: "mlnx-ofed-kernel" (.deb) or "mlnx-ofa_kernel" (.rpm,
// and the name the DOCA 3.2 RPM specs write into the ULPs' BUILD_DEPENDS).
bool is_ofed_core(const std::string& name);

// Whether the module is known to link against the core's Module.symvers: NVIDIA's ULP modules (iser,
// isert, srp, mlnx-nvme, mlnx-nfsrdma, mlnx-rdma-rxe, virtiofs: the loop of dkms_build_ulps.sh and the
// RPM specs that add BUILD_DEPENDS="mlnx-ofa_kernel"), or one whose build files name the core's tree.
bool links_against_core(const BundleDkmsModule& module);

// The bundle's modules in the order to build them, with each one's depth: 0 for a module that
// depends on nothing of the bundle, else one more than its deepest dependency.
struct DkmsBuildOrder {
  std::vector<BundleDkmsModule> modules;
  std::vector<int> depth;  // parallel to modules
};

// The rule (documented in the README, "DKMS build order"):
//  1. declared: a module named in BUILD_DEPENDS is built first; the core's two names are one module;
//  2. known: the OFED core is built before every other module of the bundle that links against it
//     (links_against_core), whether or not that module declares it: the .deb ULPs declare nothing, sort
//     before the core by name, and fail (or build against the wrong kernel's tree) without its
//     Module.symvers (real-bundles.md; Azure's images hit it on every kernel update). A known edge that
//     would close a cycle with declared ones is left out: what the package says wins;
//  3. otherwise by name, as DKMS's autoinstall does.
// Bad input is Error (operation_failed) naming the module and its file: two packages carrying the same
// module; a BUILD_DEPENDS naming a module no package of the bundle builds and not in `elsewhere`
// (modules already registered with DKMS on the machine); declared dependencies that form a cycle.
DkmsBuildOrder dkms_build_order(std::vector<BundleDkmsModule> modules, const std::set<std::string>& elsewhere = {});

// The DKMS packages grouped into package-manager transactions in dependency order: a *-dkms package
// builds in its postinst (dh_dkms, RPM %post) in the package manager's own order, so the packages of
// depth-0 modules (the core's) go in the first transaction, then each next depth; a package carrying
// modules of several depths goes with its deepest. The caller installs the rest (the profile) last.
std::vector<std::vector<std::string>> install_transactions(const DkmsBuildOrder& order);

}  // namespace ibdriver::install
