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
  std::string arch = "x86_64";                            // the machine's architecture (uname -m)
};

struct Resolution {
  DriverRelease release;
  std::string rule;  // which documented rule chose it, in a sentence
};

// Picks one release; the rules (README, "How a driver is chosen"):
//  1. rows from a --catalog file before the signed channel's, and those before built-in rows;
//  2. the row's arch must be the machine's, and the OS must match: the same ID (or, for the RHEL
//     family - rhel, centos, almalinux, rocky, ol - any member, also via ID_LIKE). Ubuntu, Debian,
//     SLES and Azure Linux only take their exact VERSION_ID. A RHEL-family row takes the minors of
//     its major that it supports: its "minors" range when it has one; else, when its label names a
//     minor (rhel8.7), that minor and newer; else (rhel9) every minor;
//  3. every InfiniBand device's generation must be in the row's range (ConnectX-3 needs 4.9 LTS);
//  4. --driver-version, when given, must equal the row's version or be a prefix of it at a
//     component boundary ("24.01" matches "24.01-0.3.3.1"); rows marked only_when_pinned need one;
//  5. among what is left: distro packages, then DOCA-host, then MLNX_OFED; the newest version; then
//     the exact OS version before a range, an older minor's or a whole major's bundle; the same ID.
// Throws Error (os_not_supported) listing what the catalog does support, and why when it knows.
Resolution resolve(const Catalog& catalog, const ResolveRequest& request);

// "ubuntu 18.04, 20.04, 22.04; almalinux 8.6, 8.7, ..." for messages and the README.
std::string supported_os_summary(const Catalog& catalog);

}  // namespace ibdriver::catalog
