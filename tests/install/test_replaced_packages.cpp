// The distro packages a bundle upgrades in place (rdma-core, libibverbs...: real bundles ship them
// under the distro's names at higher versions): found before the upgrade, kept, put back on uninstall.
#include <fstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/process.hpp"
#include "core/text.hpp"
#include "install/local_repository.hpp"
#include "install/rpm_commands.hpp"
#include "install/rpm_package_manager.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;
using Names = std::vector<std::string>;

TEST_CASE("the names a dry run upgrades in place, from each front end's output", "[install][rpm][replaced]") {
  // dnf 4's table (a long name wrapped onto its own line, its columns below), as `dnf install --assumeno` prints it.
  const char* dnf = R"(Dependencies resolved.
================================================================================
 Package                     Arch     Version                 Repository   Size
================================================================================
Installing:
 mlnx-ofed-hpc               noarch   24.10-1.1.4.0           ibdriver    6.1 k
Upgrading:
 rdma-core                   x86_64   2410mlnx54-1.2410068    ibdriver     50 k
 libibverbs-utils-with-a-very-long-package-name
                             x86_64   2410mlnx54-1.2410068    ibdriver     70 k
 libibverbs                  x86_64   2410mlnx54-1.2410068    ibdriver    400 k
Installing dependencies:
 mlnx-tools                  x86_64   24.10-0.2410068         ibdriver     70 k

Transaction Summary
================================================================================
Install  2 Packages
Upgrade  3 Packages

Total size: 520 k
Operation aborted.
)";
  CHECK(install::replaced_in_transaction(install::RpmFrontEnd::dnf, dnf) ==
        Names{"rdma-core", "libibverbs-utils-with-a-very-long-package-name", "libibverbs"});
  // yum (EL7) says "Updating:"; tdnf does not indent its rows.
  CHECK(install::replaced_in_transaction(install::RpmFrontEnd::yum, "Updating:\n rdma-core x86_64 50mlnx1 ibdriver 50 k\n\n") ==
        Names{"rdma-core"});
  CHECK(install::replaced_in_transaction(install::RpmFrontEnd::tdnf,
                                         "Installing:\nmlnx-tools x86_64 24.10 ibdriver 70k\n\nUpgrading:\nrdma-core x86_64 2410mlnx54 ibdriver 1.2M\n"
                                         "libibumad x86_64 2410mlnx54 ibdriver 50k\n\nTotal installed size: 2M\n") ==
        Names{"rdma-core", "libibumad"});
  const char* zypper = R"(Loading repository data...
Reading installed packages...
Resolving package dependencies...

The following 2 packages are going to be upgraded:
  libibverbs1 rdma-core

The following NEW package is going to be installed:
  mlnx-ofed-hpc

2 packages to upgrade, 1 new.
)";
  CHECK(install::replaced_in_transaction(install::RpmFrontEnd::zypper, zypper) == Names{"libibverbs1", "rdma-core"});
  CHECK(install::replaced_in_transaction(install::RpmFrontEnd::dnf, "Installing:\n mlnx-tools x86_64 1 ibdriver 1 k\n").empty());
  // What the same transactions install anew (journaled before the real run).
  CHECK(install::installed_in_transaction(install::RpmFrontEnd::dnf, dnf) == Names{"mlnx-ofed-hpc", "mlnx-tools"});
  CHECK(install::installed_in_transaction(install::RpmFrontEnd::zypper, zypper) == Names{"mlnx-ofed-hpc"});
}

TEST_CASE("dry-run and downgrade command lines", "[install][rpm][replaced]") {
  install::RpmCommandContext dnf{install::RpmFrontEnd::dnf, "/r", "9", "/r/etc/yum.repos.d", "ibdriver"};
  auto dry = install::dry_run_install_command(dnf, {"mlnx-ofed-hpc"});
  CHECK(dry.front() == "dnf");
  CHECK(dry.at(1) == "--assumeno");
  CHECK(std::find(dry.begin(), dry.end(), "-y") == dry.end());  // -y would answer yes
  CHECK(dry.back() == "mlnx-ofed-hpc");
  install::RpmCommandContext zypper{install::RpmFrontEnd::zypper, "", "", "", "ibdriver"};
  auto zypper_dry = install::dry_run_install_command(zypper, {"mlnx-ofed-hpc"});
  CHECK(std::find(zypper_dry.begin(), zypper_dry.end(), "--dry-run") == std::find(zypper_dry.begin(), zypper_dry.end(), "install") + 1);
  auto down = install::downgrade_command(dnf, {"/var/lib/ibdriver/replaced/rdma-core-57.0-2.el9.x86_64.rpm"});
  CHECK(std::find(down.begin(), down.end(), "downgrade") != down.end());
  auto zypper_down = install::downgrade_command(zypper, {"/x/rdma-core-57.0-2.x86_64.rpm"});
  CHECK(std::find(zypper_down.begin(), zypper_down.end(), "--oldpackage") != zypper_down.end());
  CHECK(std::find(zypper_down.begin(), zypper_down.end(), "--no-gpg-checks") != zypper_down.end());
}

// Real dnf in an installroot: mlnx-tools 1 installed, a bundle with mlnx-tools 2 added. The dry run
// names it with its version, the file kept from dnf's cache brings it back after the upgrade.
TEST_CASE("dnf finds the package a bundle upgrades, keeps it and puts it back", "[install][rpm][dnf][replaced]") {
  REQUIRE(install::find_program("dnf").has_value());
  test::TempDir dir;
  auto root_dir = dir.path() / "root";
  SystemRoot root(root_dir);
  auto make_repo = [&](const std::string& version, const std::string& where) {
    auto out = root_dir / where.substr(1);
    auto result = run_process({"python3", std::string(IBDRIVER_TEST_FIXTURES) + "/make_rpm_repo.py", out.string(), "--version", version});
    INFO(result.err);
    REQUIRE(result.succeeded());
  };
  make_repo("24.10-1.1.4.0", "/var/lib/ibdriver/bundles/old/RPMS");
  make_repo("24.10-2.1.8.0", "/var/lib/ibdriver/bundles/new/RPMS");
  install::PackageManagerSettings settings;
  settings.lock_timeout = std::chrono::seconds(30);
  install::RpmPackageManager packages(install::RpmFrontEnd::dnf, root, settings, "9");
  packages.add_repository({"ibdriver", "/var/lib/ibdriver/bundles/old/RPMS"});
  packages.install({"mlnx-tools"});
  // Where dnf keeps a package with keepcache=1: the file to keep is found there.
  auto old_rpm = root_dir / "var/lib/ibdriver/bundles/old/RPMS/mlnx-tools-24.10.1.1.4.0-1.noarch.rpm";
  REQUIRE(fs::exists(old_rpm));
  fs::create_directories(root_dir / "var/cache/dnf/ibdriver-0123456789abcdef/packages");
  fs::copy_file(old_rpm, root_dir / "var/cache/dnf/ibdriver-0123456789abcdef/packages" / old_rpm.filename());

  packages.add_repository({"ibdriver", "/var/lib/ibdriver/bundles/new/RPMS"});  // the bundle
  // The real bundles' metapackages require their own versions (`>= ver`), which makes the upgrade;
  // here the version is named.
  auto replaced = packages.would_replace({"mlnx-tools-24.10.2.1.8.0"});
  REQUIRE(replaced.size() == 1);
  CHECK(replaced[0].name == "mlnx-tools");
  CHECK(replaced[0].version == "24.10.1.1.4.0-1");
  CHECK(replaced[0].architecture == "noarch");
  packages.keep_files(replaced, "/var/lib/ibdriver/replaced");
  CHECK(replaced[0].kept_file == "/var/lib/ibdriver/replaced/mlnx-tools-24.10.1.1.4.0-1.noarch.rpm");
  CHECK(fs::exists(root_dir / "var/lib/ibdriver/replaced/mlnx-tools-24.10.1.1.4.0-1.noarch.rpm"));

  packages.install_file("/var/lib/ibdriver/bundles/new/RPMS/mlnx-tools-24.10.2.1.8.0-1.noarch.rpm");  // the upgrade
  auto version = [&] {
    return std::string(text::trim(run_process({"rpm", "--root", root_dir.string(), "-q", "--qf", "%{VERSION}", "mlnx-tools"}).out));
  };
  CHECK(version() == "24.10.2.1.8.0");
  CHECK(packages.restore(replaced).empty());
  CHECK(version() == "24.10.1.1.4.0");
  // Nothing kept and no repository with it: named as not restorable.
  auto gone = replaced;
  gone[0].kept_file.clear();
  gone[0].version = "1.0-1";
  CHECK(packages.restore(gone) == Names{"mlnx-tools"});
}

TEST_CASE("excludepkgs= is added to the named section only, once per name, keeping the file's own lines", "[install][rpm][exclude]") {
  const std::string repo = "# AlmaLinux\n[baseos]\nname=AlmaLinux $releasever - BaseOS\nbaseurl=https://x/BaseOS\n\n[appstream]\nname=AppStream\n";
  CHECK(install::with_excluded_packages(repo, "baseos", {"libibverbs", "rdma-core"}) ==
        "# AlmaLinux\n[baseos]\nexcludepkgs=libibverbs rdma-core\nname=AlmaLinux $releasever - BaseOS\nbaseurl=https://x/BaseOS\n\n"
        "[appstream]\nname=AppStream\n");
  // An existing list (commas or spaces) is extended, never repeated.
  const std::string listed = "[baseos]\nname=b\nexcludepkgs=kernel*, rdma-core\n[x]\n";
  CHECK(install::with_excluded_packages(listed, "baseos", {"rdma-core", "libibverbs"}) == "[baseos]\nname=b\nexcludepkgs=kernel*, rdma-core libibverbs\n[x]\n");
  // An excludepkgs= of another section is not this one's; a file without the section is unchanged.
  CHECK(install::with_excluded_packages("[x]\nexcludepkgs=a\n[baseos]\nname=b", "baseos", {"c"}) == "[x]\nexcludepkgs=a\n[baseos]\nexcludepkgs=c\nname=b");
  CHECK(install::with_excluded_packages(repo, "extras", {"c"}) == repo);
  CHECK(install::with_excluded_packages("", "baseos", {"c"}).empty());
  CHECK(install::is_baseos_repository("baseos"));
  CHECK(install::is_baseos_repository("rhel-9-for-x86_64-baseos-rpms"));
  CHECK_FALSE(install::is_baseos_repository("appstream"));
}

// EL9: Alma/Rocky 9.8's libibverbs in baseos conflicts with the bundle's; Azure's images exclude the
// bundle's packages there. Real dnf: the "distribution" is a baseos repository holding the same names.
TEST_CASE("dnf: the bundle's packages that baseos also offers are excluded there, the edit journaled", "[install][rpm][dnf][exclude]") {
  REQUIRE(install::find_program("dnf").has_value());
  test::TempDir dir;
  auto root_dir = dir.path() / "root";
  SystemRoot root(root_dir);
  auto make_repo = [&](const std::string& version, const fs::path& out) {
    auto result = run_process({"python3", std::string(IBDRIVER_TEST_FIXTURES) + "/make_rpm_repo.py", out.string(), "--version", version});
    INFO(result.err);
    REQUIRE(result.succeeded());
  };
  make_repo("24.10-1.1.4.0", dir.path() / "baseos");
  make_repo("24.10-2.1.8.0", root_dir / "var/lib/ibdriver/bundles/new/RPMS");
  fs::create_directories(root_dir / "etc/yum.repos.d");
  const auto distro_repo = fmt::format("[baseos]\nname=AlmaLinux 9 - BaseOS\nbaseurl=file://{}\ngpgcheck=0\n\n[appstream]\nname=AppStream\n"
                                       "baseurl=file://{}/nothing-here\nenabled=0\n",
                                       (dir.path() / "baseos").string(), dir.path().string());
  std::ofstream(root_dir / "etc/yum.repos.d/almalinux-baseos.repo") << distro_repo;
  install::PackageManagerSettings settings;
  settings.lock_timeout = std::chrono::seconds(30);
  install::RpmPackageManager packages(install::RpmFrontEnd::dnf, root, settings, "9");
  auto sources = packages.add_repository({"ibdriver", "/var/lib/ibdriver/bundles/new/RPMS"});
  std::vector<install::ConfigChange> changes;
  auto excluded = packages.exclude_from_distribution(sources, [&](const install::ConfigChange& change) { changes.push_back(change); });
  CHECK(excluded == Names{"iser-dkms", "mlnx-ofa_kernel-dkms", "mlnx-ofed-hpc", "mlnx-tools"});
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].file == "/etc/yum.repos.d/almalinux-baseos.repo");
  CHECK(changes[0].action == "edited");
  CHECK(changes[0].original == distro_repo);
  CHECK_THAT(test::file_text(root_dir / "etc/yum.repos.d/almalinux-baseos.repo"),
             Catch::Contains("[baseos]\nexcludepkgs=iser-dkms mlnx-ofa_kernel-dkms mlnx-ofed-hpc mlnx-tools\n"));
  // dnf itself no longer offers them from baseos; a second call changes nothing.
  auto offered = run_process({"dnf", "-q", "--installroot=" + root_dir.string(), "--releasever=9",
                              "--setopt=reposdir=" + (root_dir / "etc/yum.repos.d").string(), "repoquery", "--disablerepo=*",
                              "--enablerepo=baseos", "--qf", "%{name}\n", "mlnx-tools"});
  CHECK(text::trim(offered.out).empty());
  changes.clear();
  CHECK(packages.exclude_from_distribution(sources, [&](const install::ConfigChange& change) { changes.push_back(change); }).empty());
  CHECK(changes.empty());
}
