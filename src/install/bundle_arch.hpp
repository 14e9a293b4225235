#pragma once
#include <filesystem>
#include <optional>
#include <string>

namespace ibdriver::install {

// What a bundle's contents say about the machine architecture they are for.
struct ContentArch {
  std::string arch;      // "x86_64" or "aarch64" (platform::canonical_arch)
  std::string evidence;  // the file that says so, relative to the folder searched, e.g. "DEBS/ibacm_..._arm64.deb"
};

// The first package file under `folder` (at most 4 levels down, the layouts of real-bundles.md: an
// MLNX_OFED tree's DEBS/ or RPMS/, a DOCA-host package's usr/share/doca-host-*/repo/) whose name states
// an architecture other than `expected` (`_arm64.deb`, `.x86_64.rpm`, ...; `_all.deb` and `.noarch.rpm`
// state none), and an MLNX_OFED tree's top-level `.arch` file (MLNX_OFED_LINUX-*/.arch). nullopt when nothing contradicts
// `expected`. A file name, not a tarball's name: a bundle pinned by URL or renamed on a mirror is judged
// by what it holds.
std::optional<ContentArch> foreign_content_arch(const std::filesystem::path& folder, const std::string& expected);

// Throws Error (14) naming both architectures and the evidence when foreign_content_arch finds one;
// `bundle_name` is the file the bundle came as. Called before anything is installed.
void check_content_arch(const std::filesystem::path& folder, const std::string& bundle_name, const std::string& expected);

}  // namespace ibdriver::install
