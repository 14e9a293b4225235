#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/system_root.hpp"

namespace ibdriver::platform {

// The identity of the installed OS, from os-release(5).
struct OsRelease {
  std::string id;                    // "ubuntu", "rhel", "almalinux", "sles", "azurelinux"
  std::vector<std::string> id_like;  // "rhel", "centos", "fedora"...
  std::string version_id;            // "22.04", "8.10", "15.5", "3.0"
  std::string pretty_name;
  std::string version_codename;
  std::string source_file;  // which file it came from
  std::map<std::string, std::string> fields;  // everything that was read, unquoted

  int major() const;  // from version_id; -1 when absent or not numeric
  int minor() const;  // 0 when there is none ("12"), -1 when not numeric
};

// Parses os-release text per os-release(5): KEY=VALUE lines, shell-style quoting and backslash
// escapes, comments and blank lines ignored. Lines that are not assignments are skipped, as systemd
// does. Throws Error (os_not_supported) for binary content or when there is no usable ID.
OsRelease parse_os_release(std::string_view content, std::string_view source_name);

// Reads <root>/etc/os-release, falling back to <root>/usr/lib/os-release. Exit 12 when neither is
// readable or parsable, saying what was read.
OsRelease read_os_release(const SystemRoot& root);

}  // namespace ibdriver::platform
