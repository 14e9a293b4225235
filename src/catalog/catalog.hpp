#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/driver_release.hpp"

namespace ibdriver::catalog {

// An OS the catalog deliberately has no release for, and why.
struct UnsupportedOs {
  std::string os_id;
  std::string os_version;
  std::string reason;
};

struct Catalog {
  std::vector<DriverRelease> releases;
  std::vector<UnsupportedOs> unsupported;
};

// Parses catalog JSON (the shape of distros/catalog.json). Every row is checked: kind, version,
// https URL, 64-hex SHA-256, os.id, os.version, label, known generations. Throws Error (usage) naming
// the origin, the row and the field.
Catalog parse_catalog(std::string_view json, std::string_view origin);

// The built-in catalog, with the rows of an overlay file (--catalog) on top: overlay rows win.
// An overlay that cannot be read or parsed is exit 1.
Catalog load_catalog(const std::optional<std::filesystem::path>& overlay);

// A release pinned with --driver-url and --sha256 (exit 1 for a bad sum, URL or file name).
DriverRelease pinned_release(const std::string& url, const std::string& sha256);

}  // namespace ibdriver::catalog
