// The machine architecture: Azure's Arm InfiniBand sizes (GB200, GB300) get the catalog's aarch64 rows,
// --arch chooses for another machine, and a bundle built for the other architecture is refused.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/process.hpp"
#include "platform/machine_arch.hpp"
#include "support/fake_machine.hpp"
#include "support/https_server.hpp"
#include "support/imds_server.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;

namespace {
struct ArmVm {
  test::TempDir dir;
  test::FakeMachine machine{dir.path()};
  explicit ArmVm(const char* profile, const char* os = "ubuntu24.04") {
    test::populate_profile(machine, profile);
    machine.os_release_fixture(os);
  }
  std::string root() const { return dir.path().string(); }
};

// Everything the root holds, as relative paths: what a refused command must leave as it was.
std::vector<std::string> tree(const std::filesystem::path& root) {
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) paths.push_back(entry.path().lexically_relative(root).string());
  std::sort(paths.begin(), paths.end());
  return paths;
}

const std::string x86_bundle = "MLNX_OFED_LINUX-24.10-1.1.4.0-ubuntu24.04-x86_64.tgz";
const std::string arm_bundle = "MLNX_OFED_LINUX-24.10-1.1.4.0-ubuntu24.04-aarch64.tgz";
}  // namespace

TEST_CASE("the architecture a bundle's file name states", "[platform][arch]") {
  using platform::bundle_arch_from_name;
  // Real names (real-bundles.md, "File names"; driver-catalog-additions.tsv).
  CHECK(bundle_arch_from_name("MLNX_OFED_LINUX-24.10-1.1.4.0-ubuntu24.04-aarch64.tgz") == "aarch64");
  CHECK(bundle_arch_from_name("MLNX_OFED_LINUX-23.10-3.2.2.0-rhel8.10-x86_64.tgz") == "x86_64");
  CHECK(bundle_arch_from_name("doca-host_3.2.2-035000-25.10-ubuntu2404_arm64.deb") == "aarch64");
  CHECK(bundle_arch_from_name("doca-host_3.2.0-125000-25.10-ubuntu2404_amd64.deb") == "x86_64");
  CHECK(bundle_arch_from_name("doca-host-3.2.0-125000_25.10_rhel9.x86_64.rpm") == "x86_64");
  CHECK(bundle_arch_from_name("doca-host-3.2.0-125000_25.10_rhel9.aarch64.rpm") == "aarch64");
  CHECK(bundle_arch_from_name("MLNX_OFED_LINUX-24.10-1.1.4.0-ubuntu24.04-x86_64.tar.gz") == "x86_64");
  // Names that state none, or not in the last word before the extension.
  CHECK_FALSE(bundle_arch_from_name("our-driver.deb"));
  CHECK_FALSE(bundle_arch_from_name("x86_64-notes.txt"));
  CHECK_FALSE(bundle_arch_from_name("MLNX_OFED_LINUX-24.10-ubuntu24.04-ppc64le.tgz"));
  CHECK(platform::canonical_arch("arm64") == "aarch64");
  CHECK(platform::canonical_arch("amd64") == "x86_64");
  CHECK_FALSE(platform::canonical_arch("riscv64"));
}

TEST_CASE("a fake root's architecture is its proc/sys/kernel/arch, else the host's", "[platform][arch]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  auto host = platform::detect_machine_arch(SystemRoot("/"));
  CHECK(platform::detect_machine_arch(SystemRoot(dir.path())) == host);
  machine.arch("aarch64");
  CHECK(platform::detect_machine_arch(SystemRoot(dir.path())) == "aarch64");
  machine.arch("arm64\n");  // Debian's name reads as the catalog's
  CHECK(platform::detect_machine_arch(SystemRoot(dir.path())) == "aarch64");
  machine.arch("riscv64");
  CHECK(platform::detect_machine_arch(SystemRoot(dir.path())) == "riscv64");
}

TEST_CASE("plan on a GB200 and a GB300 root chooses the arm64 DOCA-host row", "[cli][arch]") {
  for (const char* profile : {"nd128isr_gb200_v6", "nd128isr_gb300_v6"}) {
    INFO(profile);
    ArmVm vm(profile);
    test::ImdsServer imds({"--vm-size", test::profile_vm_size(profile)});
    auto result = test::run_ibdriver({"plan", "--json", "--root", vm.root(), "--imds-url", imds.url()});
    INFO(result.err);
    REQUIRE(result.exit_status == 0);
    auto plan = nlohmann::json::parse(result.out);
    CHECK(plan["platform"]["arch"] == "aarch64");
    CHECK(plan["release"]["arch"] == "aarch64");
    CHECK(plan["release"]["file_name"] == "doca-host_3.2.2-035000-25.10-ubuntu2404_arm64.deb");
    CHECK(plan["release"]["sha256"] == "0343656f130b79b7392742f9f7890fb59d6a1489fa020ccab26adc714e727b04");
    CHECK(plan["kernels"] == nlohmann::json::array({"6.8.0-1025-azure"}));
    auto generation = std::string(profile) == "nd128isr_gb200_v6" ? "connectx-7" : "connectx-8";
    for (const auto& device : plan["platform"]["mellanox_devices"]) CHECK(device["generation"] == generation);
    CHECK(plan["platform"]["mellanox_devices"].size() == 4);
  }
}

TEST_CASE("the arch option chooses for another machine, and an unknown one is exit 1", "[cli][arch]") {
  ArmVm vm("nd128isr_gb200_v6");
  std::vector<std::string> base{"plan", "--json", "--root", vm.root(), "--skip-vm-size-check"};
  auto with = [&](std::vector<std::string> extra) {
    auto arguments = base;
    arguments.insert(arguments.end(), extra.begin(), extra.end());
    return test::run_ibdriver(arguments);
  };
  auto x86 = with({"--arch", "amd64"});
  INFO(x86.err);
  REQUIRE(x86.exit_status == 0);
  CHECK(nlohmann::json::parse(x86.out)["release"]["file_name"] == "doca-host_3.2.3-019000-25.10-ubuntu2404_amd64.deb");
  auto unknown = with({"--arch", "sparc64"});
  CHECK(unknown.exit_status == 1);
  CHECK_THAT(unknown.err, Catch::Contains("sparc64") && Catch::Contains("x86_64 (amd64) or aarch64 (arm64)"));
}

TEST_CASE("fetch --os --arch fetches another machine's bundle", "[cli][arch][fetch]") {
  test::HttpsServer server;
  const std::string amd64 = "doca-host_3.9.0-010000-26.04-ubuntu2404_amd64.deb";
  const std::string arm64 = "doca-host_3.9.0-010000-26.04-ubuntu2404_arm64.deb";
  auto amd64_sum = server.add_file(amd64, 3000);
  auto arm64_sum = server.add_file(arm64, 4000);
  test::TempDir work;
  auto row = [](const std::string& arch, const std::string& file, const std::string& sum) {
    return nlohmann::json{{"kind", "doca-host"}, {"arch", arch}, {"version", "3.9.0-010000-26.04"},
                          {"os", {{"id", "ubuntu"}, {"version", "24.04"}}}, {"label", "ubuntu2404"},
                          {"url", "https://downloads.example/" + file}, {"sha256", sum}, {"min_generation", "connectx-4"}};
  };
  std::ofstream(work.path() / "overlay.json")
      << nlohmann::json{{"schema", 1}, {"releases", {row("x86_64", amd64, amd64_sum), row("aarch64", arm64, arm64_sum)}}}.dump();
  auto fetch = [&](const std::string& arch) {
    return test::run_ibdriver({"fetch", "--os", "ubuntu:24.04", "--arch", arch, "--catalog", (work.path() / "overlay.json").string(),
                               "--mirror", fmt::format("https://127.0.0.1:{}/ok", server.port("good")), "--ca-bundle",
                               server.ca_file().string(), "--cache-dir", (work.path() / arch).string()});
  };
  auto arm = fetch("aarch64");
  INFO(arm.err);
  REQUIRE(arm.exit_status == 0);
  CHECK(std::filesystem::exists(work.path() / "aarch64/sha256" / arm64_sum));
  auto x86 = fetch("x86_64");
  REQUIRE(x86.exit_status == 0);
  CHECK(std::filesystem::exists(work.path() / "x86_64/sha256" / amd64_sum));
}

TEST_CASE("an OS without aarch64 rows is exit 12 naming the architecture", "[cli][arch]") {
  ArmVm vm("nd128isr_gb200_v6", "ubuntu22.04");
  auto result = test::run_ibdriver({"plan", "--root", vm.root(), "--skip-vm-size-check"});
  CHECK(result.exit_status == 12);
  CHECK_THAT(result.err, Catch::Contains("no aarch64 driver release for ubuntu 22.04 (only x86_64)"));
}

TEST_CASE("a bundle built for the other architecture is exit 14 naming both, before anything is fetched or installed",
          "[cli][arch]") {
  ArmVm vm("nd128isr_gb200_v6");
  auto before = tree(vm.dir.path());
  const std::string sum(64, 'a');
  SECTION("--driver-url, to plan and to install") {
    // 127.0.0.1:9 (discard) is never asked: the refusal comes first.
    auto url = "https://127.0.0.1:9/" + x86_bundle;
    auto plan = test::run_ibdriver({"plan", "--root", vm.root(), "--skip-vm-size-check", "--driver-url", url, "--sha256", sum});
    CHECK(plan.exit_status == 14);
    CHECK_THAT(plan.err, Catch::Contains(x86_bundle + " is built for x86_64, and this machine is aarch64"));
    auto install = test::run_ibdriver({"--root", vm.root(), "install", "--yes", "--skip-vm-size-check", "--driver-url", url, "--sha256", sum});
    CHECK(install.exit_status == 14);
    CHECK_THAT(install.err, Catch::Contains("built for x86_64, and this machine is aarch64"));
    CHECK_THAT(install.err, !Catch::Contains("127.0.0.1:9"));
  }
  SECTION("an offline bundle (--bundle), as one found in a cache") {
    auto bundle = vm.dir.path() / "offline" / x86_bundle;
    std::filesystem::create_directories(bundle.parent_path());
    std::ofstream(bundle) << "not read: the name is refused first";
    before = tree(vm.dir.path());
    auto install = test::run_ibdriver({"--root", vm.root(), "install", "--yes", "--skip-vm-size-check", "--bundle", bundle.string(),
                                       "--sha256", sum});
    CHECK(install.exit_status == 14);
    CHECK_THAT(install.err, Catch::Contains("built for x86_64, and this machine is aarch64"));
  }
  SECTION("the right one passes the check") {
    auto plan = test::run_ibdriver({"plan", "--json", "--root", vm.root(), "--skip-vm-size-check", "--driver-url",
                                    "https://127.0.0.1:9/" + arm_bundle, "--sha256", sum});
    INFO(plan.err);
    CHECK(plan.exit_status == 0);
  }
  // Nothing was written into the root (a log goes to var/log, which the refusal may create).
  auto after = tree(vm.dir.path());
  after.erase(std::remove_if(after.begin(), after.end(), [](const std::string& path) { return path.rfind("var/log", 0) == 0 || path == "var"; }),
              after.end());
  before.erase(std::remove_if(before.begin(), before.end(), [](const std::string& path) { return path.rfind("var/log", 0) == 0 || path == "var"; }),
               before.end());
  CHECK(after == before);
}
