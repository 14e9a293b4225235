// The install's stages seen through status and uninstall on a fake root (the real install, with apt
// and DKMS, runs in ci/chroot-test).
#include <algorithm>
#include <fstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "install/boot_unit.hpp"
#include "install/configure.hpp"
#include "install/journal.hpp"
#include "pipeline/install_stage.hpp"
#include "pipeline/plan.hpp"
#include "pipeline/stage.hpp"
#include "support/fake_machine.hpp"
#include "support/imds_server.hpp"
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

// Issue 16: on the NVIDIA ND GPU sizes Azure's images load nvidia-peermem after openibd
// (Azure/azhpc-images components/setup_sku_customizations.sh, the openibd.service.d drop-in); other
// InfiniBand sizes do not get it. Planned from IMDS's size, configured under --root, journaled,
// checked by status and removed by uninstall.
TEST_CASE("the ND GPU sizes get the openibd drop-in that loads nvidia-peermem; HB sizes do not", "[pipeline][stages][configure][issue16]") {
  struct Case {
    const char* profile;
    bool peermem;
  };
  for (const auto& item : {Case{"nd96isr_h100_v5", true}, Case{"hb120rs_v3", false}}) {
    INFO(item.profile);
    test::TempDir dir;
    test::FakeMachine machine(dir.path());
    test::populate_profile(machine, item.profile);
    machine.os_release_fixture("ubuntu22.04");
    machine.write("lib/systemd/system/openibd.service", "[Unit]\nDescription=openibd\n");  // as the driver installs it
    SystemRoot root(dir.path());
    test::ImdsServer imds({"--vm-size", test::profile_vm_size(item.profile)});
    pipeline::PlanOptions options;
    options.detect.imds.url = imds.url();
    auto plan = pipeline::make_plan(root, options);
    REQUIRE(plan.exit_code == ExitCode::success);
    auto node = pipeline::node_settings(plan, options);
    CHECK(node.nvidia_peermem == item.peermem);
    bool planned = std::any_of(plan.configuration.begin(), plan.configuration.end(),
                               [](const pipeline::PlannedChange& change) { return change.target == install::peermem_dropin; });
    CHECK(planned == item.peermem);

    install::JournalRecord record;
    record.release_version = "24.10-1.1.4.0";
    record.release_file = "MLNX_OFED_LINUX-24.10-1.1.4.0-ubuntu22.04-x86_64.tgz";
    record.sha256 = sha;
    auto journal = install::Journal::begin(root, record);
    journal.set_node(node.ipoib, node.nvidia_peermem);
    auto to_journal = [&](const install::ConfigChange& change) { journal.add_config_change(change); };
    install::configure_node(root, node, to_journal);
    const auto dropin = dir.path() / "etc/systemd/system/openibd.service.d/ibdriver-nvidia-peermem.conf";
    REQUIRE(fs::exists(dropin) == item.peermem);
    auto journaled_state = install::Journal::load(root);
    REQUIRE(journaled_state.has_value());
    const auto& changes = journaled_state->record().configuration;
    bool journaled = std::any_of(changes.begin(), changes.end(), [](const install::ConfigChange& change) {
      return change.file == install::peermem_dropin && change.action == "created";
    });
    CHECK(journaled == item.peermem);
    CHECK(install::Journal::load(root)->record().nvidia_peermem == item.peermem);
    if (item.peermem) {
      auto text = test::file_text(dropin);
      // argv, no shell: "-" ignores a missing GPU driver, -q keeps modprobe quiet about it.
      CHECK_THAT(text, Catch::Contains("[Service]\nExecStartPost=-/sbin/modprobe -q nvidia-peermem\n"));
      CHECK(text.find("sh -c") == std::string::npos);
      CHECK(install::node_configured(root, node));
      CHECK_FALSE(install::node_configured(root, {true, false}));
      // A resize to an HB size: the next configure removes the drop-in.
      install::configure_node(root, {true, false}, to_journal);
      CHECK_FALSE(fs::exists(dropin));
      CHECK(install::node_configured(root, {true, false}));
    }
    // The udev-settle drop-in is every size's; the folder is shared.
    CHECK(fs::exists(dir.path() / "etc/systemd/system/openibd.service.d/ibdriver.conf"));
    install::restore_configuration(root, install::Journal::load(root)->record().configuration);
    CHECK_FALSE(fs::exists(dropin));
    CHECK_FALSE(fs::exists(dir.path() / "etc/systemd/system/openibd.service.d"));
  }
}
