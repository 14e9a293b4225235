#pragma once
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.hpp"
#include "platform/connectx.hpp"

namespace ibdriver::catalog {

// What the resolver needs to know about the machine.
struct ResolveRequest {
  std::string os_id;                 // lower-case os-release ID ("" when unknown)
  std::vector<std::string> os_id_like;
  std::string os_version;            // VERSION_ID
  std::vector<platform::ConnectXGeneration> generations;  // of the InfiniBand devices; empty: any
  std::optional<std::string> driver_version;              // --driver-version
};

struct Resolution {
  DriverRelease release;
  std::string rule;  // which documented rule chose it, in a sentence
};

// Picks one release; the rules (README, "How a driver is chosen"):
//  1. rows from --catalog overlays before built-in rows;
//  2. the OS must match: the same ID (or, for the RHEL family - rhel, centos, almalinux, rocky, ol -
//     any member, also via ID_LIKE) and the same major version; then, best first: the same minor
//     release; a release built for an older minor of that major (its label names a minor: rhel8.7);
//     a release built for the whole major (its label names none: rhel9). Ubuntu, Debian, SLES and
//     Azure Linux only take their exact VERSION_ID;
//  3. every InfiniBand device's generation must be in the row's range (ConnectX-3 needs 4.9 LTS);
//  4. --driver-version, when given, must equal the row's version or be a prefix of it at a
//     component boundary ("24.01" matches "24.01-0.3.3.1");
//  5. among what is left: the same ID before a family member, DOCA-host before MLNX_OFED, newest version.
// Throws Error (os_not_supported) listing what the catalog does support, and why when it knows.
Resolution resolve(const Catalog& catalog, const ResolveRequest& request);

// "ubuntu 18.04, 20.04, 22.04; almalinux 8.6, 8.7, ..." for messages and the README.
std::string supported_os_summary(const Catalog& catalog);

}  // namespace ibdriver::catalog
