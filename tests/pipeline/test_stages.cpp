// The install's stages seen through status and uninstall on a fake root (the real install, with apt
// and DKMS, runs in ci/chroot-test).
#include <fstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "install/boot_unit.hpp"
#include "install/configure.hpp"
#include "install/journal.hpp"
#include "pipeline/install_stage.hpp"
#include "pipeline/stage.hpp"
#include "support/fake_machine.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;

namespace {

const std::string sha(64, 'c');

// A root where every lasting stage is done and still true, but for what each test changes.
struct Provisioned {
  test::TempDir dir;
  test::FakeMachine machine{dir.path()};
  Provisioned() {
    machine.os_release("ID=debian\nVERSION_ID=\"12\"\n");
    machine.kernel("6.1.0-27-amd64", true);
    machine.write("etc/waagent.conf", "OS.EnableRDMA=n\n");
    machine.write("usr/sbin/ibdriver", "#!/bin/sh\n");  // the boot unit's program (status checks it exists)
    fs::permissions(dir.path() / "usr/sbin/ibdriver", fs::perms(0755));
    auto state = begin();
    auto record_change = [&](const install::ConfigChange& change) { state.add_config_change(change); };
    install::configure_node(root(), {true}, record_change);
    install::install_boot_unit(root(), record_change);
    fs::create_directories(dir.path() / ("var/lib/ibdriver/bundles/" + sha));
    for (const char* stage : {"fetch", "unpack", "packages", "dkms", "configure"}) state.mark_stage(stage, 0);
  }
  SystemRoot root() const { return SystemRoot(dir.path()); }
  install::Journal begin() const {
    install::JournalRecord record;
    record.release_version = "24.10-1.1.4.0";
    record.release_file = "MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz";
    record.sha256 = sha;
    record.profile = "mlnx-ofed-hpc";
    record.bundle_dir = "/var/lib/ibdriver/bundles/" + sha;
    return install::Journal::begin(root(), record);
  }
};

}  // namespace

TEST_CASE("the stage names are one list, in DESIGN.md's order", "[pipeline][stages]") {
  std::vector<std::string> names;
  for (auto stage : pipeline::stage_order) names.emplace_back(pipeline::to_string(stage));
  CHECK(names == std::vector<std::string>{"detect", "resolve", "fetch", "unpack", "packages", "dkms", "configure", "load", "validate"});
}

TEST_CASE("status on a provisioned root is healthy", "[pipeline][stages]") {
  Provisioned provisioned;
  auto status = pipeline::installation_status(provisioned.root());
  INFO(fmt::format("{}", fmt::join(status.missing, "\n")));
  CHECK(status.healthy());
}

// Bug: the error from making the package manager went into `missing`, and the next line overwrote
// `missing`: status said healthy when it could not check the packages.
TEST_CASE("status is not healthy when it cannot check the packages", "[pipeline][stages]") {
  Provisioned provisioned;
  auto journal = install::Journal::load(provisioned.root());
  journal->add_packages({"mlnx-ofed-hpc"});
  provisioned.machine.os_release("ID=plan9\nVERSION_ID=\"4\"\n");  // no package manager ibdriver knows
  auto status = pipeline::installation_status(provisioned.root());
  CHECK_FALSE(status.healthy());
  REQUIRE(status.missing.size() == 1);
  CHECK_THAT(status.missing[0], Catch::Contains("cannot be checked") && Catch::Contains("package manager"));
}

TEST_CASE("status names each stage that is no longer true", "[pipeline][stages]") {
  Provisioned provisioned;
  fs::remove_all(provisioned.dir.path() / ("var/lib/ibdriver/bundles/" + sha));
  fs::remove(provisioned.dir.path() / "etc/modules-load.d/ibdriver.conf");
  auto status = pipeline::installation_status(provisioned.root());
  CHECK_FALSE(status.healthy());
  CHECK(status.missing == std::vector<std::string>{"the unpacked bundle is gone", "the node configuration changed"});
}

// Bug: the journal kept the unpacked bundle as a host path under --root, and uninstall removed it as one.
TEST_CASE("uninstall on a fake root undoes the stages inside the root, by system paths", "[pipeline][stages]") {
  Provisioned provisioned;
  auto bundle = provisioned.dir.path() / ("var/lib/ibdriver/bundles/" + sha);
  REQUIRE(fs::exists(bundle));
  CHECK(install::Journal::load(provisioned.root())->record().bundle_dir == "/var/lib/ibdriver/bundles/" + sha);
  auto removed = pipeline::run_uninstall(provisioned.root(), std::chrono::seconds(5));
  REQUIRE(removed.has_value());
  CHECK(removed->release_file == "MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz");
  CHECK_FALSE(fs::exists(bundle));
  CHECK_FALSE(fs::exists(provisioned.dir.path() / "etc/modules-load.d/ibdriver.conf"));
  // The folders the install created for its files are gone too; those that were there stay.
  CHECK_FALSE(fs::exists(provisioned.dir.path() / "etc/modules-load.d"));
  CHECK_FALSE(fs::exists(provisioned.dir.path() / "etc/systemd"));
  CHECK(fs::is_directory(provisioned.dir.path() / "etc"));
  CHECK(test::file_text(provisioned.dir.path() / "etc/waagent.conf") == "OS.EnableRDMA=n\n");
  CHECK_FALSE(install::Journal::load(provisioned.root()).has_value());
  CHECK_FALSE(pipeline::run_uninstall(provisioned.root(), std::chrono::seconds(5)).has_value());
}
