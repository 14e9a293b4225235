#pragma once
#include <filesystem>
#include <string>

#include "catalog/driver_release.hpp"

namespace ibdriver::install {

// An unpacked MLNX_OFED tarball: MLNX_OFED_LINUX-<ver>-<label>-x86_64/ with .mlnx, distro and DEBS/.
struct MofedBundle {
  std::filesystem::path top;        // the MLNX_OFED_LINUX-... folder
  std::filesystem::path debs;       // its flat apt repository (DEBS/, holding Packages)
  std::string version;              // from .mlnx
  std::string label;                // from distro
};

// Finds the bundle in `unpacked` and checks it is the release the catalog row describes: .mlnx must
// hold the row's version and distro the label in the row's file name (exit 14 with both values), and
// DEBS/ must be a flat apt repository (exit 14 naming what is there instead).
MofedBundle inspect_mofed_bundle(const std::filesystem::path& unpacked, const catalog::DriverRelease& release);

}  // namespace ibdriver::install
