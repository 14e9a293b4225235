#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "pipeline/plan.hpp"
#include "support/fake_machine.hpp"
#include "support/imds_server.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;
using platform::CheckState;

namespace {
struct Machine {
  test::TempDir dir;
  test::FakeMachine machine{dir.path()};
  Machine(const char* profile, const char* os) {
    test::populate_profile(machine, profile);
    machine.os_release_fixture(os);
  }
  SystemRoot root() const { return SystemRoot(dir.path()); }
};

pipeline::PlanOptions options_for(const test::ImdsServer& server) {
  pipeline::PlanOptions options;
  options.detect.imds.url = server.url();
  options.detect.imds.attempts = 1;
  return options;
}
}  // namespace

TEST_CASE("a Standard_HB120rs_v3 on Ubuntu 22.04 passes every check", "[detect]") {
  Machine vm("hb120rs_v3", "ubuntu22.04");
  test::ImdsServer imds({"--vm-size", "Standard_HB120rs_v3"});
  auto report = pipeline::detect(vm.root(), options_for(imds));
  CHECK(report.exit_code() == ExitCode::success);
  for (const auto& check : report.checks) {
    INFO(check.name << ": " << check.message);
    CHECK(check.state == CheckState::passed);
  }
  CHECK(report.hyperv.sys_vendor == "Microsoft Corporation");
  CHECK(report.kernels.running == "5.15.0-1073-azure");
  CHECK(report.secure_boot.state == platform::SecureBootState::disabled);
  CHECK(report.infiniband_generations() == std::vector{platform::ConnectXGeneration::connectx6});
  nlohmann::json json = report;
  CHECK(json["exit_code"] == 0);
  CHECK(json["vm"]["size"] == "Standard_HB120rs_v3");
  CHECK(json["mellanox_devices"].size() == 2);
  CHECK(json["checks"].size() == 4);
}

TEST_CASE("a Standard_ND96isr_H100_v5 on AlmaLinux 9 passes", "[detect]") {
  Machine vm("nd96isr_h100_v5", "almalinux9");
  test::ImdsServer imds({"--vm-size", "Standard_ND96isr_H100_v5"});
  auto report = pipeline::detect(vm.root(), options_for(imds));
  INFO((report.first_failure() ? report.first_failure()->message : std::string()));
  CHECK(report.exit_code() == ExitCode::success);
}

TEST_CASE("a Standard_D8s_v5 with only Accelerated Networking is exit 11", "[detect]") {
  Machine vm("d8s_v5", "ubuntu22.04");
  test::ImdsServer imds({"--vm-size", "Standard_D8s_v5"});
  auto report = pipeline::detect(vm.root(), options_for(imds));
  CHECK(report.exit_code() == ExitCode::no_infiniband_device);
  // The size check fails too, and says why.
  CHECK(report.find_check("vm-size")->state == CheckState::failed);
  CHECK_THAT(report.find_check("vm-size")->message, Catch::Contains("D series"));
}

TEST_CASE("a machine without VMBus is exit 10", "[detect]") {
  Machine vm("no_vmbus", "debian12");
  pipeline::PlanOptions options;
  options.detect.skip_vm_size_check = true;
  auto report = pipeline::detect(vm.root(), options);
  CHECK(report.exit_code() == ExitCode::no_vmbus);
  CHECK(report.find_check("device")->state == CheckState::passed);
  CHECK(report.find_check("vm-size")->state == CheckState::skipped);
  CHECK_FALSE(report.vm.has_value());
}

TEST_CASE("an OS without a driver release is exit 12", "[detect]") {
  Machine vm("hb120rs_v3", "debian12");
  pipeline::PlanOptions options;
  options.detect.skip_vm_size_check = true;
  auto report = pipeline::detect(vm.root(), options);
  CHECK(report.exit_code() == ExitCode::os_not_supported);
  CHECK_THAT(report.find_check("os")->message, Catch::Contains("no driver release for debian 12"));
}

TEST_CASE("a VM size that is not InfiniBand is exit 13, and so is an unreachable IMDS", "[detect]") {
  Machine vm("hb120rs_v3", "ubuntu22.04");
  SECTION("wrong size") {
    test::ImdsServer imds({"--vm-size", "Standard_D8s_v5"});
    CHECK(pipeline::detect(vm.root(), options_for(imds)).exit_code() == ExitCode::vm_size_not_supported);
  }
  SECTION("IMDS 500") {
    test::ImdsServer imds({"--mode", "500"});
    auto report = pipeline::detect(vm.root(), options_for(imds));
    CHECK(report.exit_code() == ExitCode::vm_size_not_supported);
    CHECK_THAT(report.find_check("vm-size")->message, Catch::Contains("HTTP 500"));
  }
}

TEST_CASE("each skip flag turns its failure into a note", "[detect]") {
  Machine vm("d8s_v5", "debian12");
  pipeline::PlanOptions options;
  options.detect.skip_device_check = true;
  options.detect.skip_os_check = true;
  options.detect.skip_vm_size_check = true;
  auto report = pipeline::detect(vm.root(), options);
  CHECK(report.exit_code() == ExitCode::success);
  CHECK_THAT(report.find_check("device")->message, Catch::Contains("would fail"));
  CHECK_THAT(report.find_check("os")->message, Catch::Contains("would fail"));
}

TEST_CASE("Secure Boot is read from efivars", "[detect]") {
  Machine vm("hb120rs_v3", "ubuntu22.04");
  vm.machine.secure_boot(true);
  pipeline::PlanOptions options;
  options.detect.skip_vm_size_check = true;
  auto report = pipeline::detect(vm.root(), options);
  CHECK(report.secure_boot.state == platform::SecureBootState::enabled);
  vm.machine.secure_boot(false);
  CHECK(pipeline::detect(vm.root(), options).secure_boot.state == platform::SecureBootState::disabled);
}
