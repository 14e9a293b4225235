#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/system_root.hpp"

namespace ibdriver::install {

// The distro packages a bundle upgrades in place. NVIDIA's bundles carry rdma-core, libibverbs1,
// ibverbs-providers, librdmacm1, libibumad3, infiniband-diags... under the distro's names at higher
// versions (2410mlnx54-1.2410068 against Debian's 44.0-2), with no Provides/Conflicts: installing them
// upgrades the distro's copies, and removing the bundle leaves either its copies or nothing (NVIDIA's own
// uninstall reinstalls nothing; real-bundles.md section 3). ibdriver keeps the .deb of each replaced
// version (apt's cache, else `apt-get download NAME=VERSION`) and puts them back on uninstall.

// A package in an apt Packages index or installed (dpkg-query).
struct DebPackage {
  std::string name;
  std::string version;
  std::string architecture;
};

// The stanzas of an apt Packages index (Package, Version, Architecture); stanzas without them are skipped.
std::vector<DebPackage> parse_packages_index(std::string_view text);

// Lines "NAME VERSION ARCH STATUS" of `dpkg-query -W -f '${Package} ${Version} ${Architecture} ${db:Status-Status}\n'`:
// the installed ones by name.
std::map<std::string, DebPackage> parse_installed(std::string_view text);

// One installed package the bundle replaces, and where its .deb was kept.
struct ReplacedPackage {
  std::string name;
  std::string version;         // the installed (distro's) version
  std::string architecture;
  std::string bundle_version;  // the bundle's version of it
  std::string saved;           // system path of the kept .deb below /var/lib/ibdriver/replaced/, "" when none was found
};

// The installed packages that a bundle package of the same name (and architecture, or "all") would
// replace with another version, in the bundle's order.
std::vector<ReplacedPackage> packages_replaced_by(const std::vector<DebPackage>& bundle,
                                                  const std::map<std::string, DebPackage>& installed);

// apt's file name for a version: NAME_VERSION_ARCH.deb with an epoch's ':' as "%3a" (apt's cache).
std::string deb_file_name(const DebPackage& package);

// Where the kept copies go.
inline constexpr std::string_view replaced_folder = "/var/lib/ibdriver/replaced";

// Keeps a copy of each replaced version: from <root>/var/cache/apt/archives, else, on the host root only,
// `apt-get download NAME=VERSION` into the folder (a repository that still has it). Returns the packages
// with `saved` set where a copy was kept; what could not be kept has saved "" (uninstall then asks the
// configured repositories). Never fails for a package it cannot keep; I/O errors on the folder are Error.
std::vector<ReplacedPackage> keep_replaced_packages(const SystemRoot& root, std::vector<ReplacedPackage> packages);

// Puts the replaced versions back (uninstall, after the bundle's packages were removed): the kept files
// and, for the others, NAME=VERSION from the configured repositories, in one `apt-get install
// --allow-downgrades`; needs the host root. Everything that can be put back is; then a version that is
// neither kept nor in a repository is Error (operation_failed) naming each package and version, with the
// command that would bring it back once a repository has it. Removes the kept files it installed.
void restore_replaced_packages(const SystemRoot& root, const std::vector<ReplacedPackage>& packages);

}  // namespace ibdriver::install
