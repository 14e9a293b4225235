#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "catalog/driver_release.hpp"
#include "install/package_manager.hpp"

namespace ibdriver::install {

// A DOCA-host bundle: a .deb or .rpm (doca-host_<ver>_<os>_amd64.deb, doca-host-<ver>.<os>.x86_64.rpm)
// that installs a local repository (/usr/share/doca-host-<ver>/repo) and the package source pointing at
// it; the `doca-ofed` profile is then installed from that repository.
struct DocaHostBundle {
  std::filesystem::path package_file;       // the verified package itself (system path)
  std::vector<std::string> source_files;    // system paths of the sources it carries as files (may be none:
                                            // its scripts may write the source instead)
  std::vector<std::string> repositories;    // system paths of the repository folders it carries
};

// Looks at the unpacked package (`unpacked`: its files, unpacked by the fetch stage) and checks that it
// is a DOCA-host repository package this OS can install: a .deb for apt, a .rpm for the others,
// carrying a repository (Packages or repodata/) (exit 14 otherwise).
DocaHostBundle inspect_doca_host_bundle(const std::filesystem::path& unpacked, const std::filesystem::path& package_file,
                                        const catalog::DriverRelease& release, const PackageManager& packages);

// Puts the verified package file (the cache's entry) beside its unpacked files (a hard link, else a
// copy; through a temporary name and a rename), so the packages stage has it after the cache is cleaned.
void keep_package_file(const std::filesystem::path& verified, const std::filesystem::path& target);

// The DOCA-host part of the packages stage: installs the repository package and refreshes only the
// sources it installed (its files, else a source its scripts wrote that names its repository; exit 14
// when there is none). The profile is then installed from that repository like a MOFED bundle's (the
// packages stage: the distro packages it replaces kept first). `record` gets the packages each step
// adds (the journal): the repository package before it is installed (when it was not installed yet),
// then what installing it added.
void add_doca_host_repository(PackageManager& packages, const SystemRoot& root, const DocaHostBundle& bundle,
                              const std::function<void(const std::vector<std::string>&)>& record);

}  // namespace ibdriver::install
