// The distro packages a bundle upgrades in place (install/replaced_packages.hpp): which they are, read
// from the bundle's real Packages index (tests/fixtures/make_mofed_bundle.py) and dpkg-query's answer,
// and their .deb kept from apt's cache.
#include <algorithm>
#include <fstream>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "install/replaced_packages.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
using namespace ibdriver::install;
namespace fs = std::filesystem;

TEST_CASE("the bundle's rdma-core packages replace the distro's installed ones", "[install][replaced]") {
  test::TempDir dir;
  auto made = run_process({"python3", std::string(IBDRIVER_TEST_FIXTURES) + "/make_mofed_bundle.py", (dir.path() / "b").string()});
  INFO(made.err);
  REQUIRE(made.succeeded());
  auto index = parse_packages_index(test::file_text(fs::path(std::string(text::trim(made.out))) / "DEBS/Packages"));
  auto found = std::find_if(index.begin(), index.end(), [](const auto& p) { return p.name == "libibverbs1"; });
  REQUIRE(found != index.end());
  CHECK(found->version == "2410mlnx54-1.2410068");
  CHECK(found->architecture == "amd64");
  // What dpkg-query says on a Debian 12 machine with the distro's verbs stack (and a removed package).
  auto installed = parse_installed(
      "libibverbs1 44.0-2 amd64 installed\nibverbs-providers 44.0-2 amd64 installed\nrdma-core 44.0-2 amd64 config-files\n"
      "mlnx-tools 1:23.10-0 amd64 installed\nbash 5.2.15-2+b2 amd64 installed\n");
  CHECK(installed.size() == 4);
  auto replaced = packages_replaced_by(index, installed);
  REQUIRE(replaced.size() == 3);
  CHECK(replaced[0].name == "ibverbs-providers");  // the index's order (dpkg-scanpackages sorts by name)
  CHECK(replaced[0].version == "44.0-2");
  CHECK(replaced[0].bundle_version == "2410mlnx54-1.2410068");
  CHECK(replaced[1].name == "libibverbs1");
  CHECK(replaced[2].name == "mlnx-tools");  // any same-named package of another version counts
  CHECK(deb_file_name({"mlnx-tools", "1:23.10-0", "amd64"}) == "mlnx-tools_1%3a23.10-0_amd64.deb");
  // The same version installed (a re-run after install) replaces nothing.
  CHECK(packages_replaced_by(index, parse_installed("libibverbs1 2410mlnx54-1.2410068 amd64 installed\n")).empty());
}

TEST_CASE("a replaced version is kept from apt's cache; one that is not there is left to the repositories", "[install][replaced]") {
  test::TempDir dir;
  SystemRoot root(dir.path());
  fs::create_directories(dir.path() / "var/cache/apt/archives");
  std::ofstream(dir.path() / "var/cache/apt/archives/libibverbs1_44.0-2_amd64.deb") << "a .deb";
  auto kept = keep_replaced_packages(root, {{"libibverbs1", "44.0-2", "amd64", "2410mlnx54-1.2410068", {}},
                                            {"rdma-core", "44.0-2", "amd64", "2410mlnx54-1.2410068", {}}});
  REQUIRE(kept.size() == 2);
  CHECK(kept[0].saved == "/var/lib/ibdriver/replaced/libibverbs1_44.0-2_amd64.deb");
  CHECK(test::file_text(dir.path() / "var/lib/ibdriver/replaced/libibverbs1_44.0-2_amd64.deb") == "a .deb");
  CHECK(kept[1].saved.empty());  // not cached, and apt-get download runs on the host root only
  CHECK_THROWS_WITH(restore_replaced_packages(root, kept), Catch::Contains("needs the system root to be /"));
}
