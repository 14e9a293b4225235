#include <fstream>
#include <map>

#include <catch2/catch.hpp>

#include "catalog/catalog.hpp"
#include "core/error.hpp"
#include "core/process.hpp"
#include "install/bundle_arch.hpp"
#include "install/configure.hpp"
#include "install/dkms.hpp"
#include "install/journal.hpp"
#include "install/mofed_bundle.hpp"
#include "support/fake_machine.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;

TEST_CASE("set_key edits one key in place and keeps every other line", "[install][configure]") {
  std::string waagent = "# Azure Linux Agent\nProvisioning.Enabled=y\n# OS.EnableRDMA=n (a comment)\nOS.EnableRDMA=n\nLogs.Verbose=n\n";
  CHECK(install::set_key(waagent, "OS.EnableRDMA", "y") ==
        "# Azure Linux Agent\nProvisioning.Enabled=y\n# OS.EnableRDMA=n (a comment)\nOS.EnableRDMA=y\nLogs.Verbose=n\n");
  CHECK(install::set_key("A=1\n", "B", "2") == "A=1\nB=2\n");
  CHECK(install::set_key("A=1", "A", "1") == "A=1\n");
  CHECK(install::set_key("  IPOIB_LOAD = no\n", "IPOIB_LOAD", "yes") == "IPOIB_LOAD=yes\n");
  CHECK(install::set_key("", "X", "y") == "X=y\n");
}

TEST_CASE("configure writes, records the original first, is idempotent, and restores", "[install][configure]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  const std::string original = "# agent\nOS.EnableRDMA=n\nLogs.Verbose=n\n";
  machine.write("etc/waagent.conf", original);
  machine.write("etc/infiniband/openib.conf", "# openib\nIPOIB_LOAD=no\nSRP_LOAD=no\n");
  SystemRoot root(dir.path());
  std::vector<install::ConfigChange> changes;
  install::configure_node(root, {true}, [&](const install::ConfigChange& change) {
    // Recorded before the file changes: the original is still on disk.
    if (change.original) {
      std::ifstream in(dir.path() / change.file.substr(1));
      std::string now((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      CHECK(now == *change.original);
    }
    changes.push_back(change);
  });
  REQUIRE(changes.size() == 4);
  // /etc/modules-load.d was absent (minimal images lack it): made and recorded before the file.
  CHECK(changes[0].file == "/etc/modules-load.d");
  CHECK(changes[0].action == "folder-created");
  CHECK(changes[1].file == "/etc/modules-load.d/ibdriver.conf");
  CHECK(changes[1].action == "created");
  CHECK(install::node_configured(root, {true}));
  CHECK_FALSE(install::node_configured(root, {false}));
  std::size_t again = 0;
  install::configure_node(root, {true}, [&](const install::ConfigChange&) { ++again; });
  CHECK(again == 0);
  install::restore_configuration(root, changes);
  std::ifstream in(dir.path() / "etc/waagent.conf");
  CHECK(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()) == original);
  CHECK_FALSE(fs::exists(dir.path() / "etc/modules-load.d"));
  CHECK(fs::exists(dir.path() / "etc/infiniband/openib.conf"));
}

TEST_CASE("where the driver installed openibd, a drop-in orders it after udev settles", "[install][configure]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.write("lib/systemd/system/openibd.service", "[Unit]\nDescription=openibd\n");
  SystemRoot root(dir.path());
  std::vector<install::ConfigChange> changes;
  CHECK_FALSE(install::node_configured(root, {true}));
  install::configure_node(root, {true}, [&](const install::ConfigChange& change) { changes.push_back(change); });
  std::ifstream in(dir.path() / "etc/systemd/system/openibd.service.d/ibdriver.conf");
  std::string dropin((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK_THAT(dropin, Catch::Contains("After=systemd-udev-settle.service") && Catch::Contains("Restart=on-failure"));
  CHECK(install::node_configured(root, {true}));
  install::restore_configuration(root, changes);
  CHECK_FALSE(fs::exists(dir.path() / "etc/systemd/system/openibd.service.d"));
  CHECK(fs::exists(dir.path() / "lib/systemd/system/openibd.service"));
}

TEST_CASE("dkms.conf is read and modules are built in BUILD_DEPENDS order", "[install][dkms]") {
  auto core = install::parse_dkms_conf("PACKAGE_NAME=\"mlnx-ofed-kernel\"\nPACKAGE_VERSION=\"24.10\"\n", "/a/dkms.conf");
  auto iser = install::parse_dkms_conf("PACKAGE_NAME='iser'\nPACKAGE_VERSION=24.10\nBUILD_DEPENDS[0]=\"mlnx-ofed-kernel\"\n",
                                       "/b/dkms.conf");
  auto srp = install::parse_dkms_conf("PACKAGE_NAME=srp\nPACKAGE_VERSION=1\nBUILD_DEPENDS=\"iser mlnx-ofed-kernel\"\n", "/c");
  CHECK(iser.build_depends == std::vector<std::string>{"mlnx-ofed-kernel"});
  auto ordered = install::build_order({srp, iser, core});
  REQUIRE(ordered.size() == 3);
  CHECK(ordered[0].name == "mlnx-ofed-kernel");
  CHECK(ordered[1].name == "iser");
  CHECK(ordered[2].name == "srp");
  auto loop_a = install::parse_dkms_conf("PACKAGE_NAME=a\nPACKAGE_VERSION=1\nBUILD_DEPENDS=b\n", "/a");
  auto loop_b = install::parse_dkms_conf("PACKAGE_NAME=b\nPACKAGE_VERSION=1\nBUILD_DEPENDS=a\n", "/b");
  CHECK_THROWS_WITH(install::build_order({loop_a, loop_b}), Catch::Contains("cycle"));
  CHECK_THROWS_WITH(install::parse_dkms_conf("MAKE=make\n", "/x/dkms.conf"), Catch::Contains("/x/dkms.conf"));
}

TEST_CASE("the journal round-trips and a damaged one is an error", "[install][journal]") {
  test::TempDir dir;
  SystemRoot root(dir.path());
  CHECK_FALSE(install::Journal::load(root).has_value());
  install::JournalRecord record;
  record.release_version = "24.10-1.1.4.0";
  record.release_file = "MLNX.tgz";
  record.sha256 = std::string(64, 'a');
  auto journal = install::Journal::begin(root, record);
  // Every change is saved as it is made: a fresh load sees it.
  journal.add_packages({"mlnx-ofed-hpc"});
  journal.add_dkms_module("mlnx-ofed-kernel", "24.10");
  journal.add_dkms_module("iser", "24.10");
  journal.add_dkms_kernel("iser", "6.1.0-27-amd64");
  journal.add_config_change({"/etc/waagent.conf", "edited", std::string("OS.EnableRDMA=n\n")});
  journal.add_config_change({"/etc/waagent.conf", "edited", std::string("OS.EnableRDMA=y\n")});  // the first original wins
  journal.mark_stage("fetch", 1.5);
  journal.mark_stage("detect", 0.25, true);  // a stage that leaves nothing behind: its time only
  journal.mark_stage("dkms", 42.0, false, {{"6.1.0-27-amd64", 30.0}, {"6.1.0-28-amd64", 12.0}});
  auto loaded = install::Journal::load(root);
  REQUIRE(loaded.has_value());
  const auto& read = loaded->record();
  CHECK(read.schema == install::Journal::schema_version);
  CHECK(read.packages == std::vector<std::string>{"mlnx-ofed-hpc"});
  REQUIRE(read.dkms_modules.size() == 2);
  CHECK(read.dkms_modules[0].name == "mlnx-ofed-kernel");  // build order, not name order
  CHECK(read.dkms_modules[1].kernels == std::vector<std::string>{"6.1.0-27-amd64"});
  REQUIRE(read.configuration.size() == 1);
  CHECK(read.configuration[0].original == std::string("OS.EnableRDMA=n\n"));
  CHECK(read.stage_done("fetch"));
  CHECK(read.stages.at("fetch").seconds == 1.5);
  CHECK(read.stages.at("fetch").kernels.empty());
  CHECK_FALSE(read.stage_done("detect"));
  CHECK(read.stages.at("detect").state == "ran");
  CHECK(read.stages.at("detect").seconds == 0.25);
  CHECK(read.stage_done("dkms"));
  CHECK(read.stages.at("dkms").kernels == std::map<std::string, double>{{"6.1.0-27-amd64", 30.0}, {"6.1.0-28-amd64", 12.0}});
  CHECK_THROWS_WITH(journal.add_dkms_kernel("srp", "6.1.0-27-amd64"), Catch::Contains("never journaled"));
  std::ofstream(install::Journal::path(root)) << "{\"schema\": 1";
  CHECK_THROWS_WITH(install::Journal::load(root), Catch::Contains("damaged"));
}

TEST_CASE("a MOFED bundle must be the release its catalog row describes", "[install][bundle]") {
  test::TempDir dir;
  auto make = [&](const std::vector<std::string>& extra) {
    fs::remove_all(dir.path() / "b");
    std::vector<std::string> argv{"python3", std::string(IBDRIVER_TEST_FIXTURES) + "/make_mofed_bundle.py",
                                  (dir.path() / "b").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    REQUIRE(run_process(argv).succeeded());
  };
  auto release = catalog::pinned_release("https://x/MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz", std::string(64, 'a'));
  make({});
  auto bundle = install::inspect_mofed_bundle(dir.path() / "b", release);
  CHECK(bundle.version == "24.10-1.1.4.0");
  CHECK(bundle.label == "debian12.1");
  CHECK(fs::exists(bundle.repository / "Packages"));
  make({"--label", "ubuntu22.04"});
  CHECK_THROWS_WITH(install::inspect_mofed_bundle(dir.path() / "b", release),
                    Catch::Contains("distro says ubuntu22.04") && Catch::Contains("debian12.1"));
  make({"--version", "23.10-0.5.5.0"});
  CHECK_THROWS_WITH(install::inspect_mofed_bundle(dir.path() / "b", release), Catch::Contains(".mlnx says version 23.10-0.5.5.0"));
  make({"--no-debs"});
  CHECK_THROWS_WITH(install::inspect_mofed_bundle(dir.path() / "b", release), Catch::Contains("no DEBS/Packages"));
  fs::remove_all(dir.path() / "b");
  fs::create_directories(dir.path() / "b/something-else");
  CHECK_THROWS_WITH(install::inspect_mofed_bundle(dir.path() / "b", release), Catch::Contains("no MLNX_OFED_LINUX-"));
}

TEST_CASE("a bundle's architecture is read from what it holds, not from its name", "[install][bundle][arch]") {
  test::TempDir dir;
  auto make_file = [&](const std::string& relative, const std::string& content = "x") {
    fs::create_directories((dir.path() / relative).parent_path());
    std::ofstream(dir.path() / relative) << content;
  };
  SECTION("the fixture MOFED tree (.arch, _amd64.deb and _all.deb) is x86_64") {
    REQUIRE(run_process({"python3", std::string(IBDRIVER_TEST_FIXTURES) + "/make_mofed_bundle.py", dir.path().string()}).succeeded());
    CHECK_FALSE(install::foreign_content_arch(dir.path(), "x86_64"));
    auto foreign = install::foreign_content_arch(dir.path(), "aarch64");
    REQUIRE(foreign);
    CHECK(foreign->arch == "x86_64");
    CHECK_THAT(foreign->evidence, Catch::StartsWith("MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64/"));
  }
  SECTION("a renamed aarch64 tree: its packages say so (real-bundles.md's 24.10 ubuntu24.04 name)") {
    make_file("MLNX_OFED_LINUX-custom/DEBS/ofed-scripts_24.10.OFED.24.10.1.1.4.1-1_all.deb");
    // Links are not followed nor judged, and a dangling one does not end the search.
    fs::create_symlink("gone_1.0_amd64.deb", dir.path() / "MLNX_OFED_LINUX-custom/DEBS/a-dangling_1.0_arm64.deb");
    fs::create_symlink("/nowhere", dir.path() / "MLNX_OFED_LINUX-custom/DEBS/0-dangling");
    make_file("MLNX_OFED_LINUX-custom/DEBS/ibacm_2410mlnx54-1.2410068_arm64.deb");
    auto foreign = install::foreign_content_arch(dir.path(), "x86_64");
    REQUIRE(foreign);
    CHECK(foreign->arch == "aarch64");
    CHECK(foreign->evidence == "MLNX_OFED_LINUX-custom/DEBS/ibacm_2410mlnx54-1.2410068_arm64.deb");
    CHECK_FALSE(install::foreign_content_arch(dir.path(), "aarch64"));
    CHECK_THROWS_WITH(install::check_content_arch(dir.path(), "ofed.tgz", "x86_64"),
                      Catch::Contains("the driver bundle ofed.tgz holds packages for aarch64 (MLNX_OFED_LINUX-custom/DEBS/ibacm_") &&
                          Catch::Contains("and this machine is x86_64"));
  }
  SECTION("RPMS: .noarch states none, .aarch64 does; a DOCA-host package's repository is searched too") {
    make_file("MLNX_OFED_LINUX-x/RPMS/mlnx-tools-24.10-0.2410068.noarch.rpm");
    CHECK_FALSE(install::foreign_content_arch(dir.path(), "x86_64"));
    make_file("usr/share/doca-host-3.2.1-044000-25.10/repo/mlnx-ofa_kernel-25.10-OFED.25.10.1.7.1.1.aarch64.rpm");
    auto foreign = install::foreign_content_arch(dir.path(), "x86_64");
    REQUIRE(foreign);
    CHECK(foreign->evidence == "usr/share/doca-host-3.2.1-044000-25.10/repo/mlnx-ofa_kernel-25.10-OFED.25.10.1.7.1.1.aarch64.rpm");
  }
  SECTION("an .arch file alone, and what lies deeper than any bundle layout is not read") {
    make_file("MLNX_OFED_LINUX-x/.arch", "aarch64\n");
    CHECK(install::foreign_content_arch(dir.path(), "x86_64")->evidence == "MLNX_OFED_LINUX-x/.arch");
    fs::remove(dir.path() / "MLNX_OFED_LINUX-x/.arch");
    make_file("MLNX_OFED_LINUX-x/docs/.arch", "aarch64\n");  // only the top level's says anything
    make_file("MLNX_OFED_LINUX-y/.arch", std::string(4096, 'x'));  // not an arch name: says nothing, no error
    CHECK_FALSE(install::foreign_content_arch(dir.path(), "x86_64"));
    make_file("a/b/c/d/e/f/deep_1.0_arm64.deb");
    CHECK_FALSE(install::foreign_content_arch(dir.path(), "x86_64"));
    CHECK_NOTHROW(install::check_content_arch(dir.path(), "ofed.tgz", ""));  // nothing expected: nothing to judge
  }
}
