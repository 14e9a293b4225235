#pragma once
#include <filesystem>
#include <string>
#include <string_view>

#include "core/system_root.hpp"

namespace ibdriver::install {

// The control file of an installed package from its dpkg status stanza (`dpkg-query -s`): every field
// but those dpkg keeps only for installed packages (Status, Config-Version, Conffiles, which becomes
// the control member's `conffiles` file). Continuation lines stay with their field; the text ends in
// one newline. Throws Error (operation_failed) when the stanza has no Package or Version.
std::string control_from_status(std::string_view stanza);

// Rebuilds the .deb of an installed package from what dpkg recorded, as dpkg-repack(1) does: its
// status stanza as `control`, its maintainer scripts, conffiles, md5sums, shlibs, symbols, triggers,
// templates and config from <root>/var/lib/dpkg/info/<package>[:<arch>].*, and its files as they are
// on the disk now (`dpkg-query -L`; folders, symbolic links and files with their modes and owners; a
// file the list names but the disk no longer has is left out with a warning), copied into a
// staging tree that dpkg-deb --build makes FOLDER/<name>_<version, ':' as %3a>_<arch>.deb (dpkg-deb, as
// dpkg-repack uses it: the portable binary links no libarchive writer).
// For uninstall: the version a bundle upgrades in place can be put back on a machine whose apt cache
// was cleaned (cloud images are) and whose archive no longer has it or cannot be reached.
// Throws Error (operation_failed) naming the package when dpkg does not know it or a file cannot be read.
std::filesystem::path repack_installed_package(const SystemRoot& root, const std::string& name, const std::string& architecture,
                                               const std::filesystem::path& folder);

}  // namespace ibdriver::install
