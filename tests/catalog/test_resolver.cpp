#include <algorithm>

#include <catch2/catch.hpp>

#include "catalog/catalog.hpp"
#include "catalog/resolver.hpp"
#include "core/error.hpp"
#include "platform/os_release.hpp"
#include "support/fake_machine.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;
using platform::ConnectXGeneration;

namespace {
const catalog::Catalog& built_in() {
  static const auto catalog = catalog::load_catalog(std::nullopt);
  return catalog;
}

catalog::ResolveRequest request_for(const std::string& id, const std::string& version,
                                    std::vector<std::string> like = {},
                                    std::vector<ConnectXGeneration> generations = {ConnectXGeneration::connectx6}) {
  return {id, std::move(like), version, std::move(generations), std::nullopt, "x86_64"};
}

// A request built the way the pipeline builds it: from a real os-release fixture (and redhat-release).
catalog::ResolveRequest request_from_fixture(const std::string& fixture, const std::string& redhat_release = "") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.os_release_fixture(fixture);
  if (!redhat_release.empty()) machine.write("etc/redhat-release", redhat_release + "\n");
  auto os = platform::read_os_release(SystemRoot(dir.path()));
  return {os.id, os.id_like, os.version(), {ConnectXGeneration::connectx6}, std::nullopt, "x86_64"};
}

std::string exit_12(const catalog::ResolveRequest& request) {
  try {
    catalog::resolve(built_in(), request);
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::os_not_supported);
    CHECK_THAT(error.hint(), Catch::Contains("pin a driver bundle"));
    REQUIRE(error.remedies().size() == 2);
    CHECK(error.remedies()[0].knob == Knob::driver_url);  // the CLI says --driver-url, the extension driverUrl
    CHECK(error.remedies()[1].knob == Knob::catalog_file);
    return error.what();
  }
  FAIL("expected exit 12");
  return {};
}
}  // namespace

TEST_CASE("real OS fixtures resolve to the documented release", "[resolver]") {
  struct Case {
    const char* fixture;
    const char* redhat_release;
    const char* file_name;
  };
  auto item = GENERATE(values<Case>({
      {"ubuntu18.04", "", "MLNX_OFED_LINUX-23.04-1.1.3.0-ubuntu18.04-x86_64.tgz"},
      {"ubuntu20.04", "", "doca-host_2.10.0-093000-25.01-ubuntu2004_amd64.deb"},
      {"ubuntu22.04", "", "doca-host_3.2.1-044000-25.10-ubuntu2204_amd64.deb"},
      {"ubuntu24.04", "", "doca-host_3.2.3-019000-25.10-ubuntu2404_amd64.deb"},
      {"rhel8.10", "", "doca-host-3.2.1-044000_25.10_rhel8.x86_64.rpm"},
      {"almalinux8", "", "doca-host-3.2.1-044000_25.10_rhel8.x86_64.rpm"},
      {"almalinux9", "", "doca-host-3.2.2-035000_25.10_rhel9.x86_64.rpm"},
      {"rhel9.4", "", "doca-host-3.2.2-035000_25.10_rhel9.x86_64.rpm"},
      {"rocky9", "", "doca-host-3.2.2-035000_25.10_rhel9.x86_64.rpm"},
      {"rhel7.9", "", "MLNX_OFED_LINUX-5.4-3.0.0.0-rhel7.9-x86_64.tgz"},
      {"centos7", "CentOS Linux release 7.9.2009 (Core)", "MLNX_OFED_LINUX-5.4-3.0.0.0-rhel7.9-x86_64.tgz"},
      {"centos7", "CentOS Linux release 7.7.1908 (Core)", "MLNX_OFED_LINUX-5.4-1.0.3.0-rhel7.7-x86_64.tgz"},
      {"centos8", "CentOS Linux release 8.1.1911 (Core)", "doca-host-3.2.1-044000_25.10_rhel8.x86_64.rpm"},
  }));
  INFO(item.fixture << " " << item.redhat_release);
  auto resolution = catalog::resolve(built_in(), request_from_fixture(item.fixture, item.redhat_release));
  CHECK(resolution.release.file_name() == item.file_name);
  CHECK_FALSE(resolution.rule.empty());
}

TEST_CASE("the upstream extension's OS list: a real row or exit 12 with the reason", "[resolver]") {
  // Ubuntu 16.04, 18.04, 20.04; CentOS/RHEL 7.4-7.7, 8.1, 8.2.
  CHECK_THAT(exit_12(request_for("ubuntu", "16.04", {"debian"})), Catch::Contains("Ubuntu 16.04 has no release here"));
  CHECK(catalog::resolve(built_in(), request_for("ubuntu", "18.04")).release.version == "23.04-1.1.3.0");
  CHECK(catalog::resolve(built_in(), request_for("ubuntu", "20.04")).release.version == "2.10.0-093000-25.01");
  for (const char* id : {"centos", "rhel"}) {
    INFO(id);
    CHECK_THAT(exit_12(request_for(id, "7.4", {"rhel", "fedora"})), Catch::Contains("oldest CentOS/RHEL 7 release here"));
    CHECK_THAT(exit_12(request_for(id, "7.5", {"rhel", "fedora"})), Catch::Contains("built for 7.6"));
    CHECK(catalog::resolve(built_in(), request_for(id, "7.6", {"fedora"})).release.label == "rhel7.6");
    CHECK(catalog::resolve(built_in(), request_for(id, "7.7", {"fedora"})).release.version == "5.4-1.0.3.0");
    // Changed by the per-major rule (issue 16): a newer bundle for the whole major wins over rhel8.1's.
    CHECK(catalog::resolve(built_in(), request_for(id, "8.1", {"fedora"})).release.label == "rhel8");
    auto major = catalog::resolve(built_in(), request_for(id, "8.2", {"fedora"}));
    CHECK(major.release.label == "rhel8");
    CHECK_THAT(major.rule, Catch::Contains("whole major"));
    // ... unless a driver version pins the older one.
    auto pinned = request_for(id, "8.2", {"fedora"});
    pinned.driver_version = "5.4-1.0.3.0";
    auto older = catalog::resolve(built_in(), pinned);
    CHECK(older.release.label == "rhel8.1");
    CHECK_THAT(older.rule, Catch::Contains("nearest older minor"));
  }
}

TEST_CASE("ConnectX-3 takes the MLNX_OFED 4.9 LTS rows", "[resolver]") {
  auto lts = catalog::resolve(built_in(), request_for("ubuntu", "20.04", {}, {ConnectXGeneration::connectx3_pro}));
  CHECK(lts.release.version == "4.9-6.0.6.0");
  CHECK_THAT(exit_12(request_for("ubuntu", "22.04", {}, {ConnectXGeneration::connectx3})),
             Catch::Contains("ConnectX-3 needs the MLNX_OFED 4.9 LTS branch"));
}

TEST_CASE("a --driver-version pins a catalog release, by full version or prefix", "[resolver]") {
  auto request = request_for("ubuntu", "22.04");
  request.driver_version = "24.01";
  CHECK(catalog::resolve(built_in(), request).release.file_name() == "MLNX_OFED_LINUX-24.01-0.3.3.1-ubuntu22.04-x86_64.tgz");
  request.driver_version = "5.9-0.5.6.0";
  CHECK(catalog::resolve(built_in(), request).release.version == "5.9-0.5.6.0");
  request.driver_version = "24.0";  // not a component boundary
  CHECK_THAT(exit_12(request), Catch::Contains("version 24.0") && Catch::Contains("mofed-tgz 24.01-0.3.3.1"));
}

TEST_CASE("OSes without rows are exit 12 listing what is supported", "[resolver]") {
  auto message = exit_12(request_for("debian", "12"));
  CHECK_THAT(message, Catch::Contains("debian 12") && Catch::Contains("ubuntu 18.04, 20.04, 22.04, 24.04"));
  CHECK_THAT(exit_12(request_for("sles", "15.5", {"suse"})), Catch::Contains("sles 15.3"));
  CHECK_THAT(exit_12(request_for("", "")), Catch::Contains("could not be identified"));
  // CentOS 7 without redhat-release: VERSION_ID "7" names no minor release.
  CHECK_THAT(exit_12(request_for("centos", "7", {"rhel", "fedora"})), Catch::Contains("centos 7"));
}

TEST_CASE("overlay rows win over built-in rows", "[resolver]") {
  auto catalog = built_in();
  auto extra = catalog.releases.front();
  extra.origin = "overlay.json";
  extra.version = "1.0-test";
  catalog.releases.insert(catalog.releases.begin(), extra);
  auto resolution = catalog::resolve(catalog, request_for(extra.os_id, extra.os_version));
  CHECK(resolution.release.version == "1.0-test");
  CHECK_THAT(resolution.rule, Catch::Contains("overlay.json"));
}

// The expected row for every RHEL-family minor (README, "RHEL-family minors"): written before the
// resolver followed DOCA 3.2's one-bundle-per-major rule.
TEST_CASE("every RHEL-family minor from 8.1 to 8.10 and 9.0 to 9.8 gets the newest row that supports it", "[resolver][rhel-minors]") {
  const std::string rhel8 = "doca-host-3.2.1-044000_25.10_rhel8.x86_64.rpm";
  const std::string rhel9 = "doca-host-3.2.2-035000_25.10_rhel9.x86_64.rpm";
  struct Case {
    const char* version;
    const std::string* file_name;
  };
  std::vector<Case> table;
  for (const char* minor : {"8.1", "8.2", "8.3", "8.4", "8.5", "8.6", "8.7", "8.8", "8.9", "8.10"}) table.push_back({minor, &rhel8});
  for (const char* minor : {"9.0", "9.1", "9.2", "9.3", "9.4", "9.5", "9.6", "9.7", "9.8"}) table.push_back({minor, &rhel9});
  for (const auto& item : table) {
    for (const char* id : {"almalinux", "rhel", "rocky", "centos"}) {
      INFO(id << " " << item.version);
      auto resolution = catalog::resolve(built_in(), request_for(id, item.version, {"rhel", "fedora"}));
      CHECK(resolution.release.file_name() == *item.file_name);
    }
  }
  // No RHEL 10 row exists yet: exit 12, not a RHEL 9 bundle.
  CHECK_THAT(exit_12(request_for("rhel", "10.0", {"fedora"})), Catch::Contains("rhel 10.0"));
}

TEST_CASE("a row's minors range limits which minors it serves", "[resolver][rhel-minors]") {
  catalog::Catalog catalog;
  auto row = built_in().releases.front();
  row.os_id = "almalinux";
  row.os_version = "9.4";
  row.label = "rhel9";
  row.version = "9.9-ranged";
  row.minors_from = "9.2";
  row.minors_to = "9.4";
  row.origin = "ranged.json";
  catalog.releases.push_back(row);
  CHECK(catalog::resolve(catalog, request_for("rocky", "9.3", {"rhel"})).release.version == "9.9-ranged");
  CHECK_THAT(catalog::resolve(catalog, request_for("rocky", "9.2", {"rhel"})).rule, Catch::Contains("9.2 to 9.4"));
  CHECK_THROWS_AS(catalog::resolve(catalog, request_for("rocky", "9.5", {"rhel"})), Error);
  CHECK_THROWS_AS(catalog::resolve(catalog, request_for("rocky", "9.1", {"rhel"})), Error);
}

TEST_CASE("Azure Linux 3.0 takes the distro's own packages; the doca-host row only when pinned", "[resolver]") {
  auto request = request_from_fixture("azurelinux3.0");
  auto distro = catalog::resolve(built_in(), request);
  CHECK(distro.release.kind == catalog::BundleKind::distro_packages);
  CHECK(distro.release.packages == std::vector<std::string>{"mlnx-ofa_kernel", "mlnx-ofa_kernel-modules"});
  CHECK_FALSE(distro.release.downloads());
  CHECK(distro.release.default_profile() == "mlnx-ofa_kernel mlnx-ofa_kernel-modules");
  request.driver_version = "3.2.1";
  CHECK(catalog::resolve(built_in(), request).release.file_name() == "doca-host-3.2.1-044000_25.10_alinux32.x86_64.rpm");
  // On aarch64 Azure's images install the modules built for Azure Linux's HWE kernel (install_mofed.sh).
  request.driver_version.reset();
  request.arch = "aarch64";
  auto arm = catalog::resolve(built_in(), request);
  CHECK(arm.release.arch == "aarch64");
  CHECK(arm.release.packages == std::vector<std::string>{"mlnx-ofa_kernel", "mlnx-ofa_kernel-hwe-modules"});
  // The doca-host row is x86_64's: pinned on aarch64 it is not found.
  request.driver_version = "3.2.1";
  CHECK_THROWS_AS(catalog::resolve(built_in(), request), Error);
}

TEST_CASE("rows are for one architecture", "[resolver]") {
  auto request = request_for("ubuntu", "24.04");
  request.arch = "aarch64";
  // The Arm rows Azure's GB200/GB300 image installs (driver-catalog-additions.tsv): the newest wins.
  auto arm64 = catalog::resolve(built_in(), request);
  CHECK(arm64.release.file_name() == "doca-host_3.2.2-035000-25.10-ubuntu2404_arm64.deb");
  CHECK(arm64.release.sha256 == "0343656f130b79b7392742f9f7890fb59d6a1489fa020ccab26adc714e727b04");
  request.driver_version = "3.2.1";
  CHECK(catalog::resolve(built_in(), request).release.file_name() == "doca-host_3.2.1-044000-25.10-ubuntu2404_arm64.deb");
  request.driver_version = "2.10.0";  // a pull-request-only row: not in the catalog
  CHECK_THROWS_AS(catalog::resolve(built_in(), request), Error);
  request.driver_version.reset();
  // An OS with rows for x86_64 only: exit 12, saying which architecture has them and what aarch64 has.
  auto jammy = request_for("ubuntu", "22.04");
  jammy.arch = "aarch64";
  try {
    catalog::resolve(built_in(), jammy);
    FAIL("resolved ubuntu 22.04 on aarch64");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::os_not_supported);
    CHECK_THAT(std::string(error.what()), Catch::Contains("no aarch64 driver release for ubuntu 22.04 (only x86_64)") &&
                                              Catch::Contains("aarch64 releases are for: azurelinux 3.0; ubuntu 24.04"));
  }
  auto catalog = built_in();
  auto arm = catalog.releases.front();
  arm.arch = "aarch64";
  arm.os_version = "24.04";
  arm.version = "3.9.9-arm";
  catalog.releases.push_back(arm);
  CHECK(catalog::resolve(catalog, request).release.version == "3.9.9-arm");
  CHECK(catalog::resolve(catalog, request_for("ubuntu", "24.04")).release.arch == "x86_64");
}

TEST_CASE("the rows of the 2026 additions are in the catalog, the pull-request-only ones are not", "[resolver]") {
  auto has = [](const std::string& file_name) {
    return std::any_of(built_in().releases.begin(), built_in().releases.end(),
                       [&](const catalog::DriverRelease& release) { return release.file_name() == file_name; });
  };
  for (const char* file : {"doca-host_3.2.2-035000-25.10-ubuntu2404_amd64.deb", "doca-host_3.2.1-044000-25.10-ubuntu2404_amd64.deb",
                           "doca-host-3.2.1-044000_25.10_rhel9.x86_64.rpm", "doca-host-3.2.0-125000_25.10_rhel8.x86_64.rpm",
                           "doca-host_3.1.0-091000-25.07-ubuntu2204_amd64.deb", "doca-host_3.1.0-091000-25.07-ubuntu2404_amd64.deb",
                           "doca-host_3.0.0-058000-25.04-ubuntu2404_amd64.deb", "doca-host_2.10.0-093000-25.01-ubuntu2204_amd64.deb",
                           "doca-host_2.10.0-093000-25.01-ubuntu2404_amd64.deb", "doca-host-2.10.0-093000_25.01_rhel810.x86_64.rpm",
                           "doca-host_2.8.0-204000-24.07-ubuntu2004_amd64.deb", "doca-host-2.7.0-209000_24.04_rhel87.x86_64.rpm",
                           "doca-host_2.7.0-209000-24.04-ubuntu2004_amd64.deb", "doca-host_2.7.0-209000-24.04-ubuntu2204_amd64.deb",
                           "doca-host_3.2.2-035000-25.10-ubuntu2404_arm64.deb", "doca-host_3.2.1-044000-25.10-ubuntu2404_arm64.deb"}) {
    INFO(file);
    CHECK(has(file));
  }
  for (const char* file : {"doca-host_3.2.2-035000-25.10-ubuntu2204_amd64.deb", "doca-host-3.2.2-035000_25.10_rhel8.x86_64.rpm",
                           "doca-host-3.2.2-035000_25.10_alinux32.x86_64.rpm", "doca-host_3.3.0-088000-26.01-ubuntu2204_amd64.deb",
                           "doca-host_2.10.0-093512-25.01-ubuntu2404_arm64.deb"}) {
    INFO(file);
    CHECK_FALSE(has(file));
  }
}
