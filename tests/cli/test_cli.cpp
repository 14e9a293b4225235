// The ibdriver command run as a user runs it: a real process, a fake root, a local IMDS.
#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/process.hpp"
#include "support/fake_machine.hpp"
#include "support/imds_server.hpp"
#include "support/notify_socket.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;

namespace {
using test::run_ibdriver;
ProcessResult ibdriver_cli(std::vector<std::string> arguments) { return run_ibdriver(std::move(arguments)); }

struct Vm {
  test::TempDir dir;
  test::FakeMachine machine{dir.path()};
  Vm(const char* profile, const char* os) {
    test::populate_profile(machine, profile);
    machine.os_release_fixture(os);
  }
  std::string root() const { return dir.path().string(); }
};
}  // namespace

TEST_CASE("the --version flag names the project version and git revision", "[cli]") {
  auto result = ibdriver_cli({"--version"});
  CHECK(result.exit_status == 0);
  CHECK_THAT(result.out, Catch::StartsWith("ibdriver 0.") && Catch::Contains("(git "));
}

TEST_CASE("every command has --help", "[cli]") {
  for (const char* command : {"detect", "plan"}) {
    INFO(command);
    auto result = ibdriver_cli({command, "--help"});
    CHECK(result.exit_status == 0);
    CHECK_THAT(result.out, Catch::Contains("--skip-vm-size-check"));
  }
  auto top = ibdriver_cli({"--help"});
  CHECK(top.exit_status == 0);
  CHECK_THAT(top.out, Catch::Contains("detect") && Catch::Contains("plan") && Catch::Contains("Exit codes"));
}

TEST_CASE("bad usage is exit 1", "[cli]") {
  CHECK(ibdriver_cli({"detect", "--no-such-flag"}).exit_status == 1);
  CHECK(ibdriver_cli({}).exit_status == 1);
  CHECK(ibdriver_cli({"frobnicate"}).exit_status == 1);
  CHECK(ibdriver_cli({"detect", "--root", "/nonexistent/root"}).exit_status == 1);
}

TEST_CASE("detect --json on a simulated Standard_HB120rs_v3", "[cli]") {
  Vm vm("hb120rs_v3", "ubuntu22.04");
  test::ImdsServer imds({"--vm-size", "Standard_HB120rs_v3"});
  auto result = ibdriver_cli({"detect", "--json", "--root", vm.root(), "--imds-url", imds.url()});
  INFO(result.err);
  CHECK(result.exit_status == 0);
  auto report = nlohmann::json::parse(result.out);
  CHECK(report["exit_code"] == 0);
  CHECK(report["os"]["id"] == "ubuntu");
  CHECK(report["vm"]["size"] == "Standard_HB120rs_v3");
  CHECK(report["mellanox_devices"][0]["link_layer"] == "infiniband");
  CHECK(report["mellanox_devices"][1]["link_layer"] == "ethernet");
  CHECK(report["kernels"]["running"] == "5.15.0-1073-azure");
  // Logged to the root's log file by default.
  CHECK(std::filesystem::exists(vm.dir.path() / "var/log") == std::filesystem::exists(vm.dir.path() / "var/log/ibdriver.log"));
}

TEST_CASE("detect exit codes follow upstream, with the reason on stderr", "[cli]") {
  SECTION("10: no VMBus") {
    Vm vm("no_vmbus", "ubuntu22.04");
    auto result = ibdriver_cli({"detect", "--root", vm.root(), "--skip-vm-size-check"});
    CHECK(result.exit_status == 10);
    CHECK_THAT(result.err, Catch::Contains("vmbus check failed") && Catch::Contains("hint:"));
  }
  SECTION("11: only Accelerated Networking") {
    Vm vm("d8s_v5", "ubuntu22.04");
    auto result = ibdriver_cli({"detect", "--root", vm.root(), "--skip-vm-size-check"});
    CHECK(result.exit_status == 11);
  }
  SECTION("12: an OS without a driver") {
    Vm vm("hb120rs_v3", "ubuntu16.04");
    auto result = ibdriver_cli({"detect", "--root", vm.root(), "--skip-vm-size-check"});
    CHECK(result.exit_status == 12);
    CHECK_THAT(result.err, Catch::Contains("Ubuntu 16.04 has no release here"));
  }
  SECTION("12: no os-release at all") {
    Vm vm("hb120rs_v3", "ubuntu22.04");
    std::filesystem::remove(vm.dir.path() / "etc/os-release");
    auto result = ibdriver_cli({"detect", "--root", vm.root(), "--skip-vm-size-check"});
    CHECK(result.exit_status == 12);
  }
  SECTION("13: IMDS erroring") {
    Vm vm("hb120rs_v3", "ubuntu22.04");
    test::ImdsServer imds({"--mode", "404"});
    auto result = ibdriver_cli({"detect", "--root", vm.root(), "--imds-url", imds.url()});
    CHECK(result.exit_status == 13);
    CHECK_THAT(result.err, Catch::Contains("HTTP 404"));
  }
  SECTION("IBDRIVER_* environment variables stand in for the flags") {
    Vm vm("d8s_v5", "ubuntu22.04");
    ProcessOptions options;
    options.extra_environment = {"IBDRIVER_ROOT=" + vm.root()};
    auto result = run_process({IBDRIVER_BINARY, "detect", "--skip-vm-size-check"}, options);
    CHECK(result.exit_status == 11);
  }
}

TEST_CASE("plan --json names the release, its sum, the kernels and the configuration", "[cli]") {
  Vm vm("hb120rs_v3", "ubuntu22.04");
  test::ImdsServer imds;
  auto result = ibdriver_cli({"plan", "--json", "--root", vm.root(), "--imds-url", imds.url()});
  INFO(result.err);
  REQUIRE(result.exit_status == 0);
  auto plan = nlohmann::json::parse(result.out);
  CHECK(plan["release"]["file_name"] == "doca-host_3.2.1-044000-25.10-ubuntu2204_amd64.deb");
  CHECK(plan["release"]["sha256"] == "75b8d4258b7239ef5021abaa25e7eeb4fcbc0c8117cab89ce1a766d2d218c8a0");
  CHECK(plan["profile"] == "doca-ofed");
  CHECK(plan["package_manager"] == "apt");
  CHECK(plan["kernels"] == nlohmann::json::array({"5.15.0-1051-azure", "5.15.0-1073-azure"}));
  CHECK(plan["configuration"].size() == 4);
  CHECK(plan["error"].is_null());
}

TEST_CASE("plan honours pins and overlays, and refuses bad ones with exit 1", "[cli]") {
  Vm vm("hb120rs_v3", "debian12");
  std::vector<std::string> base{"plan", "--json", "--root", vm.root(), "--skip-vm-size-check"};
  auto with = [&](std::vector<std::string> extra) {
    auto arguments = base;
    arguments.insert(arguments.end(), extra.begin(), extra.end());
    return ibdriver_cli(arguments);
  };
  CHECK(with({}).exit_status == 12);
  SECTION("--driver-url with --sha256, URL printed without its query") {
    auto result = with({"--driver-url", "https://acct.blob.core.windows.net/c/MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz?sig=SECRET",
                        "--sha256", std::string(64, 'e')});
    CHECK(result.exit_status == 0);
    CHECK(result.out.find("SECRET") == std::string::npos);
    CHECK(result.err.find("SECRET") == std::string::npos);
    CHECK(nlohmann::json::parse(result.out)["release"]["version"] == "24.10-1.1.4.0");
  }
  SECTION("--driver-url without --sha256") {
    CHECK(with({"--driver-url", "https://x/MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz"}).exit_status == 1);
  }
  SECTION("a bad --sha256") {
    auto result = with({"--driver-url", "https://x/MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz", "--sha256", "xyz"});
    CHECK(result.exit_status == 1);
    CHECK_THAT(result.err, Catch::Contains("64 hexadecimal"));
  }
  SECTION("--catalog overlay with a row for this OS") {
    auto overlay = vm.dir.path() / "overlay.json";
    std::ofstream(overlay) << R"({"schema": 1, "releases": [{"kind": "mofed-tgz", "version": "24.10-1.1.4.0",
      "os": {"id": "debian", "version": "12"}, "label": "debian12.1",
      "url": "https://mirror.example/MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz",
      "sha256": "1111111111111111111111111111111111111111111111111111111111111111", "min_generation": "connectx-4"}]})";
    auto result = with({"--catalog", overlay.string()});
    CHECK(result.exit_status == 0);
    CHECK(nlohmann::json::parse(result.out)["release"]["origin"] == overlay.string());
  }
  SECTION("--catalog with a bad row") {
    auto overlay = vm.dir.path() / "bad.json";
    std::ofstream(overlay) << R"({"releases": [{"kind": "mofed-tgz"}]})";
    auto result = with({"--catalog", overlay.string()});
    CHECK(result.exit_status == 1);
    CHECK_THAT(result.err, Catch::Contains("bad.json"));
  }
  SECTION("--catalog that does not exist") { CHECK(with({"--catalog", "/nonexistent.json"}).exit_status == 1); }
}

TEST_CASE("repair --ready-after tells systemd (Type=notify) the boot may go on, with what it found", "[cli][notify]") {
  test::TempDir root;
  test::TempDir sockets;
  test::NotifySocket systemd((sockets.path() / "notify").string());
  auto result = ibdriver_cli({"repair", "--ready-after", "300", "--root", root.path().string()});
  INFO(result.err);
  CHECK(result.exit_status == 0);
  CHECK(systemd.next() == "READY=1\nSTATUS=ibdriver has installed nothing here: nothing to repair");
  CHECK_FALSE(systemd.next(false));  // once
  CHECK(ibdriver_cli({"repair", "--ready-after", "-1", "--root", root.path().string()}).exit_status == 1);
}
