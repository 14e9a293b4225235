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
  std::optional<long long> serial;  // a channel catalog's publication number (newer is larger)
  std::vector<std::string> notes;   // rows skipped on purpose (an unknown arch or kind in a channel)
};

// Where catalog rows come from; it decides precedence (a user's file > the signed channel >
// built-in) and what a row this ibdriver does not understand means.
enum class CatalogSource {
  built_in,   // distros/catalog.json compiled in
  user_file,  // --catalog: every row must be understood (exit 1 otherwise)
  channel,    // the signed channel: rows with an unknown arch or kind are skipped with a note, so a
              // newer publication keeps working with older binaries; other faults are exit 14
};

constexpr std::string_view built_in_origin = "built-in";
constexpr std::string_view channel_origin_prefix = "signed channel";

// The architectures rows may name; "x86_64" when a row names none.
bool is_known_arch(std::string_view arch);

// Parses catalog JSON (the shape of distros/catalog.json, schema 1). Every row is checked: kind,
// arch, version, https URL and 64-hex SHA-256 (except distro-packages rows, which name packages
// instead), os.id, os.version, label, known generations, the minor range. Throws Error naming the
// origin, the row and the field: usage (1) for the built-in catalog and a user's file,
// operation_failed (14) for the channel.
Catalog parse_catalog(std::string_view json, std::string_view origin, CatalogSource source = CatalogSource::user_file);

// A channel row that gives a file the built-in catalog already pins a different SHA-256 is an error
// (operation_failed, naming the file and both sums): a channel adds releases, it never re-pins one.
void check_channel_against(const Catalog& channel, const Catalog& built_in);

// The built-in catalog, with the rows of the signed channel (when one is stored) and of an overlay
// file (--catalog) on top. An overlay that cannot be read or parsed is exit 1.
Catalog load_catalog(const std::optional<std::filesystem::path>& overlay, const std::optional<Catalog>& channel = std::nullopt);

// The compiled-in catalog alone.
const Catalog& built_in_catalog();

// A release pinned with --driver-url and --sha256 (exit 1 for a bad sum, URL or file name). Its arch
// is what the file name states (platform::bundle_arch_from_name), "" when it states none.
DriverRelease pinned_release(const std::string& url, const std::string& sha256);

}  // namespace ibdriver::catalog
