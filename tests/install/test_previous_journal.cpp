// A journal the previous release (6bdd87e, built by ci/previous-release) wrote in the Debian 12 chroot of
// ci/agent-test, through its extension: this version reads it, and an extension update moves the
// boot-time repair that release pointed into its own folder (which the agent deletes) to the kept copy.
#include <fstream>

#include <catch2/catch.hpp>

#include "core/files.hpp"
#include "install/boot_unit.hpp"
#include "install/configure.hpp"
#include "install/journal.hpp"
#include "support/fake_machine.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;

namespace {
const fs::path fixture = fs::path(IBDRIVER_TEST_FIXTURES) / "journal";
constexpr const char* old_binary = "/var/lib/waagent/Microsoft.HpcCompute.InfiniBandDriverLinux-0.0.9.0/bin/ibdriver";
}  // namespace

TEST_CASE("the previous release's journal is read by this version", "[install][journal]") {
  auto journal = install::Journal::parse(test::file_text(fixture / "state-6bdd87e.json"), "state-6bdd87e.json");
  CHECK(journal.release_file == "MLNX_OFED_LINUX-24.10-1.1.4.0-debian12.1-x86_64.tgz");
  CHECK(std::find(journal.packages.begin(), journal.packages.end(), "mlnx-ofed-hpc") != journal.packages.end());
  CHECK(journal.stage_done("configure"));
  REQUIRE(journal.module("mlnx-ofed-kernel") != nullptr);
  CHECK(journal.module("mlnx-ofed-kernel")->kernels.size() == 2);
  bool unit = std::any_of(journal.configuration.begin(), journal.configuration.end(), [](const auto& change) {
    return change.file == "/etc/systemd/system/ibdriver-boot.service" && change.action == "created";
  });
  CHECK(unit);
  // What that release's boot unit ran: its own extension folder's binary.
  CHECK(install::unit_exec_program(test::file_text(fixture / "ibdriver-boot.service-6bdd87e")) == old_binary);
}

TEST_CASE("updating from the previous release moves its boot repair to the kept copy, journaled", "[install][journal]") {
  test::TempDir dir;
  SystemRoot root(dir.path());
  test::FakeMachine machine(dir.path());
  machine.write("var/lib/ibdriver/state.json", test::file_text(fixture / "state-6bdd87e.json"));
  machine.write("etc/systemd/system/ibdriver-boot.service", test::file_text(fixture / "ibdriver-boot.service-6bdd87e"));
  fs::create_directories(dir.path() / "etc/systemd/system/multi-user.target.wants");
  fs::create_symlink("/etc/systemd/system/ibdriver-boot.service", dir.path() / "etc/systemd/system/multi-user.target.wants/ibdriver-boot.service");
  CHECK_FALSE(install::boot_unit_installed(root));  // the agent deleted the old folder
  machine.write("var/lib/waagent/Microsoft.HpcCompute.InfiniBandDriverLinux-0.1.0.0/bin/ibdriver", "#!/bin/sh\necho new\n");
  auto running = dir.path() / "var/lib/waagent/Microsoft.HpcCompute.InfiniBandDriverLinux-0.1.0.0/bin/ibdriver";
  fs::permissions(running, fs::perms(0755));
  auto journal = install::Journal::load(root);
  REQUIRE(journal);
  CHECK(install::refresh_boot_program(root, [&](const install::ConfigChange& change) { journal->add_config_change(change); }, running));
  CHECK(install::boot_unit_program(root) == std::string(install::kept_binary));
  CHECK(install::boot_unit_installed(root));
  // Uninstall (what `ibdriver uninstall` restores) removes the kept copy with the rest.
  auto saved = install::Journal::load(root);
  REQUIRE(saved);
  install::restore_configuration(root, saved->record().configuration);
  CHECK_FALSE(fs::exists(dir.path() / "var/lib/ibdriver/bin/ibdriver"));
  CHECK_FALSE(fs::exists(dir.path() / "etc/systemd/system/ibdriver-boot.service"));
}
