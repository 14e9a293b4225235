// The boot-time repair unit: the packaged file and the one install writes are the same unit, it is
// enabled the way systemctl would, journaled, and removed again.
#include <fstream>

#include <catch2/catch.hpp>

#include "core/process.hpp"
#include "install/boot_unit.hpp"
#include "install/configure.hpp"
#include "support/fake_machine.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;

namespace {

// The changes' files of one action kind ("folder-created", or every other when `folders` is false).
std::vector<std::string> changed(const std::vector<install::ConfigChange>& changes, bool folders) {
  std::vector<std::string> files;
  for (const auto& change : changes) {
    if ((change.action == "folder-created") == folders) files.push_back(change.file);
  }
  return files;
}

}  // namespace

TEST_CASE("the unit install writes is the packaged unit, and systemd accepts it", "[install][boot-unit]") {
  auto packaged = fs::path(IBDRIVER_SOURCE_DIR) / "packaging/systemd/ibdriver-boot.service";
  CHECK(install::boot_unit_content() == test::file_text(packaged));
  CHECK_THAT(install::boot_unit_content("/opt/ibdriver/ibdriver"), Catch::Contains("ExecStart=/opt/ibdriver/ibdriver repair --quiet"));
  // systemd-analyze checks the syntax and the dependencies it can see (the man page ships with the package).
  test::TempDir dir;
  auto unit = dir.path() / "ibdriver-boot.service";
  std::ofstream(unit) << install::boot_unit_content("/bin/true");
  auto verified = run_process({"systemd-analyze", "verify", "--man=no", unit.string()});
  INFO(verified.out << verified.err);
  CHECK(verified.err.find("ibdriver-boot.service:") == std::string::npos);  // no complaint about our unit's lines
}

TEST_CASE("install writes and enables the unit where no package shipped it, and uninstall removes it", "[install][boot-unit]") {
  test::TempDir dir;
  SystemRoot root(dir.path());
  std::vector<install::ConfigChange> changes;
  CHECK_FALSE(install::boot_unit_installed(root));
  install::install_boot_unit(root, [&](const install::ConfigChange& change) {
    CHECK_FALSE(fs::exists(fs::symlink_status(dir.path() / change.file.substr(1))));  // recorded before it is made
    changes.push_back(change);
  });
  CHECK(changed(changes, false) == std::vector<std::string>{"/etc/systemd/system/ibdriver-boot.service",
                                                             "/etc/systemd/system/multi-user.target.wants/ibdriver-boot.service"});
  // The root was empty: every folder above them was made, outermost first, and recorded.
  CHECK(changed(changes, true) == std::vector<std::string>{"/etc", "/etc/systemd", "/etc/systemd/system",
                                                            "/etc/systemd/system/multi-user.target.wants"});
  // Not the system we run on: the unit names the packaged binary path.
  CHECK_THAT(test::file_text(dir.path() / "etc/systemd/system/ibdriver-boot.service"), Catch::Contains("ExecStart=/usr/sbin/ibdriver repair --quiet"));
  CHECK(fs::read_symlink(dir.path() / "etc/systemd/system/multi-user.target.wants/ibdriver-boot.service") ==
        "/etc/systemd/system/ibdriver-boot.service");
  CHECK_FALSE(install::boot_unit_installed(root));  // its program is not in this root
  test::FakeMachine(dir.path()).write("usr/sbin/ibdriver", "#!/bin/sh\n");
  fs::permissions(dir.path() / "usr/sbin/ibdriver", fs::perms(0755));
  CHECK(install::boot_unit_installed(root));
  auto recorded = changes.size();
  install::install_boot_unit(root, [&](const install::ConfigChange& change) { changes.push_back(change); });
  CHECK(changes.size() == recorded);  // a re-run changes nothing
  install::restore_configuration(root, changes);
  CHECK_FALSE(fs::exists(fs::symlink_status(dir.path() / "etc/systemd/system/multi-user.target.wants/ibdriver-boot.service")));
  CHECK_FALSE(fs::exists(dir.path() / "etc/systemd/system/ibdriver-boot.service"));
  CHECK_FALSE(fs::exists(dir.path() / "etc"));  // and the folders it made, empty again
}

TEST_CASE("a packaged unit is enabled, not copied", "[install][boot-unit]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.write("usr/lib/systemd/system/ibdriver-boot.service", install::boot_unit_content());
  SystemRoot root(dir.path());
  std::vector<install::ConfigChange> changes;
  install::install_boot_unit(root, [&](const install::ConfigChange& change) { changes.push_back(change); });
  CHECK(changed(changes, false) == std::vector<std::string>{"/etc/systemd/system/multi-user.target.wants/ibdriver-boot.service"});
  CHECK_FALSE(fs::exists(dir.path() / "etc/systemd/system/ibdriver-boot.service"));
  CHECK(fs::read_symlink(dir.path() / "etc/systemd/system/multi-user.target.wants/ibdriver-boot.service") ==
        "/usr/lib/systemd/system/ibdriver-boot.service");
}

namespace {
// An extension folder as the agent unpacks the zip: bin/ibdriver (here a script that answers --version).
fs::path agent_binary(const fs::path& root, const std::string& version, const std::string& says) {
  auto folder = root / ("var/lib/waagent/Microsoft.HpcCompute.InfiniBandDriverLinux-" + version);
  fs::create_directories(folder / "bin");
  std::ofstream(folder / "bin/ibdriver") << "#!/bin/sh\necho " << says << "\n";
  fs::permissions(folder / "bin/ibdriver", fs::perms(0755));
  return folder / "bin/ibdriver";
}

std::string unit_text(const fs::path& root) { return test::file_text(root / "etc/systemd/system/ibdriver-boot.service"); }
}  // namespace

TEST_CASE("the extension's binary is not what the boot unit runs: a journaled copy in /var/lib/ibdriver/bin is", "[install][boot-unit]") {
  test::TempDir dir;
  SystemRoot root(dir.path());
  auto running = agent_binary(dir.path(), "0.1.0.0", "ibdriver-one");
  std::vector<install::ConfigChange> changes;
  install::install_boot_unit(root, [&](const install::ConfigChange& change) { changes.push_back(change); }, running);
  CHECK_THAT(unit_text(dir.path()), Catch::Contains("ExecStart=/var/lib/ibdriver/bin/ibdriver repair --quiet"));
  CHECK(test::file_text(dir.path() / "var/lib/ibdriver/bin/ibdriver") == test::file_text(running));
  CHECK(changed(changes, false) == std::vector<std::string>{"/var/lib/ibdriver/bin/ibdriver",
                                                             "/etc/systemd/system/ibdriver-boot.service",
                                                             "/etc/systemd/system/multi-user.target.wants/ibdriver-boot.service"});
  CHECK(changed(changes, true) == std::vector<std::string>{"/var/lib/ibdriver", "/var/lib/ibdriver/bin", "/etc",
                                                            "/etc/systemd", "/etc/systemd/system",
                                                            "/etc/systemd/system/multi-user.target.wants"});
  CHECK(install::boot_unit_program(root) == std::string(install::kept_binary));
  CHECK(install::boot_unit_installed(root));
  // The agent deletes the extension folder on uninstall and update: the repair still has its program.
  fs::remove_all(dir.path() / "var/lib/waagent");
  CHECK(install::boot_unit_installed(root));
  // Uninstall removes the copy with the drivers.
  install::restore_configuration(root, changes);
  CHECK_FALSE(fs::exists(dir.path() / "var/lib/ibdriver/bin"));
  CHECK_FALSE(fs::exists(dir.path() / "etc/systemd/system/ibdriver-boot.service"));
}

TEST_CASE("the packaged /usr/sbin/ibdriver wins over a copy; an admin's binary is named as it is", "[install][boot-unit]") {
  test::TempDir dir;
  SystemRoot root(dir.path());
  auto running = agent_binary(dir.path(), "0.1.0.0", "ibdriver-one");
  test::FakeMachine machine(dir.path());
  machine.write("usr/sbin/ibdriver", "#!/bin/sh\n");
  fs::permissions(dir.path() / "usr/sbin/ibdriver", fs::perms(0755));
  install::install_boot_unit(root, [](const install::ConfigChange&) {}, running);
  CHECK_THAT(unit_text(dir.path()), Catch::Contains("ExecStart=/usr/sbin/ibdriver repair --quiet"));
  CHECK_FALSE(fs::exists(dir.path() / "var/lib/ibdriver/bin"));

  test::TempDir other;
  test::FakeMachine admin(other.path());
  admin.write("usr/local/bin/ibdriver", "#!/bin/sh\n");
  install::install_boot_unit(SystemRoot(other.path()), [](const install::ConfigChange&) {}, other.path() / "usr/local/bin/ibdriver");
  CHECK_THAT(unit_text(other.path()), Catch::Contains("ExecStart=/usr/local/bin/ibdriver repair --quiet"));
  CHECK_FALSE(fs::exists(other.path() / "var/lib/ibdriver/bin"));
}

TEST_CASE("a unit whose program is gone or not executable is not installed", "[install][boot-unit]") {
  test::TempDir dir;
  SystemRoot root(dir.path());
  test::FakeMachine machine(dir.path());
  // What an earlier version wrote: the binary inside its extension folder, which the agent then deleted.
  machine.write("etc/systemd/system/ibdriver-boot.service",
                install::boot_unit_content("/var/lib/waagent/Microsoft.HpcCompute.InfiniBandDriverLinux-0.0.9.0/bin/ibdriver"));
  fs::create_directories(dir.path() / "etc/systemd/system/multi-user.target.wants");
  fs::create_symlink("/etc/systemd/system/ibdriver-boot.service", dir.path() / "etc/systemd/system/multi-user.target.wants/ibdriver-boot.service");
  CHECK_FALSE(install::boot_unit_installed(root));
  auto old = agent_binary(dir.path(), "0.0.9.0", "ibdriver-old");
  CHECK(install::boot_unit_installed(root));
  fs::permissions(old, fs::perms(0644));
  CHECK_FALSE(install::boot_unit_installed(root));
}

TEST_CASE("an extension update moves the repair out of the old folder and refreshes the kept copy", "[install][boot-unit]") {
  test::TempDir dir;
  SystemRoot root(dir.path());
  test::FakeMachine machine(dir.path());
  auto old = agent_binary(dir.path(), "0.0.9.0", "ibdriver-old");
  machine.write("etc/systemd/system/ibdriver-boot.service", install::boot_unit_content("/var/lib/waagent/Microsoft.HpcCompute.InfiniBandDriverLinux-0.0.9.0/bin/ibdriver"));
  fs::create_directories(dir.path() / "etc/systemd/system/multi-user.target.wants");
  fs::create_symlink("/etc/systemd/system/ibdriver-boot.service", dir.path() / "etc/systemd/system/multi-user.target.wants/ibdriver-boot.service");
  std::vector<install::ConfigChange> changes;
  auto record = [&](const install::ConfigChange& change) { changes.push_back(change); };
  auto one = agent_binary(dir.path(), "0.1.0.0", "ibdriver-one");
  CHECK(install::refresh_boot_program(root, record, one));
  CHECK_THAT(unit_text(dir.path()), Catch::Contains("ExecStart=/var/lib/ibdriver/bin/ibdriver repair --quiet"));
  CHECK(test::file_text(dir.path() / "var/lib/ibdriver/bin/ibdriver") == test::file_text(one));
  fs::remove_all(old.parent_path().parent_path());
  CHECK(install::boot_unit_installed(root));
  // The next update refreshes the copy from the new version.
  auto two = agent_binary(dir.path(), "0.2.0.0", "ibdriver-two");
  CHECK(install::refresh_boot_program(root, record, two));
  CHECK(test::file_text(dir.path() / "var/lib/ibdriver/bin/ibdriver") == test::file_text(two));
  // Not from an extension folder (an admin running a copied binary), or a packaged unit: not ours to move.
  machine.write("usr/local/bin/ibdriver", "#!/bin/sh\n");
  CHECK_FALSE(install::refresh_boot_program(root, record, dir.path() / "usr/local/bin/ibdriver"));
  machine.write("usr/lib/systemd/system/ibdriver-boot.service", install::boot_unit_content());
  CHECK_FALSE(install::refresh_boot_program(root, record, two));
}

TEST_CASE("the unit's program is the first word of its ExecStart, without systemd's prefixes", "[install][boot-unit]") {
  CHECK(install::unit_exec_program(install::boot_unit_content()) == "/usr/sbin/ibdriver");
  CHECK(install::unit_exec_program("[Service]\n  ExecStart=-@/opt/x/ibdriver repair\nExecStart=/other\n") == "/opt/x/ibdriver");
  CHECK_FALSE(install::unit_exec_program("[Service]\nExecStart=\n").has_value());
  CHECK_FALSE(install::unit_exec_program("[Service]\nExecStop=/bin/true\n").has_value());
}
