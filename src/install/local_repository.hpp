#pragma once
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace ibdriver::install {

// Where a program would be found in PATH (as execvp looks it up), or nullopt.
std::optional<std::filesystem::path> find_program(const std::string& name);

// Makes sure a folder of .rpm files is an rpm-md repository: an MLNX_OFED RPMS/ usually carries its
// repodata/ (used as it is); otherwise createrepo_c (or the older createrepo) writes it. Error
// (operation_failed) naming the folder when there are no .rpm files, when neither tool is
// installed (with what to install), or when the tool fails (its lines quoted).
void ensure_rpm_metadata(const std::filesystem::path& folder, std::chrono::seconds timeout);

}  // namespace ibdriver::install
