// `ibdriver fetch` as image bakers and admins run it, against the real HTTPS test server.
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/process.hpp"
#include "fetch/sha256.hpp"
#include "support/fake_machine.hpp"
#include "support/https_server.hpp"
#include "support/imds_server.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
// GCC says __SANITIZE_ADDRESS__; clang (the asan preset's compiler) says __has_feature(address_sanitizer).
#if defined(__SANITIZE_ADDRESS__)
#define IBDRIVER_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IBDRIVER_TEST_ASAN 1
#endif
#endif
#ifndef IBDRIVER_TEST_ASAN
#define IBDRIVER_TEST_ASAN 0
#endif

namespace fs = std::filesystem;

namespace {
const std::string name = "MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz";

ProcessResult ibdriver_cli(std::vector<std::string> arguments, std::vector<std::string> environment = {}) {
  return test::run_ibdriver(std::move(arguments), std::move(environment));
}

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string overlay_for(const std::string& sha256) {
  return fmt::format(R"({{"schema": 1, "releases": [{{"kind": "mofed-tgz", "version": "24.10-1.1.4.0",
    "os": {{"id": "debian", "version": "12"}}, "label": "debian12.1",
    "url": "https://content.mellanox.com/ofed/MLNX_OFED-24.10-1.1.4.0/{}", "sha256": "{}",
    "min_generation": "connectx-4"}}]}})", name, sha256);
}
}  // namespace

TEST_CASE("fetch --to makes an offline bundle that --bundle installs from on an air-gapped machine", "[cli][fetch]") {
  test::HttpsServer server;
  auto sha256 = server.add_file(name, 2 * 1024 * 1024);
  test::TempDir work;
  auto result = ibdriver_cli({"fetch", "--url", server.url("ok", name), "--sha256", sha256, "--cache-dir",
                              (work.path() / "cache").string(), "--ca-bundle", server.ca_file().string(), "--to",
                              (work.path() / "offline").string(), "--json", "--log-file", (work.path() / "log").string()});
  INFO(result.err);
  REQUIRE(result.exit_status == 0);
  auto json = nlohmann::json::parse(result.out);
  CHECK(json["sha256"] == sha256);
  CHECK(json["bytes"] == 2 * 1024 * 1024);
  CHECK(json["from_cache"] == false);
  CHECK(json["exported"] == (work.path() / "offline" / name).string());
  CHECK(slurp(work.path() / "offline" / (name + ".sha256")) == sha256 + "  " + name + "\n");
  // sha256sum agrees with the file it wrote.
  ProcessOptions in_offline;
  in_offline.working_directory = (work.path() / "offline").string();
  auto check = run_process({"sha256sum", "-c", name + ".sha256"}, in_offline);
  CHECK(check.succeeded());

  // The air-gapped machine: no network, a catalog row that names the file.
  std::ofstream(work.path() / "overlay.json") << overlay_for(sha256);
  auto offline = ibdriver_cli({"fetch", "--bundle", (work.path() / "offline" / name).string(), "--catalog",
                               (work.path() / "overlay.json").string(), "--cache-dir", (work.path() / "cache2").string(),
                               "--json", "--log-file", (work.path() / "log").string()});
  INFO(offline.err);
  REQUIRE(offline.exit_status == 0);
  CHECK(nlohmann::json::parse(offline.out)["sha256"] == sha256);
  CHECK(fetch::sha256_of_file(work.path() / "cache2" / "sha256" / sha256) == sha256);

  SECTION("a damaged bundle is exit 14 and nothing is cached") {
    std::ofstream(work.path() / "offline" / name, std::ios::binary | std::ios::app) << "x";
    auto damaged = ibdriver_cli({"fetch", "--bundle", (work.path() / "offline" / name).string(), "--catalog",
                                 (work.path() / "overlay.json").string(), "--cache-dir", (work.path() / "cache3").string()});
    CHECK(damaged.exit_status == 14);
    CHECK_THAT(damaged.err, Catch::Contains("expected " + sha256));
    CHECK_FALSE(fs::exists(work.path() / "cache3" / "sha256" / sha256));
  }
  SECTION("a bundle no catalog row names needs --sha256") {
    fs::copy_file(work.path() / "offline" / name, work.path() / "renamed.tgz");
    auto unknown = ibdriver_cli({"fetch", "--bundle", (work.path() / "renamed.tgz").string(), "--cache-dir",
                                 (work.path() / "cache4").string()});
    CHECK(unknown.exit_status == 1);
    CHECK_THAT(unknown.err, Catch::Contains("--sha256"));
    auto pinned = ibdriver_cli({"fetch", "--bundle", (work.path() / "renamed.tgz").string(), "--sha256", sha256,
                                "--cache-dir", (work.path() / "cache4").string()});
    CHECK(pinned.exit_status == 0);
  }
}

TEST_CASE("fetch resolves the release from the platform and the catalog", "[cli][fetch]") {
  test::HttpsServer server;
  auto sha256 = server.add_file(name, 100000);
  test::TempDir work;
  test::FakeMachine machine(work.path() / "root");
  test::populate_profile(machine, "hb120rs_v3");
  machine.os_release_fixture("debian12");
  std::ofstream(work.path() / "overlay.json") << overlay_for(sha256);
  auto mirror = fmt::format("https://127.0.0.1:{}/ok", server.port("good"));
  auto result = ibdriver_cli({"fetch", "--root", (work.path() / "root").string(), "--skip-vm-size-check", "--catalog",
                              (work.path() / "overlay.json").string(), "--mirror", mirror, "--ca-bundle",
                              server.ca_file().string(), "--json"});
  INFO(result.err);
  REQUIRE(result.exit_status == 0);
  CHECK(fs::exists(work.path() / "root/var/cache/ibdriver/sha256" / sha256));  // the cache lives in the root
  // Detection failures keep their exit codes.
  auto no_vmbus = ibdriver_cli({"fetch", "--root", (work.path() / "root").string(), "--sysfs-root",
                                (work.path() / "root/etc").string(), "--skip-vm-size-check"});
  CHECK(no_vmbus.exit_status == 10);
  // --os resolves for another machine without detecting this one.
  auto other = ibdriver_cli({"fetch", "--os", "debian:12", "--catalog", (work.path() / "overlay.json").string(),
                             "--mirror", mirror, "--ca-bundle", server.ca_file().string(), "--cache-dir",
                             (work.path() / "cache").string()});
  CHECK(other.exit_status == 0);
  CHECK(ibdriver_cli({"fetch", "--os", "ubuntu:16.04", "--cache-dir", (work.path() / "cache").string()}).exit_status == 12);
  CHECK(ibdriver_cli({"fetch", "--os", "nonsense", "--cache-dir", (work.path() / "cache").string()}).exit_status == 1);
}

TEST_CASE("fetch usage errors are exit 1", "[cli][fetch]") {
  test::TempDir work;
  auto cache = (work.path() / "cache").string();
  CHECK(ibdriver_cli({"fetch", "--url", "https://x/MLNX_OFED_LINUX-1.0-1-ubuntu22.04-x86_64.tgz", "--cache-dir", cache})
            .exit_status == 1);
  CHECK(ibdriver_cli({"fetch", "--url", "https://x/a.tgz", "--sha256", "nothex", "--cache-dir", cache}).exit_status == 1);
  std::ofstream(work.path() / "empty.pem") << "no certificate here\n";
  auto bad_ca = ibdriver_cli({"fetch", "--url", "https://x/a.tgz", "--sha256", std::string(64, 'a'), "--cache-dir", cache,
                              "--ca-bundle", (work.path() / "empty.pem").string()});
  CHECK(bad_ca.exit_status == 1);
  CHECK_THAT(bad_ca.err, Catch::Contains("no PEM certificate"));
}

TEST_CASE("a SAS token in a mirror URL never reaches the output or the log", "[cli][fetch]") {
  test::HttpsServer server;
  auto sha256 = server.add_file(name, 1000);
  test::TempDir work;
  auto log = work.path() / "ibdriver.log";
  auto result = ibdriver_cli({"fetch", "--url", server.url("404", name), "--sha256", sha256, "--mirror",
                              fmt::format("https://127.0.0.1:{}/403?sv=2022&sig=TOPSECRET", server.port("good")),
                              "--cache-dir", (work.path() / "cache").string(), "--ca-bundle", server.ca_file().string(),
                              "--log-file", log.string(), "-v"});
  CHECK(result.exit_status == 14);
  CHECK_THAT(result.err, Catch::Contains("HTTP 403") && Catch::Contains("HTTP 404"));
  CHECK(result.err.find("TOPSECRET") == std::string::npos);
  CHECK(result.out.find("TOPSECRET") == std::string::npos);
  CHECK(slurp(log).find("TOPSECRET") == std::string::npos);
}

TEST_CASE("https_proxy from the environment is used for downloads, never for IMDS", "[cli][proxy]") {
  test::HttpsServer server;
  auto sha256 = server.add_file(name, 100000);
  test::ForwardProxy proxy;
  test::TempDir work;
  std::vector<std::string> environment{"https_proxy=" + proxy.url(), "http_proxy=" + proxy.url(), "no_proxy=",
                                       "NO_PROXY="};
  auto fetched = ibdriver_cli({"fetch", "--url", server.url("ok", name), "--sha256", sha256, "--cache-dir",
                               (work.path() / "cache").string(), "--ca-bundle", server.ca_file().string()},
                              environment);
  INFO(fetched.err);
  CHECK(fetched.exit_status == 0);
  CHECK_THAT(proxy.log(), Catch::Contains(fmt::format("CONNECT 127.0.0.1:{}", server.port("good"))));

  test::FakeMachine machine(work.path() / "root");
  test::populate_profile(machine, "hb120rs_v3");
  machine.os_release_fixture("ubuntu22.04");
  test::ImdsServer imds;
  auto before = proxy.log();
  auto detected = ibdriver_cli({"detect", "--root", (work.path() / "root").string(), "--imds-url", imds.url()}, environment);
  CHECK(detected.exit_status == 0);
  CHECK(proxy.log() == before);
}

TEST_CASE("memory stays bounded: a 64 MiB download without whole-file buffers", "[cli][fetch][memory]") {
  test::HttpsServer server;
  auto sha256 = server.add_file(name, 64 * 1024 * 1024);
  test::TempDir work;
  auto result = ibdriver_cli({"fetch", "--url", server.url("ok", name), "--sha256", sha256, "--cache-dir",
                              (work.path() / "cache").string(), "--ca-bundle", server.ca_file().string(), "-q"});
  REQUIRE(result.exit_status == 0);
  INFO("peak RSS " << result.max_rss_kib << " KiB");
#if IBDRIVER_TEST_ASAN
  WARN("AddressSanitizer's shadow memory makes the peak RSS meaningless here: " << result.max_rss_kib << " KiB");
#else
  CHECK(result.max_rss_kib < 32 * 1024);
#endif
}
