#include <catch2/catch.hpp>

#include "platform/kernels.hpp"
#include "platform/package_family.hpp"
#include "support/fake_machine.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;

TEST_CASE("installed kernels with headers are found through absolute build links", "[kernels]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.kernel("6.1.0-27-amd64", true);
  machine.kernel("6.1.0-9-amd64", true);
  machine.kernel("6.1.0-28-cloud-amd64", false);
  machine.running_kernel("6.1.0-27-amd64");
  auto kernels = platform::detect_kernels(SystemRoot(dir.path()));
  CHECK(kernels.running == "6.1.0-27-amd64");
  REQUIRE(kernels.installed.size() == 3);
  CHECK(kernels.installed[0].release == "6.1.0-9-amd64");
  CHECK(kernels.with_headers() == std::vector<std::string>{"6.1.0-9-amd64", "6.1.0-27-amd64"});
}

TEST_CASE("a build link whose headers were removed does not count", "[kernels]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.kernel("5.15.0-1051-azure", true);
  std::filesystem::remove_all(dir.path() / "usr/src");
  auto kernels = platform::detect_kernels(SystemRoot(dir.path()));
  REQUIRE(kernels.installed.size() == 1);
  CHECK_FALSE(kernels.installed[0].has_headers);
}

TEST_CASE("kernel releases order numerically", "[kernels]") {
  CHECK(platform::kernel_release_less("6.1.0-9-amd64", "6.1.0-27-amd64"));
  CHECK(platform::kernel_release_less("5.15.0-1051-azure", "6.5.0-1025-azure"));
  CHECK_FALSE(platform::kernel_release_less("6.1.0-27-amd64", "6.1.0-27-amd64"));
  CHECK(platform::kernel_release_less("4.18.0-513.el8.x86_64", "4.18.0-553.el8.x86_64"));
}

TEST_CASE("the host root's running kernel comes from uname", "[kernels]") {
  auto kernels = platform::detect_kernels(SystemRoot("/"));
  CHECK_FALSE(kernels.running.empty());
}

TEST_CASE("the package that brings a kernel's headers, per package family", "[kernels]") {
  using platform::kernel_headers_package;
  using platform::PackageFamily;
  CHECK(kernel_headers_package(PackageFamily::apt, "6.8.0-1021-azure") == "linux-headers-6.8.0-1021-azure");
  CHECK(kernel_headers_package(PackageFamily::dnf, "4.18.0-553.el8_10.x86_64") == "kernel-devel-4.18.0-553.el8_10.x86_64");
  CHECK(kernel_headers_package(PackageFamily::yum, "3.10.0-1127.el7.x86_64") == "kernel-devel-3.10.0-1127.el7.x86_64");
  CHECK(kernel_headers_package(PackageFamily::tdnf, "6.6.47.1-1.azl3") == "kernel-devel-6.6.47.1-1.azl3");
  CHECK(kernel_headers_package(PackageFamily::zypper, "5.14.21-150500.55.39-default") ==
        "kernel-default-devel-5.14.21-150500.55.39");
  CHECK(kernel_headers_package(PackageFamily::unknown, "6.1.0-27-amd64").empty());
}

TEST_CASE("kernels newer than the running one without headers are the ones that need them", "[kernels]") {
  platform::KernelInventory kernels;
  kernels.running = "5.15.0-1073-azure";
  kernels.installed = {{"5.15.0-1040-azure", false}, {"5.15.0-1073-azure", true}, {"6.8.0-1021-azure", false}, {"6.8.0-1022-azure", true}};
  auto missing = platform::kernels_missing_headers(kernels, platform::PackageFamily::apt);
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].kernel == "6.8.0-1021-azure");
  CHECK(missing[0].package == "linux-headers-6.8.0-1021-azure");
  kernels.running.clear();  // unknown: every kernel without headers
  CHECK(platform::kernels_missing_headers(kernels, platform::PackageFamily::dnf).size() == 2);
}
