#pragma once
#include <optional>
#include <string>
#include <vector>

#include "platform/connectx.hpp"

namespace ibdriver::catalog {

enum class BundleKind {
  mofed_tgz,  // MLNX_OFED_LINUX-<ver>-<label>-x86_64.tgz with DEBS/ or RPMS/
  doca_host,  // a .deb/.rpm that installs a local repository; the doca-ofed profile comes from it
  // The distribution's own driver packages from its own repositories (Azure Linux 3.0's
  // mlnx-ofa_kernel, built by the distro for its kernels): nothing to download, no URL or SHA-256.
  distro_packages,
};
std::string_view to_string(BundleKind kind);
std::optional<BundleKind> bundle_kind_from_string(std::string_view name);

// One driver release a catalog row describes.
struct DriverRelease {
  BundleKind kind = BundleKind::mofed_tgz;
  std::string version;     // "24.01-0.3.3.1", "3.2.1-044000-25.10"
  std::string os_id;       // the OS it was used on: "ubuntu", "almalinux", "centos", "sles"
  std::string os_version;  // "22.04", "8.10", "15.3"
  std::string label;       // the OS label the bundle was built for, from its file name: "rhel8.7", "rhel9"
  std::string url;         // https
  std::string sha256;      // lower-case hex
  platform::ConnectXGeneration min_generation = platform::ConnectXGeneration::connectx4;
  std::optional<platform::ConnectXGeneration> max_generation;
  std::optional<unsigned long long> size_bytes;
  std::string source;  // where the row's facts come from
  std::string origin;  // "built-in", "signed channel ...", the overlay file, or "pinned URL"
  std::string arch = "x86_64";        // the machine architecture the bundle is for: x86_64, aarch64
  std::vector<std::string> packages;  // distro_packages: what to install from the distro's repositories
  // RHEL family: the minor releases of os_version's major this row supports, inclusive ("8.2".."8.10");
  // empty: the row's own minor and newer when its label names a minor (rhel8.7), every minor when the
  // label names only the major (rhel9).
  std::string minors_from;
  std::string minors_to;
  bool only_when_pinned = false;  // chosen only with a matching driver version (Azure Linux's doca-host)

  std::string file_name() const;  // the last path segment of the URL, without any query
  bool supports(platform::ConnectXGeneration generation) const;
  bool downloads() const { return kind != BundleKind::distro_packages; }
  // The package set installed from the bundle by default.
  std::string default_profile() const;
};

// Compares dotted/dashed version strings component by component, numbers as numbers.
int compare_versions(std::string_view a, std::string_view b);

bool is_sha256_hex(std::string_view text);

}  // namespace ibdriver::catalog
