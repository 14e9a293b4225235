#include "catalog/catalog.hpp"

#include <regex>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "catalog/embedded_catalog.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/text.hpp"
#include "platform/machine_arch.hpp"

namespace ibdriver::catalog {

namespace {

using nlohmann::json;

constexpr std::size_t max_catalog_bytes = 16 * 1024 * 1024;

ExitCode fault_code(CatalogSource source) {
  return source == CatalogSource::channel ? ExitCode::operation_failed : ExitCode::usage;
}

const char* fault_hint(CatalogSource source) {
  return source == CatalogSource::channel
             ? "the published catalog is faulty: the one stored before stays in use; tell its publisher"
             : "fix the catalog file; see distros/catalog.json for the expected shape";
}

// A row this ibdriver does not understand but a newer one may (a channel skips it).
struct UnknownRow : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class RowReader {
 public:
  RowReader(const json& row, std::string_view origin, std::size_t index, CatalogSource source)
      : row_(row), origin_(origin), index_(index), source_(source) {}

  [[noreturn]] void fail(std::string_view field, std::string_view problem) const {
    throw Error(fault_code(source_),
                fmt::format("catalog {}: release #{}: field \"{}\" {}", origin_, index_ + 1, field, problem),
                fault_hint(source_));
  }

  std::string string(const json& object, std::string_view field, std::string_view shown, bool required = true) const {
    auto found = object.find(std::string(field));
    if (found == object.end() || found->is_null()) {
      if (required) fail(shown, "is missing");
      return {};
    }
    if (!found->is_string()) fail(shown, fmt::format("must be a string, not {}", found->type_name()));
    return found->get<std::string>();
  }
  std::string string(std::string_view field, bool required = true) const { return string(row_, field, field, required); }

  const json& row() const { return row_; }
  std::size_t index() const { return index_; }

 private:
  const json& row_;
  std::string_view origin_;
  std::size_t index_;
  CatalogSource source_;
};

platform::ConnectXGeneration read_generation(const RowReader& reader, std::string_view field, const std::string& value) {
  auto generation = platform::generation_from_string(value);
  if (!generation) reader.fail(field, fmt::format("is \"{}\", not a generation like connectx-4", text::printable(value)));
  return *generation;
}

// "8.10" -> {8, 10}; nullopt unless MAJOR.MINOR with numbers.
std::optional<std::pair<int, int>> major_minor(std::string_view version) {
  auto parts = text::split(version, '.');
  if (parts.size() != 2) return std::nullopt;
  auto major = text::parse_decimal(parts[0]);
  auto minor = text::parse_decimal(parts[1]);
  if (!major || !minor) return std::nullopt;
  return std::make_pair(*major, *minor);
}

void read_minors(const RowReader& reader, DriverRelease& release) {
  auto minors = reader.row().find("minors");
  if (minors == reader.row().end() || minors->is_null()) return;
  if (!minors->is_object()) reader.fail("minors", "must be an object with \"from\" and \"to\" (e.g. 8.2 and 8.10)");
  release.minors_from = reader.string(*minors, "from", "minors.from");
  release.minors_to = reader.string(*minors, "to", "minors.to");
  auto from = major_minor(release.minors_from);
  auto to = major_minor(release.minors_to);
  auto own = major_minor(release.os_version);
  if (!from || !to) reader.fail("minors", "needs MAJOR.MINOR versions (e.g. 8.2 and 8.10)");
  if (from->first != to->first || (own && own->first != from->first)) {
    reader.fail("minors", fmt::format("must stay within major release {}", release.os_version));
  }
  if (from->second > to->second) reader.fail("minors", "runs backwards (from is after to)");
}

DriverRelease read_release(const json& row, std::string_view origin, std::size_t index, CatalogSource source) {
  RowReader reader(row, origin, index, source);
  if (!row.is_object()) reader.fail("(row)", "must be an object");
  DriverRelease release;
  auto kind = reader.string("kind");
  auto parsed_kind = bundle_kind_from_string(kind);
  if (!parsed_kind) {
    if (source == CatalogSource::channel) throw UnknownRow(fmt::format("kind \"{}\"", text::printable(kind, 40)));
    reader.fail("kind", fmt::format("is \"{}\": expected mofed-tgz, doca-host or distro-packages", text::printable(kind)));
  }
  release.kind = *parsed_kind;
  if (auto arch = reader.string("arch", false); !arch.empty()) release.arch = arch;
  if (!is_known_arch(release.arch)) {
    if (source == CatalogSource::channel) throw UnknownRow(fmt::format("arch \"{}\"", text::printable(release.arch, 40)));
    reader.fail("arch", fmt::format("is \"{}\": expected x86_64 or aarch64", text::printable(release.arch)));
  }
  release.version = reader.string("version");
  if (release.version.empty()) reader.fail("version", "is empty");
  if (release.downloads()) {
    release.url = reader.string("url");
    if (release.url.rfind("https://", 0) != 0) {
      reader.fail("url", fmt::format("is \"{}\": catalog URLs must be https://", text::printable(text::redact_url(release.url))));
    }
    if (release.file_name().empty()) reader.fail("url", "has no file name");
    release.sha256 = text::to_lower(reader.string("sha256"));
    if (!is_sha256_hex(release.sha256)) {
      reader.fail("sha256", fmt::format("is \"{}\": expected 64 hexadecimal digits", text::printable(release.sha256, 80)));
    }
  } else {
    auto packages = row.find("packages");
    if (packages == row.end() || !packages->is_array() || packages->empty()) {
      reader.fail("packages", "must be a non-empty array of package names for a distro-packages row");
    }
    for (const auto& package : *packages) {
      if (!package.is_string() || package.get<std::string>().empty()) reader.fail("packages", "must hold package names");
      release.packages.push_back(package.get<std::string>());
    }
  }
  auto os = row.find("os");
  if (os == row.end() || !os->is_object()) reader.fail("os", "is missing or not an object");
  release.os_id = text::to_lower(reader.string(*os, "id", "os.id"));
  release.os_version = reader.string(*os, "version", "os.version");
  if (release.os_id.empty() || release.os_version.empty()) reader.fail("os", "needs a non-empty id and version");
  release.label = reader.string("label");
  if (release.label.empty()) reader.fail("label", "is empty");
  release.min_generation = read_generation(reader, "min_generation", reader.string("min_generation"));
  if (auto max = reader.string("max_generation", false); !max.empty()) {
    release.max_generation = read_generation(reader, "max_generation", max);
  }
  if (auto size = row.find("size"); size != row.end() && !size->is_null()) {
    if (!size->is_number_unsigned()) reader.fail("size", "must be a positive integer (bytes)");
    release.size_bytes = size->get<unsigned long long>();
  }
  read_minors(reader, release);
  if (auto pinned = row.find("only_when_pinned"); pinned != row.end() && !pinned->is_null()) {
    if (!pinned->is_boolean()) reader.fail("only_when_pinned", "must be true or false");
    release.only_when_pinned = pinned->get<bool>();
  }
  release.source = reader.string("source", false);
  release.origin = std::string(origin);
  return release;
}

std::optional<long long> read_serial(const json& document, std::string_view origin, CatalogSource source) {
  auto serial = document.find("serial");
  if (serial == document.end() || serial->is_null()) {
    if (source == CatalogSource::channel) {
      throw Error(ExitCode::operation_failed, fmt::format("catalog {} has no \"serial\": a channel catalog must be numbered", origin),
                  fault_hint(source));
    }
    return std::nullopt;
  }
  if (!serial->is_number_integer() || serial->get<long long>() < 1) {
    throw Error(fault_code(source), fmt::format("catalog {}: \"serial\" must be a positive integer", origin), fault_hint(source));
  }
  return serial->get<long long>();
}

}  // namespace

bool is_known_arch(std::string_view arch) { return arch == "x86_64" || arch == "aarch64"; }

Catalog parse_catalog(std::string_view text_json, std::string_view origin, CatalogSource source) {
  const auto code = fault_code(source);
  auto document = json::parse(text_json.begin(), text_json.end(), nullptr, false);
  if (document.is_discarded()) {
    throw Error(code, fmt::format("catalog {} is not valid JSON", origin),
                source == CatalogSource::channel ? fault_hint(source) : "check the file with a JSON validator (e.g. jq . FILE)");
  }
  if (!document.is_object()) throw Error(code, fmt::format("catalog {} must be a JSON object", origin), fault_hint(source));
  auto schema = document.find("schema");
  if (schema != document.end() && !(schema->is_number_integer() && schema->get<int>() == 1)) {
    throw Error(code, fmt::format("catalog {} has schema {}, this ibdriver reads schema 1", origin, schema->dump()),
                source == CatalogSource::channel ? "a newer ibdriver reads it; the catalog stored before stays in use"
                                                 : fault_hint(source));
  }
  auto releases = document.find("releases");
  if (releases == document.end() || !releases->is_array()) {
    throw Error(code, fmt::format("catalog {} has no \"releases\" array", origin), fault_hint(source));
  }
  Catalog catalog;
  catalog.serial = read_serial(document, origin, source);
  for (std::size_t i = 0; i < releases->size(); ++i) {
    try {
      catalog.releases.push_back(read_release((*releases)[i], origin, i, source));
    } catch (const UnknownRow& unknown) {
      catalog.notes.push_back(fmt::format("catalog {}: release #{} skipped: its {} is unknown to this ibdriver", origin, i + 1, unknown.what()));
    }
  }
  if (auto unsupported = document.find("unsupported"); unsupported != document.end()) {
    if (!unsupported->is_array()) throw Error(code, fmt::format("catalog {}: \"unsupported\" must be an array", origin), fault_hint(source));
    for (std::size_t i = 0; i < unsupported->size(); ++i) {
      const auto& entry = (*unsupported)[i];
      RowReader reader(entry, origin, i, source);
      if (!entry.is_object() || !entry.contains("os") || !entry["os"].is_object()) reader.fail("unsupported.os", "is missing");
      catalog.unsupported.push_back({text::to_lower(reader.string(entry["os"], "id", "unsupported.os.id")),
                                     reader.string(entry["os"], "version", "unsupported.os.version"),
                                     reader.string(entry, "reason", "unsupported.reason")});
    }
  }
  return catalog;
}

void check_channel_against(const Catalog& channel, const Catalog& built_in) {
  for (const auto& row : channel.releases) {
    if (!row.downloads()) continue;
    for (const auto& pinned : built_in.releases) {
      if (pinned.downloads() && pinned.file_name() == row.file_name() && pinned.sha256 != row.sha256) {
        throw Error(ExitCode::operation_failed,
                    fmt::format("catalog {} gives {} the SHA-256 {}, but the built-in catalog pins it to {}", row.origin,
                                row.file_name(), row.sha256, pinned.sha256),
                    "a channel may add releases but never re-pin one: the catalog stored before stays in use; tell its publisher");
      }
    }
  }
}

const Catalog& built_in_catalog() {
  static const Catalog catalog = parse_catalog(embedded_catalog_json(), built_in_origin, CatalogSource::built_in);
  return catalog;
}

Catalog load_catalog(const std::optional<std::filesystem::path>& overlay, const std::optional<Catalog>& channel) {
  Catalog merged;
  if (overlay) {
    std::string content;
    try {
      content = read_file(*overlay, max_catalog_bytes);
    } catch (const Error& error) {
      throw Error(ExitCode::usage, fmt::format("cannot read the extra catalog file: {}", error.what()),
                  "check the path and permissions of the file");
    }
    merged = parse_catalog(content, overlay->string(), CatalogSource::user_file);
  }
  const auto append = [&merged](const Catalog& more) {
    merged.releases.insert(merged.releases.end(), more.releases.begin(), more.releases.end());
    merged.unsupported.insert(merged.unsupported.end(), more.unsupported.begin(), more.unsupported.end());
    merged.notes.insert(merged.notes.end(), more.notes.begin(), more.notes.end());
  };
  if (channel) {
    check_channel_against(*channel, built_in_catalog());
    append(*channel);
    merged.serial = channel->serial;
  }
  append(built_in_catalog());
  return merged;
}

DriverRelease pinned_release(const std::string& url, const std::string& sha256) {
  DriverRelease release;
  release.url = url;
  release.sha256 = text::to_lower(sha256);
  release.origin = "pinned URL";
  release.source = "pinned by URL and SHA-256";
  release.min_generation = platform::ConnectXGeneration::connectx3;
  if (!is_sha256_hex(release.sha256)) {
    throw Error(ExitCode::usage, fmt::format("the SHA-256 \"{}\" is not 64 hexadecimal digits", text::printable(sha256, 80)),
                "give the SHA-256 published with the driver bundle (sha256sum FILE)");
  }
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0 && url.rfind("file://", 0) != 0) {
    throw Error(ExitCode::usage, fmt::format("the driver URL \"{}\" is not an http(s) URL", text::printable(text::redact_url(url))));
  }
  auto name = release.file_name();
  if (name.size() > 255) {  // NAME_MAX; and std::regex recurses per character
    throw Error(ExitCode::usage, fmt::format("the driver URL's file name is {} bytes long, more than a file name can be", name.size()),
                "the URL must end in the bundle's file name (MLNX_OFED_LINUX-....tgz or doca-host....deb/.rpm)");
  }
  static const std::regex mofed(R"(MLNX_OFED_LINUX-([0-9][0-9A-Za-z.\-]*?)-([a-z]+[0-9][0-9a-z.]*)-(x86_64|aarch64)\.(tgz|tar\.gz))");
  static const std::regex doca(
      R"(doca-host[_-]([0-9][0-9.]*-[0-9]+)[-_]([0-9.]+)[-_]([a-z0-9.]+?)(_amd64\.deb|_arm64\.deb|\.x86_64\.rpm|\.aarch64\.rpm))");
  // The architecture the name states; "" when it states none (the plan takes the machine's then).
  release.arch = platform::bundle_arch_from_name(name).value_or("");
  std::smatch match;
  if (std::regex_match(name, match, mofed)) {
    release.kind = BundleKind::mofed_tgz;
    release.version = match[1];
    release.label = match[2];
  } else if (std::regex_match(name, match, doca)) {
    release.kind = BundleKind::doca_host;
    release.version = fmt::format("{}-{}", match[1].str(), match[2].str());
    release.label = match[3];
  } else if (name.size() > 4 && (name.substr(name.size() - 4) == ".deb" || name.substr(name.size() - 4) == ".rpm")) {
    release.kind = BundleKind::doca_host;
    release.version = "custom";
  } else if (name.size() > 4 && (name.substr(name.size() - 4) == ".tgz" || name.find(".tar.") != std::string::npos)) {
    release.kind = BundleKind::mofed_tgz;
    release.version = "custom";
  } else {
    throw Error(ExitCode::usage,
                fmt::format("cannot tell what kind of driver bundle \"{}\" is", text::printable(name)),
                "the driver URL must name an MLNX_OFED tarball (.tgz) or a DOCA-host package (.deb/.rpm)");
  }
  return release;
}

}  // namespace ibdriver::catalog
