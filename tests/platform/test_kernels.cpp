#include <catch2/catch.hpp>

#include "platform/kernels.hpp"
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
