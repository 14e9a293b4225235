#include <algorithm>
#include <chrono>

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
  options.detect.imds.busy_budget = std::chrono::milliseconds(200);
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

// Cases from real reports (issue 16), each with the inputs the report gave.

TEST_CASE("case 1: a ConnectX-3 Pro VF of class 0x0280 on CentOS 7.8 counts as InfiniBand; no 4.9 LTS row is exit 12", "[detect][issue16]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.vmbus(4);
  machine.dmi("Microsoft Corporation", "Virtual Machine");
  machine.os_release_fixture("centos7");
  machine.write("etc/redhat-release", "CentOS Linux release 7.8.2003 (Core)\n");
  machine.kernel("3.10.0-1127.el7.x86_64", true);
  machine.running_kernel("3.10.0-1127.el7.x86_64");
  machine.pci_device("0002:00:02.0", 0x15b3, 0x1004, 0x028000);  // what NCv3/NDv2 show
  SystemRoot root(dir.path());

  SECTION("without IMDS: the device check passes on the device alone") {
    pipeline::PlanOptions options;
    options.detect.skip_vm_size_check = true;
    auto report = pipeline::detect(root, options);
    CHECK(report.find_check("device")->state == CheckState::passed);
    CHECK(report.infiniband_generations() == std::vector{platform::ConnectXGeneration::connectx3});
    CHECK(report.exit_code() == ExitCode::os_not_supported);
  }
  SECTION("with IMDS Standard_NC24rs_v3: the generation drives the choice, which does not exist") {
    test::ImdsServer imds({"--vm-size", "Standard_NC24rs_v3"});
    auto plan = pipeline::make_plan(root, options_for(imds));
    CHECK(plan.exit_code == ExitCode::os_not_supported);
    CHECK_FALSE(plan.resolution.has_value());
    CHECK_THAT(plan.failure, Catch::Contains("centos 7.8") && Catch::Contains("connectx-3") &&
                                 Catch::Contains("ConnectX-3 needs the MLNX_OFED 4.9 LTS branch, which the catalog has for: ubuntu 18.04, 20.04"));
    // Skipping the device check changes nothing about which driver fits the device.
    auto skipped = options_for(imds);
    skipped.detect.skip_device_check = true;
    CHECK(pipeline::make_plan(root, skipped).exit_code == ExitCode::os_not_supported);
  }
}

TEST_CASE("case 2: a Network Direct size (Standard_NC24r) is exit 11 saying its RDMA is not SR-IOV", "[detect][issue16]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.vmbus(4);
  machine.dmi("Microsoft Corporation", "Virtual Machine");
  machine.os_release_fixture("ubuntu18.04");
  machine.kernel("5.4.0-1109-azure", true);
  machine.running_kernel("5.4.0-1109-azure");
  test::ImdsServer imds({"--vm-size", "Standard_NC24r"});
  auto report = pipeline::detect(SystemRoot(dir.path()), options_for(imds));
  CHECK(report.exit_code() == ExitCode::no_infiniband_device);
  const auto* device = report.find_check("device");
  CHECK_THAT(device->message, Catch::Contains("no Mellanox (0x15b3) PCI device") && Catch::Contains("Network Direct") &&
                                  Catch::Contains("not SR-IOV") && Catch::Contains("OFED does not drive it"));
  CHECK_THAT(device->hint, !Catch::Contains("use an InfiniBand VM size") && Catch::Contains("SR-IOV InfiniBand size"));
  CHECK(report.vm_size->network_direct);
  CHECK(report.find_check("vm-size")->state == CheckState::failed);
}

TEST_CASE("case 4: a newer installed kernel without headers gets a note naming its headers package", "[detect][issue16]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  test::populate_profile(machine, "hb120rs_v3");
  machine.os_release_fixture("ubuntu22.04");
  machine.kernel("6.8.0-1021-azure", false);  // unattended upgrade: installed, no headers
  pipeline::PlanOptions options;
  options.detect.skip_vm_size_check = true;
  auto plan = pipeline::make_plan(SystemRoot(dir.path()), options);
  REQUIRE(plan.exit_code == ExitCode::success);
  CHECK(plan.kernels == std::vector<std::string>{"5.15.0-1051-azure", "5.15.0-1073-azure"});
  REQUIRE(plan.missing_headers.size() == 1);  // the older 5.15.0-1040-azure is not booted by default
  CHECK(plan.missing_headers[0].kernel == "6.8.0-1021-azure");
  CHECK(plan.missing_headers[0].package == "linux-headers-6.8.0-1021-azure");
  CHECK(std::any_of(plan.notes.begin(), plan.notes.end(), [](const std::string& note) {
    return note.find("install linux-headers-6.8.0-1021-azure") != std::string::npos;
  }));
  nlohmann::json json = plan;
  CHECK(json["kernels_missing_headers"][0]["package"] == "linux-headers-6.8.0-1021-azure");
}

TEST_CASE("case 5: an IMDS base URL and the whole instance document both work in detect", "[detect][issue16]") {
  Machine vm("hb120rs_v3", "ubuntu22.04");
  test::ImdsServer imds({"--vm-size", "Standard_HB120rs_v3"});
  for (const auto& url : {imds.base_url(), imds.base_url() + "/metadata/instance?api-version=2021-02-01"}) {
    INFO(url);
    pipeline::PlanOptions options;
    options.detect.imds.url = url;
    auto report = pipeline::detect(vm.root(), options);
    CHECK(report.exit_code() == ExitCode::success);
    REQUIRE(report.vm.has_value());
    CHECK(report.vm->vm_size == "Standard_HB120rs_v3");
  }
}

TEST_CASE("the plan names the size's configuration as Azure's images do it", "[detect][issue16]") {
  Machine vm("nd96isr_h100_v5", "ubuntu22.04");
  test::ImdsServer imds({"--vm-size", "Standard_ND96isr_H100_v5"});
  auto plan = pipeline::make_plan(vm.root(), options_for(imds));
  REQUIRE(plan.size_configuration.has_value());
  CHECK(plan.size_configuration->nvidia_peermem);
  CHECK(plan.size_configuration->ipoib);
  CHECK(std::any_of(plan.notes.begin(), plan.notes.end(),
                    [](const std::string& note) { return note.find("nvidia-peermem") != std::string::npos; }));
}
