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
  return {id, std::move(like), version, std::move(generations), std::nullopt};
}

// A request built the way the pipeline builds it: from a real os-release fixture (and redhat-release).
catalog::ResolveRequest request_from_fixture(const std::string& fixture, const std::string& redhat_release = "") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.os_release_fixture(fixture);
  if (!redhat_release.empty()) machine.write("etc/redhat-release", redhat_release + "\n");
  auto os = platform::read_os_release(SystemRoot(dir.path()));
  return {os.id, os.id_like, os.version(), {ConnectXGeneration::connectx6}, std::nullopt};
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
      {"rhel8.10", "", "doca-host-2.8.0-204000_24.07_rhel810.x86_64.rpm"},
      {"almalinux8", "", "doca-host-3.2.1-044000_25.10_rhel8.x86_64.rpm"},
      {"almalinux9", "", "doca-host-3.2.2-035000_25.10_rhel9.x86_64.rpm"},
      {"rhel9.4", "", "doca-host-3.2.2-035000_25.10_rhel9.x86_64.rpm"},
      {"rocky9", "", "doca-host-3.2.2-035000_25.10_rhel9.x86_64.rpm"},
      {"azurelinux3.0", "", "doca-host-3.2.1-044000_25.10_alinux32.x86_64.rpm"},
      {"rhel7.9", "", "MLNX_OFED_LINUX-5.4-3.0.0.0-rhel7.9-x86_64.tgz"},
      {"centos7", "CentOS Linux release 7.9.2009 (Core)", "MLNX_OFED_LINUX-5.4-3.0.0.0-rhel7.9-x86_64.tgz"},
      {"centos7", "CentOS Linux release 7.7.1908 (Core)", "MLNX_OFED_LINUX-5.4-1.0.3.0-rhel7.7-x86_64.tgz"},
      {"centos8", "CentOS Linux release 8.1.1911 (Core)", "MLNX_OFED_LINUX-5.4-1.0.3.0-rhel8.1-x86_64.tgz"},
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
    CHECK(catalog::resolve(built_in(), request_for(id, "8.1", {"fedora"})).release.label == "rhel8.1");
    auto neighbour = catalog::resolve(built_in(), request_for(id, "8.2", {"fedora"}));
    CHECK(neighbour.release.label == "rhel8.1");
    CHECK_THAT(neighbour.rule, Catch::Contains("nearest older minor"));
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
