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
  // CentOS and RHEL-like images name only the major in VERSION_ID ("7"); the minor is in
  // etc/redhat-release ("CentOS Linux release 7.9.2009 (Core)"). Empty when not needed or not found.
  std::string release_file_version;  // "7.9"
  std::string source_file;  // which file it came from
  std::map<std::string, std::string> fields;  // everything that was read, unquoted

  // The most precise version known: release_file_version when set, else version_id.
  const std::string& version() const { return release_file_version.empty() ? version_id : release_file_version; }
  int major() const;  // from version_id; -1 when absent or not numeric
  int minor() const;  // 0 when there is none ("12"), -1 when not numeric
};

// Parses os-release text per os-release(5): KEY=VALUE lines, shell-style quoting and backslash
// escapes, comments and blank lines ignored. Lines that are not assignments are skipped, as systemd
// does. Throws Error (os_not_supported) for binary content or when there is no usable ID.
OsRelease parse_os_release(std::string_view content, std::string_view source_name);

// Reads <root>/etc/os-release, falling back to <root>/usr/lib/os-release (and etc/redhat-release for
// the minor version where VERSION_ID has none). Exit 12 when neither is
// readable or parsable, saying what was read.
OsRelease read_os_release(const SystemRoot& root);

}  // namespace ibdriver::platform
