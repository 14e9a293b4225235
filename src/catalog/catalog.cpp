#include "catalog/catalog.hpp"

#include <regex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "catalog/embedded_catalog.hpp"
#include "core/error.hpp"
#include "core/files.hpp"
#include "core/text.hpp"

namespace ibdriver::catalog {

namespace {

using nlohmann::json;

constexpr std::size_t max_catalog_bytes = 16 * 1024 * 1024;

class RowReader {
 public:
  RowReader(const json& row, std::string_view origin, std::size_t index) : row_(row), origin_(origin), index_(index) {}

  [[noreturn]] void fail(std::string_view field, std::string_view problem) const {
    throw Error(ExitCode::usage,
                fmt::format("catalog {}: release #{}: field \"{}\" {}", origin_, index_ + 1, field, problem),
                "fix the catalog file; see distros/catalog.json for the expected shape");
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

 private:
  const json& row_;
  std::string_view origin_;
  std::size_t index_;
};

platform::ConnectXGeneration read_generation(const RowReader& reader, std::string_view field, const std::string& value) {
  auto generation = platform::generation_from_string(value);
  if (!generation) reader.fail(field, fmt::format("is \"{}\", not a generation like connectx-4", text::printable(value)));
  return *generation;
}

DriverRelease read_release(const json& row, std::string_view origin, std::size_t index) {
  RowReader reader(row, origin, index);
  if (!row.is_object()) reader.fail("(row)", "must be an object");
  DriverRelease release;
  auto kind = reader.string("kind");
  auto parsed_kind = bundle_kind_from_string(kind);
  if (!parsed_kind) reader.fail("kind", fmt::format("is \"{}\": expected mofed-tgz or doca-host", text::printable(kind)));
  release.kind = *parsed_kind;
  release.version = reader.string("version");
  if (release.version.empty()) reader.fail("version", "is empty");
  release.url = reader.string("url");
  if (release.url.rfind("https://", 0) != 0) {
    reader.fail("url", fmt::format("is \"{}\": catalog URLs must be https://", text::printable(text::redact_url(release.url))));
  }
  if (release.file_name().empty()) reader.fail("url", "has no file name");
  release.sha256 = text::to_lower(reader.string("sha256"));
  if (!is_sha256_hex(release.sha256)) {
    reader.fail("sha256", fmt::format("is \"{}\": expected 64 hexadecimal digits", text::printable(release.sha256, 80)));
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
  release.source = reader.string("source", false);
  release.origin = std::string(origin);
  return release;
}

}  // namespace

Catalog parse_catalog(std::string_view text_json, std::string_view origin) {
  auto document = json::parse(text_json.begin(), text_json.end(), nullptr, false);
  if (document.is_discarded()) {
    throw Error(ExitCode::usage, fmt::format("catalog {} is not valid JSON", origin),
                "check the file with a JSON validator (e.g. jq . FILE)");
  }
  if (!document.is_object()) throw Error(ExitCode::usage, fmt::format("catalog {} must be a JSON object", origin));
  auto schema = document.find("schema");
  if (schema != document.end() && !(schema->is_number_integer() && schema->get<int>() == 1)) {
    throw Error(ExitCode::usage, fmt::format("catalog {} has schema {}, this ibdriver reads schema 1", origin, schema->dump()));
  }
  auto releases = document.find("releases");
  if (releases == document.end() || !releases->is_array()) {
    throw Error(ExitCode::usage, fmt::format("catalog {} has no \"releases\" array", origin));
  }
  Catalog catalog;
  for (std::size_t i = 0; i < releases->size(); ++i) catalog.releases.push_back(read_release((*releases)[i], origin, i));
  if (auto unsupported = document.find("unsupported"); unsupported != document.end()) {
    if (!unsupported->is_array()) throw Error(ExitCode::usage, fmt::format("catalog {}: \"unsupported\" must be an array", origin));
    for (std::size_t i = 0; i < unsupported->size(); ++i) {
      const auto& entry = (*unsupported)[i];
      RowReader reader(entry, origin, i);
      if (!entry.is_object() || !entry.contains("os") || !entry["os"].is_object()) reader.fail("unsupported.os", "is missing");
      catalog.unsupported.push_back({text::to_lower(reader.string(entry["os"], "id", "unsupported.os.id")),
                                     reader.string(entry["os"], "version", "unsupported.os.version"),
                                     reader.string(entry, "reason", "unsupported.reason")});
    }
  }
  return catalog;
}

Catalog load_catalog(const std::optional<std::filesystem::path>& overlay) {
  Catalog catalog = parse_catalog(embedded_catalog_json(), "built-in");
  if (!overlay) return catalog;
  std::string content;
  try {
    content = read_file(*overlay, max_catalog_bytes);
  } catch (const Error& error) {
    throw Error(ExitCode::usage, fmt::format("cannot read the extra catalog file: {}", error.what()),
                "check the path and permissions of the file");
  }
  Catalog extra = parse_catalog(content, overlay->string());
  extra.releases.insert(extra.releases.end(), catalog.releases.begin(), catalog.releases.end());
  extra.unsupported.insert(extra.unsupported.end(), catalog.unsupported.begin(), catalog.unsupported.end());
  return extra;
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
  static const std::regex mofed(R"(MLNX_OFED_LINUX-([0-9][0-9A-Za-z.\-]*?)-([a-z]+[0-9][0-9a-z.]*)-x86_64\.(tgz|tar\.gz))");
  static const std::regex doca(R"(doca-host[_-]([0-9][0-9.]*-[0-9]+)[-_]([0-9.]+)[-_]([a-z0-9.]+?)(_amd64\.deb|\.x86_64\.rpm))");
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
