#include <algorithm>
#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "catalog/catalog.hpp"
#include "catalog/embedded_catalog.hpp"
#include "core/error.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;
using catalog::BundleKind;

namespace {
const char* valid_row = R"({"kind": "mofed-tgz", "version": "24.10-1.1.4.0", "os": {"id": "debian", "version": "12"},
  "label": "debian12.1", "url": "https://mirror.example/MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz",
  "sha256": "0000000000000000000000000000000000000000000000000000000000000001", "min_generation": "connectx-4"})";

std::string catalog_with(const std::string& row) { return R"({"schema": 1, "releases": [)" + row + "]}"; }

std::string usage_error(const std::string& json) {
  try {
    catalog::parse_catalog(json, "test.json");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::usage);
    return error.what();
  }
  FAIL("expected exit 1");
  return {};
}
}  // namespace

TEST_CASE("the built-in catalog holds the real rows, all https with a SHA-256", "[catalog]") {
  auto built_in = catalog::parse_catalog(catalog::embedded_catalog_json(), "built-in");
  // 30 rows of reference/driver-catalog.tsv, 14 x86_64 and 2 aarch64 rows of driver-catalog-additions.tsv,
  // Azure Linux's packages for x86_64 and aarch64.
  CHECK(built_in.releases.size() == 48);
  for (const auto& release : built_in.releases) {
    INFO(release.url << release.label << release.arch);
    if (!release.downloads()) {
      CHECK_FALSE(release.packages.empty());
      // Azure Linux builds its aarch64 modules for its HWE kernel (install_mofed.sh): the -hwe packages.
      bool hwe = std::any_of(release.packages.begin(), release.packages.end(),
                             [](const std::string& name) { return name.find("-hwe") != std::string::npos; });
      CHECK(hwe == (release.arch == "aarch64"));
      continue;
    }
    // The file name states the row's arch (real-bundles.md, "File names").
    CHECK(release.arch == (release.url.find("_arm64.deb") != std::string::npos ? "aarch64" : "x86_64"));
    CHECK(release.url.rfind("https://", 0) == 0);
    CHECK(catalog::is_sha256_hex(release.sha256));
    CHECK_FALSE(release.source.empty());
    CHECK(release.url.find(release.version.substr(0, release.version.find('-'))) != std::string::npos);
  }
  // Spot checks against reference/driver-catalog.tsv.
  auto find = [&](const std::string& name) {
    for (const auto& release : built_in.releases) {
      if (release.file_name() == name) return release;
    }
    FAIL("no row for " << name);
    return catalog::DriverRelease{};
  };
  auto row = find("MLNX_OFED_LINUX-24.01-0.3.3.1-ubuntu22.04-x86_64.tgz");
  CHECK(row.sha256 == "caa74c295ec88afd1f1c950b4bd6e32c609e3c5185199c7e344bf492ccef6429");
  CHECK(row.label == "ubuntu22.04");
  auto doca = find("doca-host-3.2.2-035000_25.10_rhel9.x86_64.rpm");
  CHECK(doca.kind == BundleKind::doca_host);
  CHECK(doca.label == "rhel9");
  CHECK(doca.sha256 == "97d2ff3f271bd7e324e2c25b17ac12fb22e91be3e8a4bdf50a399ced1e5a7bc9");
  auto lts = find("MLNX_OFED_LINUX-4.9-6.0.6.0-ubuntu20.04-x86_64.tgz");
  CHECK(lts.supports(platform::ConnectXGeneration::connectx3));
  CHECK_FALSE(lts.supports(platform::ConnectXGeneration::connectx7));
  // The old http:// rows are stored as https.
  CHECK(find("MLNX_OFED_LINUX-5.6-2.0.9.0-sles15sp3-x86_64.tgz").url.rfind("https://content.mellanox.com/", 0) == 0);
}

TEST_CASE("a catalog row is checked field by field", "[catalog]") {
  CHECK(catalog::parse_catalog(catalog_with(valid_row), "t").releases.size() == 1);
  auto with = [](const std::string& field, const nlohmann::json& value) {
    auto row = nlohmann::json::parse(valid_row);
    if (value.is_null()) {
      row.erase(field);
    } else {
      row[field] = value;
    }
    return catalog_with(row.dump());
  };
  CHECK_THAT(usage_error(with("sha256", "abc")), Catch::Contains("\"sha256\"") && Catch::Contains("64 hexadecimal"));
  CHECK_THAT(usage_error(with("sha256", std::string(64, 'g'))), Catch::Contains("sha256"));
  CHECK_THAT(usage_error(with("sha256", nullptr)), Catch::Contains("\"sha256\" is missing"));
  CHECK_THAT(usage_error(with("version", nullptr)), Catch::Contains("\"version\" is missing"));
  CHECK_THAT(usage_error(with("url", "http://mirror.example/x.tgz")), Catch::Contains("must be https"));
  CHECK_THAT(usage_error(with("kind", "rpm-pile")), Catch::Contains("mofed-tgz, doca-host or distro-packages"));
  CHECK_THAT(usage_error(with("arch", "riscv64")), Catch::Contains("\"arch\"") && Catch::Contains("riscv64"));
  CHECK_THAT(usage_error(with("minors", nlohmann::json{{"from", "9.2"}, {"to", "8.4"}})), Catch::Contains("within major"));
  CHECK_THAT(usage_error(with("minors", nlohmann::json{{"from", "12.4"}, {"to", "12.2"}})), Catch::Contains("backwards"));
  CHECK_THAT(usage_error(with("only_when_pinned", "yes")), Catch::Contains("true or false"));
  CHECK_THAT(usage_error(with("min_generation", "connectx-99")), Catch::Contains("connectx-99"));
  CHECK_THAT(usage_error(with("os", "debian12")), Catch::Contains("\"os\""));
  CHECK_THAT(usage_error(with("version", 24)), Catch::Contains("must be a string"));
  CHECK_THAT(usage_error(with("size", -5)), Catch::Contains("size"));
  CHECK_THAT(usage_error(with("sha256", nullptr)), Catch::Contains("release #1"));
}

TEST_CASE("a catalog that is not a catalog is exit 1", "[catalog]") {
  CHECK_THAT(usage_error("{not json"), Catch::Contains("not valid JSON"));
  CHECK_THAT(usage_error("[]"), Catch::Contains("must be a JSON object"));
  CHECK_THAT(usage_error("{}"), Catch::Contains("no \"releases\" array"));
  CHECK_THAT(usage_error(R"({"schema": 2, "releases": []})"), Catch::Contains("schema 2"));
  CHECK_THAT(usage_error(R"({"releases": [42]})"), Catch::Contains("must be an object"));
}

TEST_CASE("an overlay adds rows on top; an unreadable one is exit 1", "[catalog]") {
  test::TempDir dir;
  auto file = dir.path() / "overlay.json";
  std::ofstream(file) << catalog_with(valid_row);
  auto merged = catalog::load_catalog(file);
  CHECK(merged.releases.size() == 49);
  CHECK(merged.releases.front().origin == file.string());
  try {
    catalog::load_catalog(dir.path() / "missing.json");
    FAIL("expected exit 1");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::usage);
    CHECK_THAT(error.what(), Catch::Contains("missing.json"));
  }
}

TEST_CASE("a pinned --driver-url is checked and understood", "[catalog]") {
  auto pinned = catalog::pinned_release(
      "https://mirror.example/ofed/MLNX_OFED_LINUX-23.10-1.1.9.0-ubuntu22.04-x86_64.tgz?sv=1&sig=x",
      "CAA74C295EC88AFD1F1C950B4BD6E32C609E3C5185199C7E344BF492CCEF6429");
  CHECK(pinned.kind == BundleKind::mofed_tgz);
  CHECK(pinned.version == "23.10-1.1.9.0");
  CHECK(pinned.label == "ubuntu22.04");
  CHECK(pinned.sha256 == "caa74c295ec88afd1f1c950b4bd6e32c609e3c5185199c7e344bf492ccef6429");
  CHECK(pinned.file_name() == "MLNX_OFED_LINUX-23.10-1.1.9.0-ubuntu22.04-x86_64.tgz");
  auto doca = catalog::pinned_release("https://x/doca-host_3.2.1-044000-25.10-ubuntu2204_amd64.deb", std::string(64, 'a'));
  CHECK(doca.kind == BundleKind::doca_host);
  CHECK(doca.version == "3.2.1-044000-25.10");
  CHECK(doca.label == "ubuntu2204");
  CHECK_THROWS_AS(catalog::pinned_release("https://x/a.tgz", "1234"), Error);
  CHECK_THROWS_AS(catalog::pinned_release("ftp://x/a.tgz", std::string(64, 'a')), Error);
  CHECK_THROWS_AS(catalog::pinned_release("https://x/readme.txt", std::string(64, 'a')), Error);
}

TEST_CASE("versions compare component by component", "[catalog]") {
  CHECK(catalog::compare_versions("24.01-0.3.3.1", "23.07-0.5.1.2") > 0);
  CHECK(catalog::compare_versions("5.9-0.5.6.0", "23.04-1.1.3.0") < 0);
  CHECK(catalog::compare_versions("3.2.1-044000-25.10", "3.2.1-044000-25.10") == 0);
  CHECK(catalog::compare_versions("2.10.0-093000-25.01", "2.8.0-204000-24.07") > 0);
  CHECK(catalog::compare_versions("5.4-1.0.3.0", "5.4-3.0.0.0") < 0);
  CHECK(catalog::compare_versions("1.0", "1.0.1") < 0);
}

TEST_CASE("a distro-packages row names packages instead of a URL and SHA-256", "[catalog]") {
  auto row = R"({"kind": "distro-packages", "version": "azl3", "os": {"id": "azurelinux", "version": "3.0"},
    "label": "azl3", "packages": ["mlnx-ofa_kernel", "mlnx-ofa_kernel-modules"], "min_generation": "connectx-4"})";
  auto parsed = catalog::parse_catalog(catalog_with(row), "t");
  REQUIRE(parsed.releases.size() == 1);
  CHECK(parsed.releases[0].kind == BundleKind::distro_packages);
  CHECK(parsed.releases[0].url.empty());
  auto empty = nlohmann::json::parse(row);
  empty["packages"] = nlohmann::json::array();
  CHECK_THAT(usage_error(catalog_with(empty.dump())), Catch::Contains("\"packages\""));
}

TEST_CASE("the channel skips rows of an unknown arch or kind with a note; a user's file refuses them", "[catalog]") {
  auto arm = nlohmann::json::parse(valid_row);
  arm["arch"] = "riscv64";
  auto future = nlohmann::json::parse(valid_row);
  future["kind"] = "doca-container";
  auto document = R"({"schema": 1, "serial": 3, "releases": [)" + std::string(valid_row) + "," + arm.dump() + "," +
                  future.dump() + "]}";
  auto channel = catalog::parse_catalog(document, "channel", catalog::CatalogSource::channel);
  CHECK(channel.releases.size() == 1);
  CHECK(channel.serial == 3);
  REQUIRE(channel.notes.size() == 2);
  CHECK_THAT(channel.notes[0], Catch::Contains("release #2 skipped") && Catch::Contains("riscv64"));
  CHECK_THAT(channel.notes[1], Catch::Contains("release #3 skipped") && Catch::Contains("doca-container"));
  CHECK_THAT(usage_error(document), Catch::Contains("riscv64"));
  // Other faults in a channel are exit 14, not 1.
  auto bad = nlohmann::json::parse(valid_row);
  bad["sha256"] = "1234";
  try {
    catalog::parse_catalog(R"({"schema": 1, "serial": 4, "releases": [)" + bad.dump() + "]}", "channel", catalog::CatalogSource::channel);
    FAIL("expected exit 14");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::operation_failed);
    CHECK_THAT(error.what(), Catch::Contains("sha256"));
  }
  CHECK_THROWS_AS(catalog::parse_catalog(catalog_with(valid_row), "channel", catalog::CatalogSource::channel), Error);  // no serial
}
