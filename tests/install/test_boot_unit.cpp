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
