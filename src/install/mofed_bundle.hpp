#pragma once
#include <filesystem>
#include <string>

#include "catalog/driver_release.hpp"
#include "install/package_manager.hpp"

namespace ibdriver::install {

// An unpacked MLNX_OFED tarball: MLNX_OFED_LINUX-<ver>-<label>-x86_64/ with .mlnx, distro, and DEBS/
// (Debian, Ubuntu) or RPMS/ (RHEL family, SLES, Azure Linux).
struct MofedBundle {
  std::filesystem::path top;         // the MLNX_OFED_LINUX-... folder
  std::filesystem::path repository;  // DEBS/ (a flat apt repository, holding Packages) or RPMS/ (*.rpm)
  PackageFormat format = PackageFormat::deb;
  std::string version;               // from .mlnx
  std::string label;                 // from distro
};

// Finds the bundle in `unpacked` and checks it is the release the catalog row describes: .mlnx must
// hold the row's version and distro the label in the row's file name (exit 14 with both values), and
// it must hold packages of the format this OS installs: DEBS/ a flat apt repository, or RPMS/ with
// .rpm files (its repodata/ is made when missing) (exit 14 naming what is there instead).
MofedBundle inspect_mofed_bundle(const std::filesystem::path& unpacked, const catalog::DriverRelease& release,
                                 PackageFormat format = PackageFormat::deb);

}  // namespace ibdriver::install
